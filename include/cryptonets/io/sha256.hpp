// SHA-256 (FIPS 180-4 §6.2), used to check that data files are the ones their SHA256SUMS name.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace cryptonets {

// Incremental SHA-256: update() any number of times, then digest() once.
// Reference twin: none in the library; the standard's published example digests and a one-shot /
// incremental comparison (tests/test_sha256.cpp), and sha256sum(1) on the data files.
class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();
  void update(std::span<const uint8_t> bytes);
  // Pads the message (FIPS 180-4 §5.1.1) and returns the hash; the object is spent afterwards.
  Digest digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t block_fill_ = 0;
  uint64_t message_bytes_ = 0;
  bool finished_ = false;
};

Sha256::Digest sha256(std::span<const uint8_t> bytes);

// Lower-case hexadecimal, the form sha256sum(1) prints.
std::string to_hex(const Sha256::Digest& digest);

}  // namespace cryptonets
