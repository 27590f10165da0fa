#include "cryptonets/rlwe/parameters.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <set>
#include <stdexcept>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"

namespace cryptonets::rlwe {

uint64_t parameter_fingerprint(uint64_t domain, size_t n, const std::vector<uint64_t>& q_primes,
                               uint64_t t, double sigma, int decomposition_bits) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis
  auto mix = [&h](uint64_t word) {
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (word >> (8 * byte)) & 0xff;
      h *= 0x100000001b3ull;  // FNV prime
    }
  };
  mix(domain);
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

double log2_of_product(const std::vector<uint64_t>& primes) {
  double bits = 0;
  for (uint64_t p : primes)
    bits += std::log2(static_cast<double>(p));
  return bits;
}

void validate_ring_parameters(const std::string& scheme, size_t n,
                              const std::vector<uint64_t>& q_primes, uint64_t t, double sigma,
                              int decomposition_bits) {
  const auto fail = [&scheme](const std::string& what) {
    throw std::invalid_argument(scheme + " parameters: " + what);
  };
  if (n < 2 || !std::has_single_bit(n) || n > kMaxRingDegree) {
    fail("n = " + std::to_string(n) +
         " must be a power of two in [2, 2^15] (the largest ring degree this build supports, "
         "32768)");
  }
  if (q_primes.empty()) fail("q needs at least one prime");
  if (q_primes.size() > kMaxQPrimes) {
    fail("q has " + std::to_string(q_primes.size()) + " primes, more than the " +
         std::to_string(kMaxQPrimes) + " this build supports");
  }
  std::set<uint64_t> seen;
  for (uint64_t q : q_primes) {
    if (q < 3 || q >> Modulus::kMaxBits != 0) {
      fail("q prime " + std::to_string(q) + " must lie in [3, 2^62)");
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
  if (log2_of_product(q_primes) < std::log2(static_cast<double>(t)) + 10) {
    fail("q must exceed t by far (log2 q = " + std::to_string(log2_of_product(q_primes)) + ")");
  }
  if (!(sigma > 0.5 && sigma < 1000)) {
    // %g: std::to_string writes every digit (a corrupt 1e300 in 301 of them) and 0.000000 for 1e-9.
    char text[32];
    std::snprintf(text, sizeof text, "%g", sigma);
    fail(std::string("sigma = ") + text + " is out of range: it must lie in (0.5, 1000)");
  }
  if (decomposition_bits < 0 || decomposition_bits > Modulus::kMaxBits) {
    fail("decomposition_bits = " + std::to_string(decomposition_bits) + " must be in [0, 62]");
  }
  if (decomposition_bits != 0 && decomposition_bits < 4) {
    fail("decomposition_bits = " + std::to_string(decomposition_bits) +
         " is too small (at least 4, or 0 for whole RNS digits)");
  }
}

}  // namespace cryptonets::rlwe
