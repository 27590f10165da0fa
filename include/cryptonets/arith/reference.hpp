// Slow, obviously-correct twins of the word-size arithmetic, in GMP: what the fast routines of
// modulus.hpp and primes.hpp must equal (tests/test_modulus.cpp, test_primes.cpp), kept for audit.
#pragma once

#include <cstdint>

#include "cryptonets/arith/uint128.hpp"

namespace cryptonets::reference {

// x mod q for any 128-bit x (twin of Modulus::reduce and WideReducer::reduce), q >= 1.
uint64_t reduce(u128 x, uint64_t q);
// a·b mod q (twin of mul_mod, mul_shoup).
uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t q);
// base^exponent mod q (twin of pow_mod), mpz_powm.
uint64_t pow_mod(uint64_t base, uint64_t exponent, uint64_t q);
// a^-1 mod q, or 0 when gcd(a, q) != 1 (twin of inv_mod), mpz_invert.
uint64_t inv_mod(uint64_t a, uint64_t q);
// Primality by GMP's mpz_probab_prime_p with 50 rounds (twin of is_prime): "probably prime" is
// taken as prime (GMP's documented error bound is below 4^-50 for a composite).
bool is_prime(uint64_t x);

}  // namespace cryptonets::reference
