#include "cryptonets/yashe/parameters.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/rlwe/parameters.hpp"

namespace cryptonets::yashe {

void Parameters::validate() const {
  rlwe::validate_ring_parameters("YASHE", n, q_primes, t, sigma, decomposition_bits);
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
  // "YASHE-p1": domain separation and format version
  return rlwe::parameter_fingerprint(0x59415348452d7031ull, n, q_primes, t, sigma,
                                     decomposition_bits);
}

double Parameters::log2_q() const {
  return rlwe::log2_of_product(q_primes);
}

std::string Parameters::describe() const {
  std::ostringstream out;
  out << "n = " << n << ", log2 q = " << std::lround(log2_q() * 10) / 10.0 << " ("
      << q_primes.size() << " primes), t = " << t << " (" << std::log2(static_cast<double>(t))
      << " bits), sigma = " << sigma << ", key switching: "
      << (decomposition_bits == 0 ? std::string("one digit per RNS prime")
                                  : "base 2^" + std::to_string(decomposition_bits) + " digits");
  return out.str();
}

}  // namespace cryptonets::yashe
