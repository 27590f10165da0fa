// Exact RNS base conversion against GMP, including the values next to ±A/2 where the
// floating-point estimate is ambiguous and the exact fallback must take over; every SIMD path
// this CPU supports.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/base_converter.hpp"
#include "cryptonets/ring/reference.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

mpz_class random_below(gmp_randclass& rng, const mpz_class& bound) {
  return rng.get_z_range(bound);
}

std::vector<Modulus> moduli(const std::vector<uint64_t>& primes) {
  return std::vector<Modulus>(primes.begin(), primes.end());
}

// n random centred values with, at random positions, `boundary_count` values next to ±A/2
// (where the double estimate is ambiguous) and a few next to 0.
std::vector<mpz_class> mixed_values(const RnsBase& from, size_t n, size_t boundary_count,
                                    uint64_t seed) {
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(seed);
  const mpz_class half = from.product() / 2;
  std::vector<mpz_class> values;
  for (size_t j = 0; j < n; ++j)
    values.push_back(random_below(rng, from.product()) - half);
  std::mt19937_64 positions(seed);
  for (size_t d = 0; d < boundary_count; ++d) {
    const mpz_class offset = d / 4;
    values[positions() % n] = d % 4 == 0   ? half - offset
                              : d % 4 == 1 ? offset - half
                              : d % 4 == 2 ? offset
                                           : mpz_class(-offset - 1);
  }
  values.back() = half;  // the last column of a partial block
  return values;
}

void check_conversion(const RnsBase& from, const std::vector<Modulus>& to,
                      const std::vector<mpz_class>& values, size_t expected_min_fallbacks) {
  const size_t n = values.size();
  std::vector<uint64_t> in(from.size() * n), expected(to.size() * n);
  for (size_t j = 0; j < n; ++j)
    from.decompose(values[j], in.data() + j, n);
  for (size_t j = 0; j < n; ++j) {
    for (size_t c = 0; c < to.size(); ++c) {
      mpz_class residue;
      mpz_fdiv_r_ui(residue.get_mpz_t(), values[j].get_mpz_t(), to[c].value());
      expected[c * n + j] = residue.get_ui();
    }
  }
  for (SimdPath path : test::supported_simd_paths()) {
    CAPTURE(to_string(path));
    const ScopedSimdPath forced(path);
    BaseConverter converter(from, to);
    std::vector<uint64_t> out(to.size() * n);
    converter.convert_centered(in.data(), out.data(), n);
    REQUIRE(out == expected);
    CHECK(converter.fallback_count() >= expected_min_fallbacks);
    // The library's reference twin gives the same words.
    CHECK(reference::base_convert_centered(from, to, in.data(), n) == out);
  }
}

}  // namespace

TEST_CASE("base conversion of random centred values equals GMP (7 primes of 55 bits to 8 of 61)") {
  const RnsBase from(generate_ntt_primes(55, 7, 16384));
  std::vector<Modulus> to;
  for (uint64_t b : generate_ntt_primes(61, 8, 16384))
    to.emplace_back(b);
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(7);
  const mpz_class half = from.product() / 2;
  std::vector<mpz_class> values;
  for (int j = 0; j < 8192; ++j)
    values.push_back(random_below(rng, from.product()) - half);
  check_conversion(from, to, values, 0);
}

TEST_CASE("values within a hair of ±A/2 take the exact fallback and still convert exactly") {
  const RnsBase from(generate_ntt_primes(60, 6, 16384));
  std::vector<Modulus> to;
  for (uint64_t b : generate_ntt_primes(50, 3, 16384))
    to.emplace_back(b);
  to.emplace_back(1099511922689ull);   // a non-NTT target such as a plaintext modulus works too
  to.emplace_back(uint64_t{1} << 40);  // an even target (no Montgomery reduction) works too
  const mpz_class half = from.product() / 2;  // A is odd: the centred range is [-half, half]
  std::vector<mpz_class> values;
  for (int d = 0; d < 64; ++d) {
    values.push_back(half - d);
    values.push_back(-half + d);
  }
  values.push_back(0);
  values.push_back(1);
  values.push_back(-1);
  check_conversion(from, to, values, 128);
}

TEST_CASE("one-limb IFMA conversions (sources or targets at most 2^52) equal GMP") {
  // The IFMA kernel leaves out the high limb's products when every source (y < 2^52) or the
  // target (punctured products < 2^52) is narrow: 55 -> 50 bits, 50 -> 55, 50 -> 50, and the
  // 52-bit edge, each with values next to ±A/2 and residues of every size.
  const std::vector<std::pair<int, int>> widths = {{55, 50}, {50, 55}, {50, 50}, {52, 52}};
  for (const auto& [from_bits, to_bits] : widths) {
    CAPTURE(from_bits);
    CAPTURE(to_bits);
    const RnsBase from(generate_ntt_primes(from_bits, 7, 16384));
    std::vector<Modulus> to;
    for (uint64_t b : generate_ntt_primes(to_bits, 9, 16384)) {
      if (std::find(from.moduli().begin(), from.moduli().end(), Modulus(b)) == from.moduli().end())
        to.emplace_back(b);
    }
    check_conversion(from, to, mixed_values(from, 1024, 16, 11), 4);
  }
}

TEST_CASE("base conversion handles 62-bit moduli on both sides") {
  const RnsBase from(generate_ntt_primes(62, 5, 2048));
  std::vector<Modulus> to;
  for (uint64_t b : generate_ntt_primes(61, 5, 2048))
    to.emplace_back(b);
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(8);
  const mpz_class half = from.product() / 2;
  std::vector<mpz_class> values;
  for (int j = 0; j < 4096; ++j)
    values.push_back(random_below(rng, from.product()) - half);
  check_conversion(from, to, values, 0);
}

TEST_CASE("blocked conversion is exact when n is not a multiple of the block size (n = 1000)") {
  const RnsBase q(generate_ntt_primes(55, 7, 16384));
  const std::vector<uint64_t> b_primes = generate_ntt_primes(61, 9, 16384);
  const RnsBase b(b_primes);
  CHECK(BaseConverter(q, moduli(b_primes)).block_size() < 1000);
  CHECK(1000 % BaseConverter(q, moduli(b_primes)).block_size() != 0);
  check_conversion(q, moduli(b_primes), mixed_values(q, 1000, 40, 11), 10);
  check_conversion(b, q.moduli(), mixed_values(b, 1000, 40, 12), 10);
}

TEST_CASE("blocked conversion at n = 8192 equals GMP with ambiguous columns scattered") {
  const RnsBase q(generate_ntt_primes(55, 7, 16384));
  const std::vector<uint64_t> b_primes = generate_ntt_primes(61, 9, 16384);
  const RnsBase b(b_primes);
  check_conversion(q, moduli(b_primes), mixed_values(q, 8192, 64, 13), 16);
  check_conversion(b, q.moduli(), mixed_values(b, 8192, 64, 14), 16);
}

TEST_CASE("long source bases (intermediate reductions, no unrolled kernel) convert exactly") {
  // 12 primes of 62 bits into 62-bit targets: 124-bit products, reduced every 8 terms.
  const RnsBase wide(generate_ntt_primes(62, 12, 2048));
  check_conversion(wide, moduli(generate_ntt_primes(61, 3, 2048)), mixed_values(wide, 777, 24, 15),
                   6);
  // 20 primes of 40 bits: more sources than the unrolled kernels cover.
  const RnsBase many(generate_ntt_primes(40, 20, 2048));
  check_conversion(many, moduli(generate_ntt_primes(50, 4, 2048)), mixed_values(many, 777, 24, 16),
                   6);
}

TEST_CASE("scaled conversion equals GMP conversion of the row-wise scaled residues") {
  const RnsBase q(generate_ntt_primes(55, 7, 16384));
  const std::vector<Modulus> b = moduli(generate_ntt_primes(61, 9, 16384));
  const size_t n = 1000, k = q.size();
  const std::vector<mpz_class> values = mixed_values(q, n, 40, 17);
  std::vector<uint64_t> in(k * n), scaled(k * n), factors(k);
  std::mt19937_64 rng(18);
  for (size_t i = 0; i < k; ++i)
    factors[i] = rng() % q[i].value();
  // The scaled residues of `values` are the input; unscaling gives the residues to feed in.
  for (size_t j = 0; j < n; ++j)
    q.decompose(values[j], scaled.data() + j, n);
  for (size_t i = 0; i < k; ++i) {
    const uint64_t inverse = inv_mod(factors[i], q[i]);
    for (size_t j = 0; j < n; ++j)
      in[i * n + j] = mul_mod(scaled[i * n + j], inverse, q[i]);
  }
  for (SimdPath path : test::supported_simd_paths()) {
    CAPTURE(to_string(path));
    const ScopedSimdPath forced(path);
    BaseConverter converter(q, b);
    std::vector<uint64_t> out(b.size() * n);
    converter.convert_centered_scaled(in.data(), factors.data(), out.data(), n);
    for (size_t j = 0; j < n; ++j) {
      for (size_t c = 0; c < b.size(); ++c) {
        mpz_class expected;
        mpz_fdiv_r_ui(expected.get_mpz_t(), values[j].get_mpz_t(), b[c].value());
        REQUIRE(out[c * n + j] == expected.get_ui());
      }
    }
    CHECK(converter.fallback_count() >= 10);
    // The twin on the scaled residues gives the same words.
    CHECK(reference::base_convert_centered(q, b, scaled.data(), n) == out);
  }
}
