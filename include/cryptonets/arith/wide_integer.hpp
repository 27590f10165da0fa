// Conversions between 128-bit machine integers and GMP integers (exact, both directions).
#pragma once

#include <gmpxx.h>

#include <cstdint>

#include "cryptonets/arith/uint128.hpp"

namespace cryptonets {

static_assert(sizeof(unsigned long) == 8, "GMP word conversions assume 64-bit unsigned long");

inline mpz_class to_mpz(u128 x) {
  mpz_class high = static_cast<unsigned long>(static_cast<uint64_t>(x >> 64));
  return (high << 64) + static_cast<unsigned long>(static_cast<uint64_t>(x));
}

inline mpz_class to_mpz(i128 x) {
  // The magnitude as unsigned: -x overflows for x = -2^127, its unsigned negation does not.
  const u128 magnitude = x < 0 ? -static_cast<u128>(x) : static_cast<u128>(x);
  const mpz_class result = to_mpz(magnitude);
  return x < 0 ? mpz_class(-result) : result;
}

}  // namespace cryptonets
