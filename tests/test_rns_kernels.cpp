// Element-wise RNS row kernels: every SIMD path equals the scalar twin, which equals the
// definition (128-bit product, remainder by division), at n = 8192 and on ragged tails.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/rns_kernels.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

// Random residues with the extremes 0 and q − 1 mixed in.
std::vector<uint64_t> residues(size_t n, uint64_t q, std::mt19937_64& rng) {
  std::uniform_int_distribution<uint64_t> residue(0, q - 1);
  std::vector<uint64_t> a(n);
  for (size_t j = 0; j < n; ++j)
    a[j] = j % 11 == 0 ? q - 1 : j % 13 == 0 ? 0 : residue(rng);
  return a;
}

uint64_t product_mod(uint64_t a, uint64_t b, uint64_t q) {
  return static_cast<uint64_t>(static_cast<u128>(a) * b % q);
}

}  // namespace

TEST_CASE("RNS row kernels equal their definitions on every SIMD path") {
  std::mt19937_64 rng(11);
  const std::vector<SimdPath> paths = test::supported_simd_paths();
  for (int bits : {3, 20, 31, 49, 50, 52, 55, 60, 61, 62}) {
    const Modulus q(bits == 3 ? 5 : generate_ntt_primes(bits, 1, 2)[0]);
    for (size_t n : {1, 7, 8, 13, 8192}) {
      const auto a = residues(n, q.value(), rng), b = residues(n, q.value(), rng),
                 c = residues(n, q.value(), rng);
      const ShoupMultiplier w(residues(1, q.value(), rng)[0], q);
      std::vector<uint64_t> product(n), square(n), accumulated(n), scaled(n), sum(n), difference(n);
      for (size_t j = 0; j < n; ++j) {
        square[j] = product_mod(a[j], a[j], q.value());
        product[j] = product_mod(a[j], b[j], q.value());
        accumulated[j] = (c[j] + product[j]) % q.value();
        scaled[j] = product_mod(a[j], w.operand, q.value());
        sum[j] = (a[j] + b[j]) % q.value();
        difference[j] = (a[j] + q.value() - b[j]) % q.value();
      }
      for (SimdPath path : paths) {
        CAPTURE(bits);
        CAPTURE(n);
        CAPTURE(to_string(path));
        auto x = a;
        multiply_rows_elementwise(x.data(), b.data(), n, q, path);
        CHECK(x == product);
        x = a;
        multiply_rows_elementwise(x.data(), x.data(), n, q, path);  // squaring in place
        CHECK(x == square);
        x = c;
        multiply_accumulate_rows(x.data(), a.data(), b.data(), n, q, path);
        CHECK(x == accumulated);
        x = a;
        multiply_row_shoup(x.data(), n, w, q, path);
        CHECK(x == scaled);
        x = a;
        add_rows(x.data(), b.data(), n, q, path);
        CHECK(x == sum);
        x = a;
        subtract_rows(x.data(), b.data(), n, q, path);
        CHECK(x == difference);
      }
    }
  }
}

TEST_CASE("key switching and scale-and-round row kernels equal their definitions on every path") {
  std::mt19937_64 rng(12);
  const std::vector<SimdPath> paths = test::supported_simd_paths();
  for (int bits : {3, 31, 49, 50, 52, 55, 60, 62}) {
    const Modulus q(bits == 3 ? 5 : generate_ntt_primes(bits, 1, 2)[0]);
    for (size_t n : {1, 7, 8, 13, 8192}) {
      CAPTURE(bits);
      CAPTURE(n);
      // Σ_g a_g·b_g over up to 7 rows (the 62-bit prime allows at most 15 terms).
      std::vector<std::vector<uint64_t>> a, b;
      for (size_t g = 0; g < 7; ++g) {
        a.push_back(residues(n, q.value(), rng));
        b.push_back(residues(n, q.value(), rng));
      }
      const auto start = residues(n, q.value(), rng), x = residues(n, q.value(), rng);
      std::vector<const uint64_t*> a_rows, b_rows;
      for (size_t g = 0; g < 7; ++g) {
        a_rows.push_back(a[g].data());
        b_rows.push_back(b[g].data());
      }
      const ShoupMultiplier w(residues(1, q.value(), rng)[0], q);
      std::vector<uint64_t> shoup_difference(n);
      for (size_t j = 0; j < n; ++j)
        shoup_difference[j] =
            (product_mod(x[j], w.operand, q.value()) + q.value() - start[j]) % q.value();
      std::vector<uint64_t> wide(n);  // 62-bit words: digits of every shift below 2q
      std::uniform_int_distribution<uint64_t> word(0, (uint64_t{1} << 62) - 1);
      for (uint64_t& v : wide)
        v = word(rng);
      for (SimdPath path : paths) {
        CAPTURE(to_string(path));
        for (size_t count : {1, 2, 4, 7}) {
          for (bool accumulate : {false, true}) {
            std::vector<uint64_t> expected(n), out = start;
            for (size_t j = 0; j < n; ++j) {
              uint64_t s = accumulate ? start[j] : 0;
              for (size_t g = 0; g < count; ++g)
                s = (s + product_mod(a[g][j], b[g][j], q.value())) % q.value();
              expected[j] = s;
            }
            dot_product_rows(out.data(), accumulate, a_rows.data(), b_rows.data(), count, n, q,
                             path);
            CHECK(out == expected);
          }
        }
        auto y = start;
        multiply_shoup_subtract_rows(y.data(), x.data(), n, w, q, path);
        CHECK(y == shoup_difference);
        for (int shift : {0, 7, 20, 40}) {
          for (int digit_bits : {bits - 1, bits}) {
            if (digit_bits < 1) continue;
            const uint64_t mask = (uint64_t{1} << digit_bits) - 1;
            std::vector<uint64_t> digits(n), expected(n);
            for (size_t j = 0; j < n; ++j)
              expected[j] = ((wide[j] >> shift) & mask) % q.value();
            extract_digit_row(digits.data(), wide.data(), n, shift, mask, q, path);
            CHECK(digits == expected);
          }
        }
      }
    }
  }
}

TEST_CASE("the dot product kernel handles the longest sums its bound allows, on every path") {
  // All operands q − 1: the limb sums of the IFMA path at their largest (1024 terms), and 1100
  // terms, which the IFMA path hands to the 64-bit one.
  const Modulus q(generate_ntt_primes(55, 1, 2)[0]);
  const size_t n = 24;
  const std::vector<uint64_t> row(n, q.value() - 1);
  for (size_t count : {1024, 1100}) {
    const std::vector<const uint64_t*> rows(count, row.data());
    // (q − 1)² ≡ 1, so the sum is count + (q − 1) ≡ count − 1 (mod q) with the start value.
    for (SimdPath path : test::supported_simd_paths()) {
      CAPTURE(count);
      CAPTURE(to_string(path));
      std::vector<uint64_t> out = row;
      dot_product_rows(out.data(), true, rows.data(), rows.data(), count, n, q, path);
      CHECK(out == std::vector<uint64_t>(n, count - 1));
    }
  }
  const Modulus large(generate_ntt_primes(62, 1, 2)[0]);
  const std::vector<uint64_t> large_row(n, large.value() - 1);
  const std::vector<const uint64_t*> many(17, large_row.data());
  std::vector<uint64_t> out(n);
  CHECK_THROWS_AS(dot_product_rows(out.data(), false, many.data(), many.data(), 17, n, large),
                  std::invalid_argument);
  CHECK_THROWS_AS(dot_product_rows(out.data(), false, many.data(), many.data(), 0, n, large),
                  std::invalid_argument);
}
