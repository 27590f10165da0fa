// Exact RNS base conversion against GMP, including the values next to ±A/2 where the
// floating-point estimate is ambiguous and the exact fallback must take over.
#include <doctest/doctest.h>

#include <random>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/base_converter.hpp"

using namespace cryptonets;

namespace {

mpz_class random_below(gmp_randclass& rng, const mpz_class& bound) {
  return rng.get_z_range(bound);
}

void check_conversion(const RnsBase& from, const std::vector<Modulus>& to,
                      const std::vector<mpz_class>& values, size_t expected_min_fallbacks) {
  const size_t n = values.size();
  std::vector<uint64_t> in(from.size() * n), out(to.size() * n);
  for (size_t j = 0; j < n; ++j)
    from.decompose(values[j], in.data() + j, n);
  BaseConverter converter(from, to);
  converter.convert_centered(in.data(), out.data(), n);
  for (size_t j = 0; j < n; ++j) {
    for (size_t c = 0; c < to.size(); ++c) {
      mpz_class expected;
      mpz_fdiv_r_ui(expected.get_mpz_t(), values[j].get_mpz_t(), to[c].value());
      REQUIRE(out[c * n + j] == expected.get_ui());
    }
  }
  CHECK(converter.fallback_count() >= expected_min_fallbacks);
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
  to.emplace_back(1099511922689ull);  // a non-NTT target such as a plaintext modulus works too
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
