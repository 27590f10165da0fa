// ChaCha20 against the RFC 8439 known answers, and the Prng built on it.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/random/chacha20.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

// Bytes from hex text; any non-hex character (space, colon, newline) is a separator.
std::vector<uint8_t> from_hex(const std::string& text) {
  std::vector<uint8_t> bytes;
  int pending = -1;
  for (const char c : text) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) continue;
    if (pending < 0) {
      pending = digit;
    } else {
      bytes.push_back(static_cast<uint8_t>(pending * 16 + digit));
      pending = -1;
    }
  }
  REQUIRE(pending < 0);
  return bytes;
}

// RFC 8439 §2.3 reads key and nonce bytes as little-endian words.
template <size_t Words>
std::array<uint32_t, Words> words_le(const std::string& hex) {
  const std::vector<uint8_t> bytes = from_hex(hex);
  REQUIRE(bytes.size() == 4 * Words);
  std::array<uint32_t, Words> words{};
  for (size_t i = 0; i < Words; ++i) {
    for (size_t b = 0; b < 4; ++b)
      words[i] |= uint32_t{bytes[4 * i + b]} << (8 * b);
  }
  return words;
}

std::vector<uint8_t> block_bytes(const std::string& key, uint32_t counter,
                                 const std::string& nonce) {
  std::array<uint8_t, 64> out{};
  chacha20_block(words_le<8>(key), counter, words_le<3>(nonce), out);
  return {out.begin(), out.end()};
}

const std::string kSequentialKey =
    "00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:"
    "10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f";
const std::string kZeroKey(64, '0');
const std::string kZeroNonce(24, '0');

std::vector<uint8_t> stream(Prng& prng, size_t size) {
  std::vector<uint8_t> out(size);
  prng.fill(out);
  return out;
}

}  // namespace

TEST_CASE("ChaCha20 block matches RFC 8439 section 2.3.2") {
  const std::vector<uint8_t> expected = from_hex(
      "10 f1 e7 e4 d1 3b 59 15 50 0f dd 1f a3 20 71 c4"
      "c7 d1 f4 c7 33 c0 68 03 04 22 aa 9a c3 d4 6c 4e"
      "d2 82 64 46 07 9f aa 09 14 c2 d7 05 d9 8b 02 a2"
      "b5 12 9c d1 de 16 4e b9 cb d0 83 e8 a2 50 3c 4e");
  CHECK(block_bytes(kSequentialKey, 1, "00:00:00:09:00:00:00:4a:00:00:00:00") == expected);
}

TEST_CASE("ChaCha20 keystream encrypts the RFC 8439 section 2.4.2 sunscreen plaintext") {
  const std::string plaintext =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const std::vector<uint8_t> ciphertext = from_hex(
      "6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81"
      "e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b"
      "f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57"
      "16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8"
      "07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e"
      "52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36"
      "5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42"
      "87 4d");
  REQUIRE(plaintext.size() == 114);
  REQUIRE(ciphertext.size() == plaintext.size());
  // §2.4: block j of the keystream uses counter initial_counter + j (here 1, 2).
  std::vector<uint8_t> keystream;
  const std::string nonce = "00:00:00:00:00:00:00:4a:00:00:00:00";
  for (uint32_t counter : {1u, 2u}) {
    const std::vector<uint8_t> block = block_bytes(kSequentialKey, counter, nonce);
    keystream.insert(keystream.end(), block.begin(), block.end());
  }
  for (size_t i = 0; i < plaintext.size(); ++i) {
    CHECK((static_cast<uint8_t>(plaintext[i]) ^ keystream[i]) == ciphertext[i]);
  }
}

TEST_CASE("ChaCha20 block matches RFC 8439 appendix A.1 test vectors 1 to 5") {
  struct Vector {
    std::string key;
    uint32_t counter;
    std::string nonce;
    std::string block;
  };
  const std::string key_one = std::string(62, '0') + "01";
  const std::string key_ff = "00ff" + std::string(60, '0');
  const std::vector<Vector> vectors = {
      {kZeroKey, 0, kZeroNonce,
       "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
       "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"},
      {kZeroKey, 1, kZeroNonce,
       "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
       "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f"},
      {key_one, 1, kZeroNonce,
       "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
       "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0"},
      {key_ff, 2, kZeroNonce,
       "72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca"
       "13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096"},
      {kZeroKey, 0, std::string(22, '0') + "02",
       "c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7"
       "8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d"},
  };
  for (size_t i = 0; i < vectors.size(); ++i) {
    CAPTURE(i + 1);
    const Vector& v = vectors[i];
    CHECK(block_bytes(v.key, v.counter, v.nonce) == from_hex(v.block));
  }
}

TEST_CASE("Insecurely seeded streams are reproducible per seed and differ across seeds") {
  Prng a = Prng::insecure_seeded(42);
  Prng b = Prng::insecure_seeded(42);
  Prng c = Prng::insecure_seeded(43);
  Prng d = Prng::insecure_seeded(uint64_t{42} << 32);  // the high seed word matters too
  CHECK(a.is_seeded_insecurely());
  const std::vector<uint8_t> sa = stream(a, 1000);
  CHECK(sa == stream(b, 1000));
  CHECK(sa != stream(c, 1000));
  CHECK(sa != stream(d, 1000));
}

TEST_CASE("Prng stream is the ChaCha20 keystream of consecutive blocks") {
  // Reproduce the first blocks of a seeded stream from the documented key expansion:
  // key words 0-1 = seed, 2-7 = "cryptonets-insecure-prng", block i at counter i, nonce 0.
  const uint64_t seed = 0x0123456789abcdefULL;
  std::array<uint32_t, 8> key{};
  key[0] = static_cast<uint32_t>(seed);
  key[1] = static_cast<uint32_t>(seed >> 32);
  const char domain[] = "cryptonets-insecure-prng";
  std::memcpy(key.data() + 2, domain, 24);  // x86-64 is little-endian
  Prng prng = Prng::insecure_seeded(seed);
  const std::vector<uint8_t> got = stream(prng, 3 * 64);
  for (uint32_t block = 0; block < 3; ++block) {
    std::array<uint8_t, 64> expected{};
    chacha20_block(key, block, {0, 0, 0}, expected);
    CHECK(std::equal(expected.begin(), expected.end(), got.begin() + 64 * block));
  }
}

TEST_CASE("A long Prng stream repeats no 16-byte chunk") {
  Prng prng = Prng::insecure_seeded(7);
  const std::vector<uint8_t> s = stream(prng, 1 << 20);
  std::set<std::string> chunks;
  for (size_t i = 0; i < s.size(); i += 16) {
    chunks.emplace(reinterpret_cast<const char*>(s.data() + i), 16);
  }
  CHECK(chunks.size() == s.size() / 16);
}

TEST_CASE("Two generators from OS entropy produce different streams") {
  Prng a = Prng::from_os_entropy();
  Prng b = Prng::from_os_entropy();
  CHECK_FALSE(a.is_seeded_insecurely());
  CHECK(stream(a, 64) != stream(b, 64));
  CHECK(stream(a, 64) != std::vector<uint8_t>(64, 0));
}

TEST_CASE("next_u32 and next_u64 read the fill stream little-endian, across block borders") {
  Prng reference = Prng::insecure_seeded(99);
  const std::vector<uint8_t> bytes = stream(reference, 4096);
  auto le = [&](size_t offset, size_t size) {
    uint64_t v = 0;
    for (size_t i = 0; i < size; ++i)
      v |= uint64_t{bytes[offset + i]} << (8 * i);
    return v;
  };
  Prng prng = Prng::insecure_seeded(99);
  size_t offset = 0;
  // Mix odd-sized fills with word reads so that words straddle the 64-byte blocks.
  for (int round = 0; round < 100; ++round) {
    std::vector<uint8_t> skipped(static_cast<size_t>(round % 7));
    prng.fill(skipped);
    CHECK(std::equal(skipped.begin(), skipped.end(), bytes.begin() + offset));
    offset += skipped.size();
    CHECK(prng.next_u64() == le(offset, 8));
    offset += 8;
    CHECK(prng.next_u32() == le(offset, 4));
    offset += 4;
  }
  REQUIRE(offset <= bytes.size());
}

TEST_CASE("A forked generator is keyed by the parent's next 32 bytes and keeps its security mode") {
  Prng parent = Prng::insecure_seeded(5);
  Prng twin = Prng::insecure_seeded(5);
  Prng child = parent.fork();
  Prng child_twin = twin.fork();
  CHECK(child.is_seeded_insecurely());
  CHECK(child.next_u64() == child_twin.next_u64());
  CHECK(parent.next_u64() == twin.next_u64());  // the parent moved on by the same 32 bytes
  // The child's stream is not a continuation of the parent's.
  Prng fresh = Prng::insecure_seeded(5);
  std::array<uint8_t, 32> skipped;
  fresh.fill(skipped);
  CHECK(child.next_u64() != fresh.next_u64());
  CHECK_FALSE(Prng::from_os_entropy().fork().is_seeded_insecurely());
}

TEST_CASE(
    "Vector ChaCha20 paths write the same blocks as the scalar path, across counter carries") {
  std::array<uint32_t, 8> key;
  for (size_t i = 0; i < 8; ++i)
    key[i] = 0x9e3779b9u * static_cast<uint32_t>(i + 1);
  const uint64_t two32 = uint64_t{1} << 32;
  // Starts where the 32-bit RFC counter wraps inside a batch (the carry goes to nonce word 0).
  const uint64_t firsts[] = {0, 5, two32 - 7, two32 - 16, 3 * two32 - 1, UINT64_MAX - 39};
  const std::vector<cryptonets::SimdPath> paths = cryptonets::test::supported_vector_paths();
  for (const uint64_t first : firsts) {
    for (const size_t count : {1, 7, 8, 9, 16, 17, 40}) {
      std::vector<uint8_t> expected(64 * count);
      chacha20_blocks(key, first, count, expected.data(), cryptonets::SimdPath::scalar);
      // The scalar blocks are the RFC block function's.
      std::array<uint8_t, 64> block;
      chacha20_block(key, static_cast<uint32_t>(first), {static_cast<uint32_t>(first >> 32), 0, 0},
                     block);
      CHECK(std::equal(block.begin(), block.end(), expected.begin()));
      for (const cryptonets::SimdPath path : paths) {
        CAPTURE(first);
        CAPTURE(count);
        CAPTURE(cryptonets::to_string(path));
        std::vector<uint8_t> got(64 * count);
        chacha20_blocks(key, first, count, got.data(), path);
        CHECK(got == expected);
      }
    }
  }
  std::vector<uint8_t> out(64 * 2);
  CHECK_THROWS_AS(chacha20_blocks(key, UINT64_MAX, 2, out.data()), std::invalid_argument);
}

TEST_CASE("Prng streams, word reads and forks are the same on every SIMD path") {
  // One mixed read pattern per seed: odd-sized fills, words straddling block and batch borders,
  // a fork and the child's stream.
  auto record = [](uint64_t seed) {
    Prng prng = Prng::insecure_seeded(seed);
    std::vector<uint64_t> seen;
    for (int round = 0; round < 60; ++round) {
      std::vector<uint8_t> bytes(static_cast<size_t>((round * 37 + static_cast<int>(seed)) % 150));
      prng.fill(bytes);
      for (uint8_t b : bytes)
        seen.push_back(b);
      seen.push_back(prng.next_u64());
      seen.push_back(prng.next_u32());
      if (round % 20 == 7) {
        Prng child = prng.fork();
        for (int i = 0; i < 40; ++i)
          seen.push_back(child.next_u64());
      }
    }
    return seen;
  };
  const std::vector<cryptonets::SimdPath> paths = cryptonets::test::supported_vector_paths();
  for (uint64_t seed = 0; seed < 12; ++seed) {
    std::vector<uint64_t> expected;
    {
      const cryptonets::ScopedSimdPath scalar(cryptonets::SimdPath::scalar);
      expected = record(seed);
    }
    for (const cryptonets::SimdPath path : paths) {
      CAPTURE(seed);
      CAPTURE(cryptonets::to_string(path));
      const cryptonets::ScopedSimdPath forced(path);
      CHECK(record(seed) == expected);
    }
  }
}
