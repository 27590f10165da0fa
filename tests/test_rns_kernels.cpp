// Element-wise RNS row kernels: every SIMD path equals the scalar twin, which equals the
// definition (128-bit product, remainder by division), at n = 8192 and on ragged tails.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
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
