// ChaCha20 (RFC 8439) and the project's cryptographically secure generator built on it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "cryptonets/arith/simd.hpp"

namespace cryptonets {

// RFC 8439 §2.3: the ChaCha20 block function. key: 8 words, nonce: 3 words (little-endian words
// as the RFC lays them out). Writes the 64-byte keystream block for `counter`.
// Reference twin: none; RFC 8439's test vectors (tests/test_chacha20.cpp).
void chacha20_block(const std::array<uint32_t, 8>& key, uint32_t counter,
                    const std::array<uint32_t, 3>& nonce, std::array<uint8_t, 64>& out);

// Blocks first_block … first_block + count − 1 of the keystream that Prng reads: block i is
// chacha20_block(key, low32(i), {high32(i), 0, 0}, ·), written one after another (64·count
// bytes). The AVX2 and AVX-512 paths compute 8 or 16 blocks at once and write the same bytes.
// Throws std::invalid_argument if the CPU lacks `path` or the last index would pass 2^64 − 1.
void chacha20_blocks(const std::array<uint32_t, 8>& key, uint64_t first_block, size_t count,
                     uint8_t* out, SimdPath path = simd_path());

// A CSPRNG: the ChaCha20 keystream under a 256-bit key, read sequentially.
// Production code uses from_os_entropy(); insecure_seeded() exists for known-answer tests and
// reproducible experiments only and must never protect real data.
// Reference twin: chacha20_block, block after block.
class Prng {
 public:
  // Key from getrandom(2). Throws std::runtime_error if the OS cannot supply entropy.
  static Prng from_os_entropy();
  // INSECURE: a deterministic stream derived from a 64-bit seed, for tests and reproduction.
  static Prng insecure_seeded(uint64_t seed);

  void fill(std::span<uint8_t> out);
  uint32_t next_u32();
  uint64_t next_u64();
  bool is_seeded_insecurely() const { return insecure_; }
  // An independent generator keyed with the next 32 bytes of this stream (a fresh ChaCha20 key
  // from a CSPRNG is as good as one from the OS), for one thread of a parallel loop. The child
  // is insecure exactly when this generator is. Forking in a fixed order keeps seeded runs
  // reproducible whatever the thread count.
  Prng fork();

 private:
  Prng(const std::array<uint32_t, 8>& key, bool insecure);
  void refill();

  std::array<uint32_t, 8> key_;
  uint64_t block_counter_ = 0;  // the next block of chacha20_blocks' layout to compute
  // Keystream bytes [buffer_pos_, buffer_end_) not yet read: one block, or kBufferBlocks blocks
  // computed at once by the vector kernels (arith/simd.hpp); the stream is the same.
  static constexpr size_t kBufferBlocks = 16;
  std::array<uint8_t, 64 * kBufferBlocks> buffer_{};
  size_t buffer_pos_ = 0;
  size_t buffer_end_ = 0;
  bool insecure_;
};

}  // namespace cryptonets
