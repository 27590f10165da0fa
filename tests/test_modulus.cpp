// Word-size modular arithmetic checked against GMP on random and edge values.
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/reference.hpp"

using namespace cryptonets;

namespace {

mpz_class to_mpz(uint64_t x) {
  mpz_class r;
  mpz_import(r.get_mpz_t(), 1, -1, sizeof x, 0, 0, &x);
  return r;
}

uint64_t to_u64(const mpz_class& x) {
  uint64_t r = 0;
  size_t count = 0;
  mpz_export(&r, &count, -1, sizeof r, 0, 0, x.get_mpz_t());
  return r;
}

mpz_class mod(const mpz_class& a, uint64_t q) {
  mpz_class r;
  mpz_fdiv_r(r.get_mpz_t(), a.get_mpz_t(), to_mpz(q).get_mpz_t());
  return r;
}

// Moduli across the whole range, the largest allowed included, primes and composites.
std::vector<uint64_t> test_moduli() {
  std::vector<uint64_t> moduli = {2,
                                  3,
                                  17,
                                  65537,
                                  (uint64_t{1} << 31) - 1,
                                  (uint64_t{1} << 32) + 15,
                                  (uint64_t{1} << 61) - 1,
                                  (uint64_t{1} << 62) - 57,
                                  (uint64_t{1} << 62) - 1,
                                  1000000000000000000ull};
  for (int bits : {30, 40, 50, 55, 60, 62}) {
    for (uint64_t q : generate_ntt_primes(bits, 2, 2 * 16384))
      moduli.push_back(q);
  }
  return moduli;
}

std::vector<uint64_t> edge_and_random_values(uint64_t q, std::mt19937_64& rng) {
  std::vector<uint64_t> v;
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, q - 1, q / 2, q / 2 + 1, (q - 1) / 2})
    v.push_back(x % q);
  for (int i = 0; i < 200; ++i)
    v.push_back(rng() % q);
  return v;
}

}  // namespace

TEST_CASE("Modulus rejects values outside [2, 2^62)") {
  CHECK_THROWS_AS(Modulus(0), std::invalid_argument);
  CHECK_THROWS_AS(Modulus(1), std::invalid_argument);
  CHECK_THROWS_AS(Modulus(uint64_t{1} << 62), std::invalid_argument);
  CHECK_NOTHROW(Modulus((uint64_t{1} << 62) - 1));
  CHECK(Modulus((uint64_t{1} << 62) - 1).bits() == 62);
}

TEST_CASE("add, sub, neg, Barrett and Shoup multiplication equal GMP on random and edge values") {
  std::mt19937_64 rng(1);
  for (uint64_t qv : test_moduli()) {
    CAPTURE(qv);
    Modulus q(qv);
    auto values = edge_and_random_values(qv, rng);
    for (size_t i = 0; i < values.size(); ++i) {
      uint64_t a = values[i], b = values[(i * 7 + 3) % values.size()];
      mpz_class A = to_mpz(a), B = to_mpz(b);
      REQUIRE(add_mod(a, b, q) == to_u64(mod(A + B, qv)));
      REQUIRE(sub_mod(a, b, q) == to_u64(mod(A - B, qv)));
      REQUIRE(neg_mod(a, q) == to_u64(mod(-A, qv)));
      REQUIRE(mul_mod(a, b, q) == to_u64(mod(A * B, qv)));
      ShoupMultiplier w(b, q);
      REQUIRE(mul_shoup(a, w, qv) == to_u64(mod(A * B, qv)));
      // The lazy form accepts any 64-bit x and stays below 2q.
      uint64_t x = rng();
      uint64_t lazy = mul_shoup_lazy(x, w, qv);
      REQUIRE(lazy < 2 * qv);
      REQUIRE(lazy % qv == to_u64(mod(to_mpz(x) * B, qv)));
    }
  }
}

TEST_CASE("Barrett reduction of 64-bit and 128-bit values equals GMP") {
  std::mt19937_64 rng(2);
  for (uint64_t qv : test_moduli()) {
    CAPTURE(qv);
    Modulus q(qv);
    for (uint64_t x : {uint64_t{0}, uint64_t{1}, qv - 1, qv, qv + 1, ~uint64_t{0}}) {
      REQUIRE(q.reduce(x) == x % qv);
    }
    for (int i = 0; i < 500; ++i) {
      uint64_t x = rng();
      REQUIRE(q.reduce(x) == x % qv);
      // Any 128-bit value below 2^126 (covers (2^62)^2 products and sums of a few of them).
      u128 wide = (static_cast<u128>(rng() >> 2) << 64) | rng();
      uint64_t hi = static_cast<uint64_t>(wide >> 64), lo = static_cast<uint64_t>(wide);
      mpz_class W = to_mpz(hi) * to_mpz(uint64_t{1} << 32) * to_mpz(uint64_t{1} << 32) + to_mpz(lo);
      REQUIRE(q.reduce(wide) == to_u64(mod(W, qv)));
    }
    u128 largest_product = static_cast<u128>(qv - 1) * (qv - 1);
    REQUIRE(q.reduce(largest_product) == to_u64(mod(to_mpz(qv - 1) * to_mpz(qv - 1), qv)));
  }
}

TEST_CASE("pow_mod and inv_mod agree with GMP") {
  std::mt19937_64 rng(3);
  for (uint64_t qv : test_moduli()) {
    CAPTURE(qv);
    Modulus q(qv);
    for (int i = 0; i < 50; ++i) {
      uint64_t a = rng() % qv, e = rng();
      mpz_class expected;
      mpz_powm(expected.get_mpz_t(), to_mpz(a).get_mpz_t(), to_mpz(e).get_mpz_t(),
               to_mpz(qv).get_mpz_t());
      REQUIRE(pow_mod(a, e, q) == to_u64(expected));
      mpz_class g;
      mpz_gcd(g.get_mpz_t(), to_mpz(a).get_mpz_t(), to_mpz(qv).get_mpz_t());
      if (g == 1) {
        uint64_t inv = inv_mod(a, q);
        REQUIRE(mul_mod(a, inv, q) == 1 % qv);
      } else {
        REQUIRE_THROWS_AS(inv_mod(a, q), std::invalid_argument);
      }
    }
    REQUIRE(pow_mod(0, 0, q) == 1 % qv);
  }
}

TEST_CASE("signed values map to residues and back to centred representatives") {
  Modulus q((uint64_t{1} << 61) - 1);
  for (int64_t x : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{123456789}, int64_t{-987654321},
                    INT64_MIN, INT64_MAX}) {
    uint64_t r = from_signed(x, q);
    mpz_class expected = mod(mpz_class(std::to_string(x)), q.value());
    CHECK(r == to_u64(expected));
  }
  CHECK(to_centered(q.value() - 5, q) == -5);
  CHECK(to_centered(5, q) == 5);
}

TEST_CASE("lift_small equals from_signed on every |x| < q, edges included") {
  std::mt19937_64 rng(77);
  for (const uint64_t value : {uint64_t{3}, uint64_t{65537}, (uint64_t{1} << 55) - 55,
                               (uint64_t{1} << 61) - 1, (uint64_t{1} << 62) - 57}) {
    const Modulus q(value);
    const int64_t largest = static_cast<int64_t>(value - 1);
    std::vector<int64_t> xs = {0, 1, -1, largest, -largest};
    for (int k = 0; k < 2000; ++k)
      xs.push_back(static_cast<int64_t>(rng() % (2 * value - 1)) - largest);
    for (const int64_t x : xs) {
      CAPTURE(x);
      CHECK(lift_small(x, q) == from_signed(x, q));
    }
  }
}

TEST_CASE("The branch-free WideReducer equals GMP on random and edge 128-bit values") {
  std::mt19937_64 rng(91);
  for (const uint64_t q : test_moduli()) {
    const WideReducer reducer(q);
    std::vector<u128> xs = {0,
                            1,
                            q,
                            static_cast<u128>(q) * q - 1,
                            ~u128{0},
                            ~u128{0} - 1,
                            u128{1} << 64,
                            (u128{1} << 64) - 1};
    for (int k = 0; k < 500; ++k)
      xs.push_back((static_cast<u128>(rng()) << 64) | rng());
    for (const u128 x : xs) {
      const mpz_class big = to_mpz(static_cast<uint64_t>(x >> 64)) * to_mpz(uint64_t{1} << 32) *
                                to_mpz(uint64_t{1} << 32) +
                            to_mpz(static_cast<uint64_t>(x));
      CHECK(reducer.reduce(x) == to_u64(mod(big, q)));
    }
  }
}

TEST_CASE("Barrett, Shoup, WideReducer, pow_mod and inv_mod equal the library's GMP twins") {
  std::mt19937_64 rng(21);
  for (uint64_t qv : test_moduli()) {
    CAPTURE(qv);
    const Modulus q(qv);
    const WideReducer wide(qv);
    const auto values = edge_and_random_values(qv, rng);
    for (size_t i = 0; i < values.size(); ++i) {
      const uint64_t a = values[i], b = values[(i * 7 + 3) % values.size()];
      const u128 x = (static_cast<u128>(rng()) << 64) | rng();
      REQUIRE(mul_mod(a, b, q) == reference::mul_mod(a, b, qv));
      REQUIRE(mul_shoup(a, ShoupMultiplier(b, q), qv) == reference::mul_mod(a, b, qv));
      REQUIRE(q.reduce(x >> 2) == reference::reduce(x >> 2, qv));  // Barrett: x < 2^126
      REQUIRE(wide.reduce(x) == reference::reduce(x, qv));
      REQUIRE(pow_mod(a, b, q) == reference::pow_mod(a, b, qv));
      if (a != 0 && reference::inv_mod(a, qv) != 0)
        REQUIRE(inv_mod(a, q) == reference::inv_mod(a, qv));
    }
  }
}
