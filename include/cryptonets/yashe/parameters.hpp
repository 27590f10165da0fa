// Parameters of YASHE' (Bos, Lauter, Loftus, Naehrig, "Improved Security for a Ring-Based Fully
// Homomorphic Encryption Scheme", IMA CC 2013, §4): the ring R = Z[x]/(x^n + 1), the ciphertext
// modulus q (here an RNS product of word primes), the plaintext modulus t, the error width σ and
// the key-switching decomposition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cryptonets::yashe {

struct Parameters {
  size_t n = 0;                    // ring degree, a power of two in [2, 2^15]
  std::vector<uint64_t> q_primes;  // q = Π q_i; each prime ≡ 1 (mod 2n), below 2^62
  uint64_t t = 0;                  // plaintext modulus, coprime to q, 2 <= t < 2^62
  double sigma = 3.2;              // standard deviation of the discrete Gaussian error χ_err
  // Key switching writes each RNS digit [c·q̂_i^-1]_{q_i} in base 2^decomposition_bits
  // (0: one digit per prime). Smaller digits: less key-switching noise, larger keys, slower.
  int decomposition_bits = 0;

  // Throws std::invalid_argument ("YASHE parameters: ...") naming the first problem found; the
  // rules are rlwe::validate_ring_parameters' (also log2 q >= log2 t + 10, 0.5 < σ < 1000,
  // decomposition_bits 0 or in [4, 62]), with the bound on what a parameter set may ask for,
  // stated with its reason there: n <= rlwe::kMaxRingDegree (2^15), at most rlwe::kMaxQPrimes (40)
  // primes of q; a set of contexts at most rlwe::kMaxPlaintextModuli (8) plaintext moduli.
  void validate() const;

  // n, `count` primes of `bits` bits for q (the largest NTT primes of that size) and t, validated
  // (std::invalid_argument, from generate_ntt_primes or validate).
  static Parameters create(size_t n, size_t count, int bits, uint64_t t);

  // A short, stable identity of the parameters (64-bit FNV-1a over their canonical encoding),
  // stored in every key and ciphertext file so that mismatches are caught on load. It detects
  // mistakes, not forgeries.
  uint64_t fingerprint() const;

  double log2_q() const;
  std::string describe() const;  // one line: n, log2 q, primes, t, σ, decomposition

  bool operator==(const Parameters&) const = default;
};

}  // namespace cryptonets::yashe
