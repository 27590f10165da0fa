// RNS polynomial products and CRT conversions at the parameter sizes of the scheme.
#include <benchmark/benchmark.h>
#include <gmpxx.h>

#include <memory>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/base_converter.hpp"
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

// Exact base conversion of n random centred values from `from` 55-bit primes to `to` 61-bit
// primes (the q -> B lift of YASHE' multiplication at n = 8192).
void base_convert(benchmark::State& state, size_t n, size_t from_count, size_t to_count) {
  const RnsBase from(generate_ntt_primes(55, from_count, 2 * n));
  std::vector<Modulus> to;
  for (uint64_t b : generate_ntt_primes(61, to_count, 2 * n))
    to.emplace_back(b);
  const BaseConverter converter(from, to);
  gmp_randclass rng(gmp_randinit_default);
  rng.seed(5);
  std::vector<uint64_t> in(from_count * n), out(to_count * n);
  const mpz_class half = from.product() / 2;
  for (size_t j = 0; j < n; ++j)
    from.decompose(rng.get_z_range(from.product()) - half, in.data() + j, n);
  for (auto _ : state) {
    converter.convert_centered(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
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
  for (auto [from_count, to_count] : {std::pair<size_t, size_t>{7, 9}, {9, 7}}) {
    const std::string name = "RNS/base_convert/n:8192/from:" + std::to_string(from_count) +
                             "/to:" + std::to_string(to_count);
    benchmark::RegisterBenchmark(name.c_str(), base_convert, 8192, from_count, to_count)
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
