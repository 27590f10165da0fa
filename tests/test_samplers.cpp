// Statistical tests of the samplers, each tight enough to catch a wrong distribution.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/random/samplers.hpp"
#include "simd_test_support.hpp"

using namespace cryptonets;

namespace {

using u128 = unsigned __int128;

// Upper critical value of χ² with `df` degrees of freedom, z standard deviations out
// (Wilson–Hilferty cube-root normal approximation). z = 5 means a false alarm rate ≈ 3·10^-7.
double chi_square_critical(size_t df, double z = 5.0) {
  const double d = static_cast<double>(df);
  const double h = 2.0 / (9.0 * d);
  return d * std::pow(1.0 - h + z * std::sqrt(h), 3);
}

// Pearson's χ² statistic of observed counts against expected probabilities (summing to 1).
double chi_square(const std::vector<uint64_t>& observed, const std::vector<double>& probability) {
  REQUIRE(observed.size() == probability.size());
  uint64_t total = 0;
  for (const uint64_t o : observed)
    total += o;
  double statistic = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = probability[i] * static_cast<double>(total);
    const double diff = static_cast<double>(observed[i]) - expected;
    statistic += diff * diff / expected;
  }
  return statistic;
}

// Does `values` (all < bound) fit the uniform law on [0, bound)? χ² over min(bound, 64)
// buckets, bucket j holding the x with floor(x·K / bound) = j; its exact probability is its
// number of integers over bound.
bool looks_uniform_below(const std::vector<uint64_t>& values, uint64_t bound) {
  const uint64_t buckets = std::min<uint64_t>(bound, 64);
  std::vector<uint64_t> observed(buckets, 0);
  for (const uint64_t x : values)
    ++observed[static_cast<size_t>(u128{x} * buckets / bound)];
  auto first_of_bucket = [&](uint64_t j) {  // ceil(j·bound / K)
    return static_cast<uint64_t>((u128{j} * bound + buckets - 1) / buckets);
  };
  std::vector<double> probability(buckets);
  for (uint64_t j = 0; j < buckets; ++j) {
    const u128 end = j + 1 == buckets ? u128{bound} : first_of_bucket(j + 1);
    probability[j] = static_cast<double>(end - first_of_bucket(j)) / static_cast<double>(bound);
  }
  return chi_square(observed, probability) < chi_square_critical(buckets - 1);
}

// ρ(x) = exp(-x²/(2σ²)) and the probabilities of the truncated discrete Gaussian on [-B, B].
struct GaussianLaw {
  double sigma;
  int64_t bound;
  double rho(int64_t x) const { return std::exp(-double(x) * double(x) / (2 * sigma * sigma)); }
  double normaliser() const {
    double s = 0;
    for (int64_t x = -bound; x <= bound; ++x)
      s += rho(x);
    return s;
  }
  double probability(int64_t x) const { return rho(x) / normaliser(); }
  double variance() const {
    double v = 0;
    for (int64_t x = -bound; x <= bound; ++x)
      v += double(x) * double(x) * rho(x);
    return v / normaliser();
  }
};

struct Moments {
  double mean;
  double variance;
  double variance_standard_error;  // sqrt((m4 - m2²) / N), the standard error of the variance
};

Moments moments(const std::vector<int64_t>& xs) {
  const double n = static_cast<double>(xs.size());
  double sum = 0;
  for (const int64_t x : xs)
    sum += double(x);
  const double mean = sum / n;
  double m2 = 0, m4 = 0;
  for (const int64_t x : xs) {
    const double d = double(x) - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  return {mean, m2, std::sqrt((m4 - m2 * m2) / n)};
}

int64_t max_magnitude(const std::vector<int64_t>& xs) {
  int64_t largest = 0;
  for (const int64_t x : xs)
    largest = std::max(largest, std::abs(x));
  return largest;
}

// The variance check used below: within 5 standard errors of σ².
bool variance_matches_sigma(const std::vector<int64_t>& xs, double sigma) {
  const Moments m = moments(xs);
  return std::abs(m.variance - sigma * sigma) < 5 * m.variance_standard_error;
}

}  // namespace

TEST_CASE("sample_uniform_below rejects bound 0 and returns 0 for bound 1") {
  Prng prng = Prng::insecure_seeded(1);
  CHECK_THROWS_AS(sample_uniform_below(prng, 0), std::invalid_argument);
  for (int i = 0; i < 100; ++i)
    CHECK(sample_uniform_below(prng, 1) == 0);
}

TEST_CASE("sample_uniform_below is uniform for small, non-power-of-two, prime and full bounds") {
  const uint64_t prime62 = generate_ntt_primes(62, 1, 2 * 16384).at(0);
  REQUIRE((prime62 >> 61) == 1);
  const std::vector<uint64_t> bounds = {
      2, 3, 1000, (uint64_t{3} << 60) + 1, prime62, uint64_t{1} << 63, ~uint64_t{0}};
  Prng prng = Prng::insecure_seeded(2);
  const size_t samples = 300000;
  for (const uint64_t bound : bounds) {
    CAPTURE(bound);
    std::vector<uint64_t> values(samples);
    for (uint64_t& x : values)
      x = sample_uniform_below(prng, bound);
    CHECK(*std::max_element(values.begin(), values.end()) < bound);
    CHECK(looks_uniform_below(values, bound));
    // Mean of x / bound: (bound - 1) / (2 bound), standard deviation ≈ 1/√12 per draw.
    long double mean = 0;
    for (const uint64_t x : values)
      mean += static_cast<long double>(x) / bound;
    mean /= samples;
    const long double expected = (static_cast<long double>(bound) - 1) / (2.0L * bound);
    const double standard_error =
        std::sqrt((1.0 - 1.0 / (double(bound) * double(bound))) / 12.0 / double(samples));
    CHECK(std::abs(double(mean - expected)) < 5 * standard_error);
  }
}

TEST_CASE("The uniformity check would catch the modulo bias of reducing a raw 64-bit word") {
  // 2^64 ≈ 5.33·(3·2^60 + 1): x mod bound hits the lowest third of [0, bound) six times as
  // often as five — the bias rejection sampling exists to avoid.
  const uint64_t bound = (uint64_t{3} << 60) + 1;
  Prng prng = Prng::insecure_seeded(3);
  std::vector<uint64_t> biased(300000);
  for (uint64_t& x : biased)
    x = prng.next_u64() % bound;
  CHECK_FALSE(looks_uniform_below(biased, bound));
}

TEST_CASE("sample_ternary gives -1, 0, 1 each with frequency 1/3 within 1%, independently") {
  Prng prng = Prng::insecure_seeded(4);
  const size_t n = 1000000;
  const std::vector<int64_t> t = sample_ternary(prng, n);
  REQUIRE(t.size() == n);
  std::vector<uint64_t> single(3, 0), pairs(9, 0);
  REQUIRE(max_magnitude(t) <= 1);
  for (size_t i = 0; i < n; ++i) {
    ++single[static_cast<size_t>(t[i] + 1)];
    if (i % 2 == 1) ++pairs[static_cast<size_t>(3 * (t[i - 1] + 1) + (t[i] + 1))];
  }
  for (const uint64_t count : single) {
    CHECK(std::abs(double(count) / double(n) - 1.0 / 3) < 0.01 / 3);
  }
  CHECK(chi_square(single, std::vector<double>(3, 1.0 / 3)) < chi_square_critical(2));
  // Neighbours independent: the 9 ordered pairs uniform.
  CHECK(chi_square(pairs, std::vector<double>(9, 1.0 / 9)) < chi_square_critical(8));
  CHECK(sample_ternary(prng, 0).empty());
}

TEST_CASE("DiscreteGaussian validates sigma and tail_cut and sets bound = ceil(tail_cut * sigma)") {
  CHECK_THROWS_AS(DiscreteGaussian(0.0), std::invalid_argument);
  CHECK_THROWS_AS(DiscreteGaussian(-1.0), std::invalid_argument);
  CHECK_THROWS_AS(DiscreteGaussian(std::nan("")), std::invalid_argument);
  CHECK_THROWS_AS(DiscreteGaussian(3.2, 5.9), std::invalid_argument);
  CHECK_THROWS_AS(DiscreteGaussian(3.2, INFINITY), std::invalid_argument);
  CHECK(DiscreteGaussian().sigma() == 3.2);
  CHECK(DiscreteGaussian().bound() == 20);
  CHECK(DiscreteGaussian(3.2, 10).bound() == 32);
  CHECK(DiscreteGaussian(1.0, 6).bound() == 6);
}

TEST_CASE("DiscreteGaussian with sigma 3.2 matches the exact discrete Gaussian law") {
  const DiscreteGaussian gaussian(3.2);
  const GaussianLaw law{3.2, gaussian.bound()};
  Prng prng = Prng::insecure_seeded(5);
  const size_t n = 1000000;
  const std::vector<int64_t> xs = gaussian.sample_vector(prng, n);
  REQUIRE(xs.size() == n);

  CHECK(max_magnitude(xs) <= gaussian.bound());

  const Moments m = moments(xs);
  CHECK(std::abs(m.mean) < 5 * 3.2 / std::sqrt(double(n)));
  // For σ >= 2 the discrete Gaussian's variance equals σ² up to ~10^-7 relative.
  CHECK(std::abs(law.variance() - 3.2 * 3.2) < 1e-6);
  CHECK(5 * m.variance_standard_error < 0.02 * 3.2 * 3.2);  // the check below is tight
  CHECK(variance_matches_sigma(xs, 3.2));

  // P(|x| >= 2σ) against the exact discrete probability.
  double tail_probability = 0;
  for (int64_t x = -law.bound; x <= law.bound; ++x) {
    if (std::abs(double(x)) >= 2 * 3.2) tail_probability += law.probability(x);
  }
  const double tail_frequency =
      double(std::count_if(xs.begin(), xs.end(),
                           [](int64_t x) { return std::abs(double(x)) >= 2 * 3.2; })) /
      double(n);
  CHECK(std::abs(tail_frequency - tail_probability) <
        5 * std::sqrt(tail_probability * (1 - tail_probability) / double(n)));

  // χ² over the values -10..10 one by one, |x| > 10 pooled: P(x) = ρ(x)/S exactly.
  std::vector<uint64_t> observed(22, 0);
  for (const int64_t x : xs)
    ++observed[std::abs(x) > 10 ? 21 : static_cast<size_t>(x + 10)];
  std::vector<double> probability(22, 0);
  for (int64_t x = -law.bound; x <= law.bound; ++x) {
    probability[std::abs(x) > 10 ? 21 : static_cast<size_t>(x + 10)] += law.probability(x);
  }
  CHECK(chi_square(observed, probability) < chi_square_critical(21));
}

TEST_CASE("The DiscreteGaussian variance check would detect sigma 3.0 or 3.1 instead of 3.2") {
  Prng prng = Prng::insecure_seeded(6);
  for (const double wrong_sigma : {3.0, 3.1}) {
    CAPTURE(wrong_sigma);
    const std::vector<int64_t> xs = DiscreteGaussian(wrong_sigma).sample_vector(prng, 1000000);
    CHECK(variance_matches_sigma(xs, wrong_sigma));
    CHECK_FALSE(variance_matches_sigma(xs, 3.2));
  }
}

TEST_CASE("DiscreteGaussian with a wider tail cut still has variance sigma squared") {
  Prng prng = Prng::insecure_seeded(7);
  const DiscreteGaussian gaussian(3.2, 10);
  const std::vector<int64_t> xs = gaussian.sample_vector(prng, 300000);
  CHECK(max_magnitude(xs) <= gaussian.bound());
  CHECK(variance_matches_sigma(xs, 3.2));
}

TEST_CASE("sample_uniform_poly fills every residue row uniformly below its prime, in both forms") {
  const size_t n = 8192;
  std::vector<uint64_t> primes = generate_ntt_primes(60, 2, 2 * n);
  const std::vector<uint64_t> primes50 = generate_ntt_primes(50, 1, 2 * n);
  primes.insert(primes.end(), primes50.begin(), primes50.end());
  const auto ring = std::make_shared<const RingContext>(n, primes);
  Prng prng = Prng::insecure_seeded(8);
  CHECK_THROWS_AS(sample_uniform_poly(prng, nullptr, PolyForm::coefficient), std::invalid_argument);
  for (const PolyForm form : {PolyForm::coefficient, PolyForm::evaluation}) {
    const RnsPoly a = sample_uniform_poly(prng, ring, form);
    const RnsPoly b = sample_uniform_poly(prng, ring, form);
    CHECK(a.form() == form);
    CHECK_FALSE(a == b);
    for (size_t i = 0; i < primes.size(); ++i) {
      CAPTURE(i);
      const uint64_t* row = a.residues(i);
      std::vector<uint64_t> values(row, row + n);
      CHECK(*std::max_element(values.begin(), values.end()) < primes[i]);
      CHECK(std::any_of(values.begin(), values.end(), [&](uint64_t x) { return x != row[0]; }));
      CHECK(looks_uniform_below(values, primes[i]));
    }
  }
}

TEST_CASE("Gaussian sample vectors are the same on every SIMD path and leave the stream in step") {
  const std::vector<cryptonets::SimdPath> paths = cryptonets::test::supported_vector_paths();
  for (double sigma : {3.2, 8.0}) {
    const DiscreteGaussian chi(sigma);
    for (size_t n : {1, 5, 8, 1001, 8192}) {
      for (uint64_t seed : {1, 2, 3}) {
        std::vector<int64_t> expected;
        uint64_t next_expected = 0;
        {
          const cryptonets::ScopedSimdPath scalar(cryptonets::SimdPath::scalar);
          Prng prng = Prng::insecure_seeded(seed);
          prng.next_u32();  // start off the block grid
          expected = chi.sample_vector(prng, n);
          next_expected = prng.next_u64();
          // The scalar vector is sample() repeated.
          Prng again = Prng::insecure_seeded(seed);
          again.next_u32();
          for (size_t i = 0; i < std::min<size_t>(n, 64); ++i)
            CHECK(chi.sample(again) == expected[i]);
        }
        for (const cryptonets::SimdPath path : paths) {
          CAPTURE(sigma);
          CAPTURE(n);
          CAPTURE(cryptonets::to_string(path));
          const cryptonets::ScopedSimdPath forced(path);
          Prng prng = Prng::insecure_seeded(seed);
          prng.next_u32();
          CHECK(chi.sample_vector(prng, n) == expected);
          CHECK(prng.next_u64() == next_expected);
        }
      }
    }
  }
}
