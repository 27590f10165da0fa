// RNS polynomial products and CRT conversions at the parameter sizes of the scheme.
#include <benchmark/benchmark.h>
#include <gmpxx.h>

#include <memory>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/poly.hpp"

using namespace cryptonets;

namespace {

std::shared_ptr<const RingContext> ring_with_60_bit_primes(size_t n, size_t count) {
  return std::make_shared<const RingContext>(n, generate_ntt_primes(60, count, 2 * n));
}

RnsPoly random_poly(const std::shared_ptr<const RingContext>& ring, gmp_randclass& rng) {
  std::vector<mpz_class> coeffs(ring->n());
  for (auto& c : coeffs)
    c = rng.get_z_range(ring->base().product());
  return RnsPoly::from_bigint(ring, coeffs);
}

// Pointwise product of two polynomials already in evaluation form.
void multiply_evaluation_form(benchmark::State& state, size_t n, size_t primes) {
  auto ring = ring_with_60_bit_primes(n, primes);
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(1);
  RnsPoly a = random_poly(ring, rng), b = random_poly(ring, rng);
  a.to_evaluation();
  b.to_evaluation();
  for (auto _ : state) {
    a *= b;
    benchmark::DoNotOptimize(a.data().data());
  }
}

// Coefficient form in and out: two forward NTTs, the pointwise product, one inverse NTT.
void multiply_from_coefficients(benchmark::State& state, size_t n, size_t primes) {
  auto ring = ring_with_60_bit_primes(n, primes);
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(2);
  const RnsPoly a = random_poly(ring, rng), b = random_poly(ring, rng);
  RnsPoly x = a, y = b;
  for (auto _ : state) {
    x = a;  // same size: copies into the existing storage, no allocation
    y = b;
    x.to_evaluation();
    y.to_evaluation();
    x *= y;
    x.to_coefficient();
    benchmark::DoNotOptimize(x.data().data());
  }
}

void decompose(benchmark::State& state, size_t primes) {
  RnsBase base(generate_ntt_primes(60, primes, 2 * 16384));
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(3);
  const mpz_class x = rng.get_z_range(base.product());
  std::vector<uint64_t> residues(base.size());
  for (auto _ : state) {
    base.decompose(x, residues.data());
    benchmark::DoNotOptimize(residues.data());
  }
}

void compose(benchmark::State& state, size_t primes) {
  RnsBase base(generate_ntt_primes(60, primes, 2 * 16384));
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(4);
  std::vector<uint64_t> residues(base.size());
  base.decompose(rng.get_z_range(base.product()), residues.data());
  for (auto _ : state) {
    mpz_class x = base.compose(residues.data());
    benchmark::DoNotOptimize(x.get_mpz_t());
  }
}

// Sizes from the YASHE' parameter sets: (n, number of 60-bit primes).
constexpr std::pair<size_t, size_t> kPolySizes[] = {{8192, 7}, {16384, 8}};

const bool registered = [] {
  for (auto [n, primes] : kPolySizes) {
    const std::string suffix = "/n:" + std::to_string(n) + "/primes:" + std::to_string(primes);
    benchmark::RegisterBenchmark(("RNS/multiply" + suffix).c_str(), multiply_evaluation_form, n,
                                 primes);
    benchmark::RegisterBenchmark(("RNS/multiply_from_coefficients" + suffix).c_str(),
                                 multiply_from_coefficients, n, primes)
        ->Unit(benchmark::kMicrosecond);
  }
  for (size_t primes : {7, 8}) {
    const std::string suffix = "/primes:" + std::to_string(primes);
    benchmark::RegisterBenchmark(("RNS/decompose" + suffix).c_str(), decompose, primes);
    benchmark::RegisterBenchmark(("RNS/compose" + suffix).c_str(), compose, primes);
  }
  return true;
}();

}  // namespace
