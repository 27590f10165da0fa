// SHA-256 against the FIPS 180-4 example vectors (NIST "Cryptographic Standards and Guidelines:
// Examples with Intermediate Values", SHA-256), and incremental hashing against one-shot hashing.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cryptonets/io/sha256.hpp"

using namespace cryptonets;

namespace {

std::span<const uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string hash_hex(const std::string& text) {
  return to_hex(sha256(bytes_of(text)));
}

}  // namespace

TEST_CASE("SHA-256 of \"abc\" is the FIPS 180-4 one-block example") {
  CHECK(hash_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("SHA-256 of the 448-bit message is the FIPS 180-4 two-block example") {
  CHECK(hash_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("SHA-256 of the 896-bit message and of the empty message match the NIST examples") {
  CHECK(
      hash_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqkl"
               "mnopqrlmnopqrsmnopqrstnopqrstu") ==
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  CHECK(hash_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("SHA-256 of one million 'a' fed in uneven pieces matches the NIST long-message example") {
  const std::string chunk(777, 'a');  // 777 does not divide the 64-byte block: exercises buffering
  Sha256 hash;
  size_t fed = 0;
  while (fed + chunk.size() <= 1000000) {
    hash.update(bytes_of(chunk));
    fed += chunk.size();
  }
  hash.update(bytes_of(std::string(1000000 - fed, 'a')));
  CHECK(to_hex(hash.digest()) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("Incremental SHA-256 equals one-shot SHA-256 for every split of random messages") {
  std::mt19937_64 rng(20240601);
  for (size_t length = 0; length <= 200; length += 7) {
    std::vector<uint8_t> message(length);
    for (uint8_t& byte : message)
      byte = static_cast<uint8_t>(rng());
    const Sha256::Digest expected = sha256(message);
    for (size_t split = 0; split <= length; ++split) {
      Sha256 hash;
      hash.update(std::span(message).first(split));
      hash.update(std::span(message).subspan(split));
      REQUIRE(hash.digest() == expected);
    }
  }
}
