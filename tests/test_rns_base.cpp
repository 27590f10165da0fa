// RNS bases: CRT decomposition and composition checked against GMP on random and edge values.
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <initializer_list>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/rns_base.hpp"

using namespace cryptonets;

namespace {

// Primes of mixed sizes from 50 to 62 bits, ≡ 1 (mod 2·16384) like the ones the scheme uses.
std::vector<std::vector<uint64_t>> test_bases() {
  const uint64_t congruence = 2 * 16384;
  auto concat = [&](std::initializer_list<std::pair<int, size_t>> parts) {
    std::vector<uint64_t> primes;
    for (auto [bits, count] : parts) {
      for (uint64_t q : generate_ntt_primes(bits, count, congruence))
        primes.push_back(q);
    }
    return primes;
  };
  return {
      concat({{62, 6}}),                    // 372 bits, the largest primes allowed
      concat({{60, 4}, {55, 2}, {50, 1}}),  // 7 primes, ~400 bits
      concat({{50, 2}, {58, 3}, {61, 3}}),  // 8 primes, ~457 bits
      concat({{30, 1}}),                    // a single prime: the CRT degenerates to mod q
  };
}

mpz_class floor_mod(const mpz_class& x, const mpz_class& m) {
  mpz_class r;
  mpz_fdiv_r(r.get_mpz_t(), x.get_mpz_t(), m.get_mpz_t());
  return r;
}

mpz_class centered_mod(const mpz_class& x, const mpz_class& m) {
  mpz_class r = floor_mod(x, m);
  if (2 * r > m) r -= m;
  return r;
}

// Edge values around 0, ±Q/2 and ±Q, plus random values of both signs from tiny to beyond Q^2.
std::vector<mpz_class> interesting_values(const mpz_class& q, gmp_randclass& rng) {
  const mpz_class half = q / 2;
  std::vector<mpz_class> values = {0,     1,        -1,          q - 1,     -(q - 1),    half,
                                   -half, half + 1, -(half + 1), half - 1,  q,           -q,
                                   q + 1, -q - 1,   2 * q,       q * q - 1, -(q * q) + 1};
  const size_t q_bits = mpz_sizeinbase(q.get_mpz_t(), 2);
  for (size_t bits : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, q_bits - 1, q_bits, q_bits + 1,
                      2 * q_bits + 7}) {
    for (int i = 0; i < 40; ++i) {
      mpz_class x = rng.get_z_bits(bits);
      values.push_back(x);
      values.push_back(-x);
    }
  }
  return values;
}

}  // namespace

TEST_CASE("RnsBase rejects an empty, repeated, oversized or non-coprime list of moduli") {
  const uint64_t p = generate_ntt_primes(60, 1, 2 * 8192)[0];
  CHECK_THROWS_AS(RnsBase(std::vector<uint64_t>{}), std::invalid_argument);
  CHECK_THROWS_AS(RnsBase({p, p}), std::invalid_argument);
  CHECK_THROWS_AS(RnsBase({p, uint64_t{1} << 62}), std::invalid_argument);
  CHECK_THROWS_AS(RnsBase({p, 1}), std::invalid_argument);
  CHECK_THROWS_AS(RnsBase({p, 0}), std::invalid_argument);
  CHECK_THROWS_AS(RnsBase({15, 21}), std::invalid_argument);  // gcd 3
  CHECK_THROWS_AS(RnsBase({p, 3 * p}), std::invalid_argument);
  CHECK_NOTHROW(RnsBase({p, (uint64_t{1} << 62) - 57}));
}

TEST_CASE("RnsBase constants are Q, the punctured products and their inverses") {
  for (const auto& primes : test_bases()) {
    RnsBase base(primes);
    REQUIRE(base.size() == primes.size());
    mpz_class expected_q = 1;
    for (uint64_t q : primes)
      expected_q *= q;
    CHECK(base.product() == expected_q);
    for (size_t i = 0; i < base.size(); ++i) {
      CAPTURE(i);
      const uint64_t q = primes[i];
      CHECK(base[i].value() == q);
      CHECK(base.punctured_product(i) * q == expected_q);
      mpz_class check = floor_mod(base.punctured_product(i) * base.punctured_inverse(i).operand, q);
      CHECK(check == 1);
      CHECK(base.punctured_inverse(i).operand < q);
    }
  }
}

TEST_CASE("decompose gives x mod q_i in [0, q_i) for x of either sign, any size") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(11);
  for (const auto& primes : test_bases()) {
    RnsBase base(primes);
    for (const mpz_class& x : interesting_values(base.product(), rng)) {
      CAPTURE(x.get_str());
      std::vector<uint64_t> residues(base.size());
      base.decompose(x, residues.data());
      for (size_t i = 0; i < base.size(); ++i) {
        REQUIRE(residues[i] < primes[i]);
        REQUIRE(mpz_class(residues[i]) == floor_mod(x, mpz_class(primes[i])));
      }
    }
  }
}

TEST_CASE("compose and compose_centered invert decompose modulo Q") {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(12);
  for (const auto& primes : test_bases()) {
    RnsBase base(primes);
    const mpz_class& q = base.product();
    // The forms that write into a caller's integer keep it from one value to the next (as
    // invariant_noise_budget's loop does): a previous, larger or negative value must not leak in.
    mpz_class reused = -(q * q), reused_centered = q * q;
    for (const mpz_class& x : interesting_values(q, rng)) {
      CAPTURE(x.get_str());
      std::vector<uint64_t> residues(base.size());
      base.decompose(x, residues.data());
      mpz_class composed = base.compose(residues.data());
      REQUIRE(composed == floor_mod(x, q));
      mpz_class centered = base.compose_centered(residues.data());
      REQUIRE(centered == centered_mod(x, q));
      base.compose(residues.data(), 1, reused);
      REQUIRE(reused == composed);
      base.compose_centered(residues.data(), 1, reused_centered);
      REQUIRE(reused_centered == centered);
      // The centred range is (-Q/2, Q/2].
      REQUIRE(2 * centered > -q);
      REQUIRE(2 * centered <= q);
      // Values already in range come back unchanged.
      if (2 * x > -q && 2 * x <= q) REQUIRE(centered == x);
    }
  }
}

TEST_CASE("compose of arbitrary residues is the unique CRT solution in [0, Q)") {
  std::mt19937_64 rng(13);
  for (const auto& primes : test_bases()) {
    RnsBase base(primes);
    const size_t stride = 3;  // residues interleaved with other data, as in a polynomial column
    std::vector<uint64_t> storage(base.size() * stride);
    for (int trial = 0; trial < 200; ++trial) {
      for (size_t i = 0; i < base.size(); ++i) {
        uint64_t r = rng() % primes[i];
        if (trial == 0) r = primes[i] - 1;  // x ≡ -1 everywhere: Q - 1
        storage[i * stride] = r;
        storage[i * stride + 1] = ~uint64_t{0};  // garbage the routines must skip
      }
      mpz_class x = base.compose(storage.data(), stride);
      REQUIRE(x >= 0);
      REQUIRE(x < base.product());
      if (trial == 0) REQUIRE(x == base.product() - 1);
      for (size_t i = 0; i < base.size(); ++i) {
        REQUIRE(floor_mod(x, mpz_class(primes[i])) == mpz_class(storage[i * stride]));
      }
      std::vector<uint64_t> again(base.size() * stride, 0);
      base.decompose(x, again.data(), stride);
      for (size_t i = 0; i < base.size(); ++i)
        REQUIRE(again[i * stride] == storage[i * stride]);
    }
  }
}
