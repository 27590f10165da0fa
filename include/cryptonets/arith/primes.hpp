// Number theory for NTT-friendly moduli.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets {

// Deterministic Miller-Rabin: exact for every 64-bit input (the first twelve prime bases suffice
// below 3.3·10^24; Sorenson and Webster 2015).
// Reference twin: reference::is_prime (arith/reference.hpp).
bool is_prime(uint64_t x);

// The `count` largest primes q of exactly `bits` bits (2^(bits-1) < q < 2^bits) with
// q ≡ 1 (mod congruence), in descending order, so that Z_q contains a primitive congruence-th root
// of unity. For the negacyclic NTT of degree n pass congruence = 2n. Throws std::invalid_argument
// if bits is outside [2, 62], congruence is 0, or fewer than `count` such primes exist.
// Reference twin: none; its properties are tested (prime, size, congruence, order).
std::vector<uint64_t> generate_ntt_primes(int bits, size_t count, uint64_t congruence);

// The smallest primitive `order`-th root of unity modulo the prime q, for a power-of-two order
// dividing q - 1. Throws std::invalid_argument otherwise.
// Reference twin: none; the exact order and small known cases are tested.
uint64_t minimal_primitive_root(uint64_t order, const Modulus& q);

}  // namespace cryptonets
