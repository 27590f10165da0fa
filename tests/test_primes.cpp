// Number theory: primality, NTT-friendly primes and roots of unity, checked with GMP.
#include <doctest/doctest.h>
#include <gmpxx.h>

#include <random>
#include <set>
#include <stdexcept>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/reference.hpp"

using namespace cryptonets;

TEST_CASE("is_prime agrees with GMP on small, random and structured values") {
  for (uint64_t x = 0; x < 5000; ++x) {
    REQUIRE(is_prime(x) ==
            (mpz_probab_prime_p(mpz_class(static_cast<unsigned long>(x)).get_mpz_t(), 30) != 0));
  }
  std::mt19937_64 rng(4);
  for (int i = 0; i < 3000; ++i) {
    uint64_t x = rng() | 1;
    mpz_class X;
    mpz_import(X.get_mpz_t(), 1, -1, sizeof x, 0, 0, &x);
    REQUIRE(is_prime(x) == (mpz_probab_prime_p(X.get_mpz_t(), 30) != 0));
  }
  // Strong pseudoprimes to several small bases and Carmichael numbers.
  for (uint64_t composite : {561ull, 3215031751ull, 3825123056546413051ull}) {
    mpz_class X;
    mpz_import(X.get_mpz_t(), 1, -1, sizeof composite, 0, 0, &composite);
    CHECK(is_prime(composite) == (mpz_probab_prime_p(X.get_mpz_t(), 30) != 0));
  }
  CHECK(is_prime((uint64_t{1} << 61) - 1));
}

TEST_CASE("NTT primes are prime, of the requested size, ≡ 1 mod 2n, distinct and descending") {
  for (uint64_t n : {1024ull, 8192ull, 16384ull, 32768ull}) {
    for (int bits : {30, 50, 60, 62}) {
      auto primes = generate_ntt_primes(bits, 8, 2 * n);
      REQUIRE(primes.size() == 8);
      std::set<uint64_t> distinct(primes.begin(), primes.end());
      REQUIRE(distinct.size() == 8);
      for (size_t i = 0; i < primes.size(); ++i) {
        uint64_t q = primes[i];
        mpz_class Q;
        mpz_import(Q.get_mpz_t(), 1, -1, sizeof q, 0, 0, &q);
        REQUIRE(mpz_probab_prime_p(Q.get_mpz_t(), 40) != 0);
        REQUIRE(q % (2 * n) == 1);
        REQUIRE((q >> (bits - 1)) == 1);  // exactly `bits` bits
        if (i > 0) {
          REQUIRE(primes[i - 1] > q);
        }
      }
      // The first prime is the largest such: no prime ≡ 1 mod 2n lies between it and 2^bits.
      for (uint64_t c = primes[0] + 2 * n; c < (uint64_t{1} << bits); c += 2 * n) {
        REQUIRE_FALSE(is_prime(c));
      }
    }
  }
  CHECK_THROWS_AS(generate_ntt_primes(63, 1, 16384), std::invalid_argument);
  CHECK_THROWS_AS(generate_ntt_primes(14, 4, 16384), std::invalid_argument);
}

TEST_CASE("minimal primitive 2n-th roots have exact order 2n and are the smallest such") {
  for (uint64_t n : {1024ull, 8192ull, 32768ull}) {
    for (uint64_t qv : generate_ntt_primes(60, 2, 2 * n)) {
      Modulus q(qv);
      uint64_t psi = minimal_primitive_root(2 * n, q);
      CHECK(pow_mod(psi, 2 * n, q) == 1);
      CHECK(pow_mod(psi, n, q) == qv - 1);  // order is exactly 2n
    }
  }
  Modulus small(17);  // 2n = 16 divides 16: the primitive 16th roots mod 17 are 3, 5, 6, 7, ...
  CHECK(minimal_primitive_root(16, small) == 3);
  CHECK(minimal_primitive_root(8, small) == 2);
  CHECK_THROWS_AS(minimal_primitive_root(32, small), std::invalid_argument);
}

TEST_CASE("is_prime equals the library's GMP twin on random odd 62-bit values and NTT primes") {
  std::mt19937_64 rng(22);
  size_t primes = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t x = (rng() >> 2) | 1;
    CAPTURE(x);
    REQUIRE(is_prime(x) == reference::is_prime(x));
    primes += is_prime(x);
  }
  CHECK(primes > 300);  // about 2·20000/ln(2^62) = 930 expected: the case checks both answers
  for (uint64_t q : generate_ntt_primes(55, 7, 16384))
    CHECK(reference::is_prime(q));
}
