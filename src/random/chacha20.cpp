// ChaCha20 block function (RFC 8439 §2.1-§2.3) and the keystream generator built on it.
#include "cryptonets/random/chacha20.hpp"

#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cryptonets/arith/simd.hpp"

namespace cryptonets {

// The vector kernels (chacha20_simd.cpp): 8 or 16 consecutive blocks from block index `first`.
namespace chacha20_simd {
void blocks_avx2(const std::array<uint32_t, 8>& key, uint64_t first,
                 const std::array<uint32_t, 3>& nonce, uint8_t* out);
void blocks_avx512(const std::array<uint32_t, 8>& key, uint64_t first,
                   const std::array<uint32_t, 3>& nonce, uint8_t* out);
}  // namespace chacha20_simd

namespace {

// RFC 8439 §2.3: the words of "expand 32-byte k", read little-endian.
constexpr std::array<uint32_t, 4> kSigma = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

// RFC 8439 §2.1: the quarter round on four words of the state.
inline void quarter_round(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  a += b;
  d ^= a;
  d = std::rotl(d, 16);
  c += d;
  b ^= c;
  b = std::rotl(b, 12);
  a += b;
  d ^= a;
  d = std::rotl(d, 8);
  c += d;
  b ^= c;
  b = std::rotl(b, 7);
}

// RFC 8439 §2.3: 20 rounds as 10 double rounds (4 column rounds, then 4 diagonal rounds), add
// the input state, serialize each word little-endian.
void chacha20_block_to(const std::array<uint32_t, 8>& key, uint32_t counter,
                       const std::array<uint32_t, 3>& nonce, uint8_t* out) {
  // §2.3 state layout: words 0-3 constants, 4-11 key, 12 block counter, 13-15 nonce.
  std::array<uint32_t, 16> input;
  for (size_t i = 0; i < 4; ++i)
    input[i] = kSigma[i];
  for (size_t i = 0; i < 8; ++i)
    input[4 + i] = key[i];
  input[12] = counter;
  for (size_t i = 0; i < 3; ++i)
    input[13 + i] = nonce[i];

  std::array<uint32_t, 16> x = input;
  for (int double_round = 0; double_round < 10; ++double_round) {
    quarter_round(x[0], x[4], x[8], x[12]);  // columns
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);  // diagonals
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  for (size_t i = 0; i < 16; ++i) {
    const uint32_t word = x[i] + input[i];
    for (size_t byte = 0; byte < 4; ++byte)
      out[4 * i + byte] = static_cast<uint8_t>(word >> (8 * byte));
  }
}

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t load_le64(const uint8_t* p) {
  return uint64_t{load_le32(p)} | uint64_t{load_le32(p + 4)} << 32;
}

// getrandom(2) may return fewer bytes than asked or be interrupted by a signal: loop until done.
void os_random_bytes(uint8_t* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t got = getrandom(out + done, size - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("Prng::from_os_entropy: getrandom failed: ") +
                               std::strerror(errno));
    }
    done += static_cast<size_t>(got);
  }
}

}  // namespace

void chacha20_block(const std::array<uint32_t, 8>& key, uint32_t counter,
                    const std::array<uint32_t, 3>& nonce, std::array<uint8_t, 64>& out) {
  chacha20_block_to(key, counter, nonce, out.data());
}

Prng::Prng(const std::array<uint32_t, 8>& key, bool insecure) : key_(key), insecure_(insecure) {}

Prng Prng::from_os_entropy() {
  std::array<uint8_t, 32> bytes;
  os_random_bytes(bytes.data(), bytes.size());
  std::array<uint32_t, 8> key;
  for (size_t i = 0; i < 8; ++i)
    key[i] = load_le32(bytes.data() + 4 * i);
  explicit_bzero(bytes.data(), bytes.size());  // leave no copy of the key on the stack
  return Prng(key, false);
}

// Key expansion for reproducible streams: key words 0-1 hold the seed (low word first), words
// 2-7 the ASCII text "cryptonets-insecure-prng" (little-endian words) as a domain separator, so
// these keys never coincide with a short key used elsewhere (e.g. the all-zero RFC test keys).
// The key has only 64 bits of entropy: INSECURE by construction.
Prng Prng::insecure_seeded(uint64_t seed) {
  constexpr char kDomain[] = "cryptonets-insecure-prng";
  static_assert(sizeof(kDomain) - 1 == 24, "six key words of domain separation");
  std::array<uint32_t, 8> key;
  key[0] = static_cast<uint32_t>(seed);
  key[1] = static_cast<uint32_t>(seed >> 32);
  for (size_t i = 0; i < 6; ++i) {
    key[2 + i] = load_le32(reinterpret_cast<const uint8_t*>(kDomain) + 4 * i);
  }
  return Prng(key, true);
}

// Block i of the stream is chacha20_block(key, low32(i), {high32(i), 0, 0}) (chacha20_blocks): a
// 64-bit block index, so no (key, counter, nonce) triple is ever used twice.
Prng Prng::fork() {
  std::array<uint8_t, 32> bytes;
  fill(bytes);
  std::array<uint32_t, 8> key;
  for (size_t i = 0; i < 8; ++i)
    key[i] = load_le32(bytes.data() + 4 * i);
  explicit_bzero(bytes.data(), bytes.size());
  return Prng(key, insecure_);
}

void chacha20_blocks(const std::array<uint32_t, 8>& key, uint64_t first_block, size_t count,
                     uint8_t* out, SimdPath path) {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("chacha20_blocks: this CPU does not support the ") +
                                to_string(path) + " path");
  }
  if (count > 0 && first_block > UINT64_MAX - (count - 1)) {
    throw std::invalid_argument("chacha20_blocks: block index beyond 2^64 - 1");
  }
  const std::array<uint32_t, 3> nonce{};  // word 0 is replaced by high32(block) in each block
  size_t done = 0;
  if (path >= SimdPath::avx512) {
    for (; count - done >= 16; done += 16)
      chacha20_simd::blocks_avx512(key, first_block + done, nonce, out + 64 * done);
  }
  if (path >= SimdPath::avx2) {
    for (; count - done >= 8; done += 8)
      chacha20_simd::blocks_avx2(key, first_block + done, nonce, out + 64 * done);
  }
  for (; done < count; ++done) {
    const uint64_t block = first_block + done;
    chacha20_block_to(key, static_cast<uint32_t>(block), {static_cast<uint32_t>(block >> 32), 0, 0},
                      out + 64 * done);
  }
}

// The buffer is a window on the keystream: one block on the scalar path, kBufferBlocks blocks
// computed together on the vector paths. The stream is the same either way.
void Prng::refill() {
  const SimdPath path = simd_path();
  const size_t count = path == SimdPath::scalar ? 1 : kBufferBlocks;
  if (block_counter_ > UINT64_MAX - count) {
    throw std::runtime_error("Prng: keystream exhausted (2^64 blocks); re-key the generator");
  }
  chacha20_blocks(key_, block_counter_, count, buffer_.data(), path);
  block_counter_ += count;
  buffer_end_ = 64 * count;
  buffer_pos_ = 0;
}

void Prng::fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (buffer_pos_ == buffer_end_) refill();
    const size_t take = std::min(out.size() - done, buffer_end_ - buffer_pos_);
    std::memcpy(out.data() + done, buffer_.data() + buffer_pos_, take);
    buffer_pos_ += take;
    done += take;
  }
}

uint32_t Prng::next_u32() {
  if (buffer_pos_ == buffer_end_) refill();
  if (buffer_pos_ + 4 <= buffer_end_) {
    const uint32_t value = load_le32(buffer_.data() + buffer_pos_);
    buffer_pos_ += 4;
    return value;
  }
  std::array<uint8_t, 4> bytes;  // straddles two blocks after an odd-sized fill()
  fill(bytes);
  return load_le32(bytes.data());
}

uint64_t Prng::next_u64() {
  if (buffer_pos_ == buffer_end_) refill();
  if (buffer_pos_ + 8 <= buffer_end_) {
    const uint64_t value = load_le64(buffer_.data() + buffer_pos_);
    buffer_pos_ += 8;
    return value;
  }
  std::array<uint8_t, 8> bytes;  // straddles two blocks after an odd-sized fill()
  fill(bytes);
  return load_le64(bytes.data());
}

}  // namespace cryptonets
