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

namespace cryptonets::yashe {

namespace {

void fail(const std::string& what) {
  throw std::invalid_argument("YASHE parameters: " + what);
}

}  // namespace

void Parameters::validate() const {
  if (n < 2 || !std::has_single_bit(n) || n > (size_t{1} << 17)) {
    fail("n = " + std::to_string(n) + " must be a power of two in [2, 2^17]");
  }
  if (q_primes.empty()) fail("q needs at least one prime");
  std::set<uint64_t> seen;
  for (uint64_t q : q_primes) {
    if (q < 3 || q >> Modulus::kMaxBits != 0) {
      fail("q prime " + std::to_string(q) + " must be below 2^62");
    }
    if (!is_prime(q)) fail("q factor " + std::to_string(q) + " is not prime");
    if (q % (2 * n) != 1) {
      fail("q prime " + std::to_string(q) + " is not ≡ 1 (mod 2n = " + std::to_string(2 * n) +
           "), so it has no negacyclic NTT");
    }
    if (!seen.insert(q).second) fail("q prime " + std::to_string(q) + " appears twice");
  }
  if (t < 2 || t >> Modulus::kMaxBits != 0) {
    fail("t = " + std::to_string(t) + " must lie in [2, 2^62)");
  }
  for (uint64_t q : q_primes) {
    if (std::gcd(q, t) != 1) fail("t = " + std::to_string(t) + " is not coprime to q");
  }
  if (log2_q() < std::log2(static_cast<double>(t)) + 10) {
    fail("q must exceed t by far (log2 q = " + std::to_string(log2_q()) + ")");
  }
  if (!(sigma > 0.5 && sigma < 1000)) fail("sigma = " + std::to_string(sigma) + " is out of range");
  if (decomposition_bits < 0 || decomposition_bits > Modulus::kMaxBits) {
    fail("decomposition_bits = " + std::to_string(decomposition_bits) + " must be in [0, 62]");
  }
  if (decomposition_bits != 0 && decomposition_bits < 4) {
    fail("decomposition_bits = " + std::to_string(decomposition_bits) +
         " is too small (at least 4, or 0 for whole RNS digits)");
  }
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
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis
  auto mix = [&h](uint64_t word) {
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (word >> (8 * byte)) & 0xff;
      h *= 0x100000001b3ull;  // FNV prime
    }
  };
  mix(0x59415348452d7031ull);  // "YASHE-p1": domain separation and format version
  mix(n);
  mix(q_primes.size());
  for (uint64_t q : q_primes)
    mix(q);
  mix(t);
  uint64_t sigma_bits;
  std::memcpy(&sigma_bits, &sigma, sizeof sigma_bits);
  mix(sigma_bits);
  mix(static_cast<uint64_t>(decomposition_bits));
  return h;
}

double Parameters::log2_q() const {
  double bits = 0;
  for (uint64_t q : q_primes)
    bits += std::log2(static_cast<double>(q));
  return bits;
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
