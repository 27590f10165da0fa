// Validation shared by the schemes on R_q = Z_q[x]/(x^n + 1): the ring degree, the RNS primes of
// q, the plaintext modulus t, the error width σ and the gadget decomposition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cryptonets::rlwe {

// The most a parameter set may ask for, checked wherever parameters are read (parameter records,
// a profile's presets, Parameters::validate) before any table is built. Each context's tables
// (NTT tables, the base conversions to and from its auxiliary bases of about k + 1 primes) grow
// with n·k, and a parameter set builds one context per plaintext modulus, so a file of a few
// hundred bytes could otherwise ask for gigabytes (n = 2^17 with 64 primes: 1.2 GB a context).
// The caps stand well above everything the project ships or selects: the presets use n <= 16384,
// at most 9 primes and 2 moduli; parameter selection tries n <= 32768 (the HE standard's tables
// end there: lattice_estimate.cpp), at most 40 primes and a few moduli of <= 40 bits. At the caps a
// context takes about 180 MB, a whole parameter set about 1.5 GB.
inline constexpr size_t kMaxRingDegree = size_t{1} << 15;
inline constexpr size_t kMaxQPrimes = 40;
inline constexpr size_t kMaxPlaintextModuli = 8;

// Throws std::invalid_argument("<scheme> parameters: <the first problem found>"): n a power of two
// in [2, kMaxRingDegree = 2^15]; 1 to kMaxQPrimes (40) q_primes, distinct primes ≡ 1 (mod 2n) below
// 2^62; 2 <= t < 2^62 coprime to q with log2 q >= log2 t + 10; 0.5 < σ < 1000; decomposition_bits
// 0 (one digit per prime) or in [4, 62].
void validate_ring_parameters(const std::string& scheme, size_t n,
                              const std::vector<uint64_t>& q_primes, uint64_t t, double sigma,
                              int decomposition_bits);

// A short, stable identity of ring parameters: 64-bit FNV-1a over the words domain, n, k, q_1..q_k,
// t, the IEEE-754 bits of σ and decomposition_bits. `domain` separates schemes and format versions.
// It detects mistakes, not forgeries.
uint64_t parameter_fingerprint(uint64_t domain, size_t n, const std::vector<uint64_t>& q_primes,
                               uint64_t t, double sigma, int decomposition_bits);

// Σ log2 q_i.
double log2_of_product(const std::vector<uint64_t>& primes);

}  // namespace cryptonets::rlwe
