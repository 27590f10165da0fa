// 128-bit helpers shared by the word-size arithmetic.
#pragma once

#include <cstdint>

namespace cryptonets {

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

// High 64 bits of the 128-bit product a·b.
inline uint64_t mul_high(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>((static_cast<u128>(a) * b) >> 64);
}

}  // namespace cryptonets
