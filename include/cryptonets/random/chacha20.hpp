// ChaCha20 (RFC 8439) and the project's cryptographically secure generator built on it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace cryptonets {

// RFC 8439 §2.3: the ChaCha20 block function. key: 8 words, nonce: 3 words (little-endian words
// as the RFC lays them out). Writes the 64-byte keystream block for `counter`.
// Reference twin: none; RFC 8439's test vectors (tests/test_chacha20.cpp).
void chacha20_block(const std::array<uint32_t, 8>& key, uint32_t counter,
                    const std::array<uint32_t, 3>& nonce, std::array<uint8_t, 64>& out);

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
  std::array<uint32_t, 3> nonce_{};
  uint64_t block_counter_ = 0;  // 64-bit block position: the low 32 bits feed the RFC counter,
                                // the high 32 bits the first nonce word
  std::array<uint8_t, 64> buffer_{};
  size_t buffer_pos_ = 64;
  bool insecure_;
};

}  // namespace cryptonets
