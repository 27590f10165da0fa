// SHA-256 written from FIPS 180-4 (August 2015); section numbers refer to that standard.
#include "cryptonets/io/sha256.hpp"

#include <bit>
#include <cassert>
#include <cstring>

namespace cryptonets {
namespace {

// §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr std::array<uint32_t, 64> kRoundConstants = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// §5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
constexpr std::array<uint32_t, 8> kInitialHash = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// §4.1.2, functions (4.2)–(4.7).
constexpr uint32_t choose(uint32_t x, uint32_t y, uint32_t z) {
  return (x & y) ^ (~x & z);
}
constexpr uint32_t majority(uint32_t x, uint32_t y, uint32_t z) {
  return (x & y) ^ (x & z) ^ (y & z);
}
constexpr uint32_t big_sigma0(uint32_t x) {
  return std::rotr(x, 2) ^ std::rotr(x, 13) ^ std::rotr(x, 22);
}
constexpr uint32_t big_sigma1(uint32_t x) {
  return std::rotr(x, 6) ^ std::rotr(x, 11) ^ std::rotr(x, 25);
}
constexpr uint32_t small_sigma0(uint32_t x) {
  return std::rotr(x, 7) ^ std::rotr(x, 18) ^ (x >> 3);
}
constexpr uint32_t small_sigma1(uint32_t x) {
  return std::rotr(x, 17) ^ std::rotr(x, 19) ^ (x >> 10);
}

uint32_t load_big_endian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Sha256::Sha256() : state_(kInitialHash) {}

// §6.2.2: the hash computation for one 512-bit block.
void Sha256::compress(const uint8_t* block) {
  std::array<uint32_t, 64> schedule;  // W_t, step 1
  for (int t = 0; t < 16; ++t)
    schedule[t] = load_big_endian(block + 4 * t);
  for (int t = 16; t < 64; ++t) {
    schedule[t] = small_sigma1(schedule[t - 2]) + schedule[t - 7] + small_sigma0(schedule[t - 15]) +
                  schedule[t - 16];
  }
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  uint32_t e = state_[4], f = state_[5], g = state_[6], h = state_[7];
  for (int t = 0; t < 64; ++t) {  // step 3
    const uint32_t t1 = h + big_sigma1(e) + choose(e, f, g) + kRoundConstants[t] + schedule[t];
    const uint32_t t2 = big_sigma0(a) + majority(a, b, c);
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state_[0] += a;  // step 4
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
  state_[4] += e;
  state_[5] += f;
  state_[6] += g;
  state_[7] += h;
}

void Sha256::update(std::span<const uint8_t> bytes) {
  assert(!finished_ && "Sha256::update after digest()");
  message_bytes_ += bytes.size();
  size_t pos = 0;
  if (block_fill_ > 0) {
    const size_t take = std::min(bytes.size(), block_.size() - block_fill_);
    std::memcpy(block_.data() + block_fill_, bytes.data(), take);
    block_fill_ += take;
    pos = take;
    if (block_fill_ < block_.size()) return;
    compress(block_.data());
    block_fill_ = 0;
  }
  for (; pos + 64 <= bytes.size(); pos += 64)
    compress(bytes.data() + pos);
  if (pos < bytes.size()) std::memcpy(block_.data(), bytes.data() + pos, bytes.size() - pos);
  block_fill_ = bytes.size() - pos;
}

Sha256::Digest Sha256::digest() {
  assert(!finished_ && "Sha256::digest called twice");
  // §5.1.1: append bit 1, zeros up to 448 mod 512 bits, then the message length in bits (64-bit
  // big-endian).
  const uint64_t message_bits = message_bytes_ * 8;
  const uint8_t one_bit = 0x80;
  update({&one_bit, 1});
  const uint8_t zero = 0;
  while (block_fill_ != 56)
    update({&zero, 1});
  std::array<uint8_t, 8> length;
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(message_bits >> (56 - 8 * i));
  update(length);
  assert(block_fill_ == 0);
  finished_ = true;

  Digest digest;  // §6.2.2: H(N) as eight big-endian words
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k < 4; ++k)
      digest[4 * i + k] = static_cast<uint8_t>(state_[i] >> (24 - 8 * k));
  }
  return digest;
}

Sha256::Digest sha256(std::span<const uint8_t> bytes) {
  Sha256 hash;
  hash.update(bytes);
  return hash.digest();
}

std::string to_hex(const Sha256::Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest.size());
  for (const uint8_t byte : digest) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 0xf]);
  }
  return hex;
}

}  // namespace cryptonets
