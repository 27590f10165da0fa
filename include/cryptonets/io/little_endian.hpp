// Little-endian integers of 1 to 8 bytes, the byte order of every binary file format here.
#pragma once

#include <cstdint>

namespace cryptonets {

inline void store_le(uint8_t* bytes, uint64_t value, int size) {
  for (int i = 0; i < size; ++i)
    bytes[i] = static_cast<uint8_t>(value >> (8 * i));
}

inline uint64_t load_le(const uint8_t* bytes, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i)
    value |= uint64_t{bytes[i]} << (8 * i);
  return value;
}

}  // namespace cryptonets
