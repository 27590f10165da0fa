#include "cryptonets/bfv/parameters.hpp"

#include <cmath>
#include <cstring>
#include <sstream>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/rlwe/parameters.hpp"

namespace cryptonets::bfv {

void Parameters::validate() const {
  rlwe::validate_ring_parameters("BFV", n, q_primes, t, sigma, decomposition_bits);
}

Parameters Parameters::create(size_t n, size_t count, int bits, uint64_t t) {
  Parameters p;
  p.n = n;
  p.q_primes = generate_ntt_primes(bits, count, 2 * n);
  p.t = t;
  p.validate();
  return p;
}

uint64_t Parameters::fingerprint() const {
  // "BFV-p1  ": domain separation from YASHE' and format version
  return rlwe::parameter_fingerprint(0x4246562d70312020ull, n, q_primes, t, sigma,
                                     decomposition_bits);
}

double Parameters::log2_q() const {
  return rlwe::log2_of_product(q_primes);
}

std::string Parameters::describe() const {
  std::ostringstream out;
  out << "BFV: n = " << n << ", log2 q = " << std::lround(log2_q() * 10) / 10.0 << " ("
      << q_primes.size() << " primes), t = " << t << " (" << std::log2(static_cast<double>(t))
      << " bits), sigma = " << sigma << ", ternary secret, relinearisation: "
      << (decomposition_bits == 0 ? std::string("one digit per RNS prime")
                                  : "base 2^" + std::to_string(decomposition_bits) + " digits");
  return out.str();
}

}  // namespace cryptonets::bfv
