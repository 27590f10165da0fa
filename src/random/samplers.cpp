// Samplers over the distributions YASHE' needs: uniform mod q, ternary, discrete Gaussian.
#include "cryptonets/random/samplers.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

#include "cryptonets/arith/simd.hpp"

namespace cryptonets {

namespace samplers_avx512 {
void gaussian_from_bytes(const uint8_t* bytes, size_t count, const uint64_t* cdf, size_t cdf_size,
                         int64_t* out);
}  // namespace samplers_avx512

uint64_t sample_uniform_below(Prng& prng, uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("sample_uniform_below: bound must be >= 1, got 0");
  // The smallest all-ones mask covering bound-1: a masked draw is uniform on [0, mask], and
  // accepting only values < bound keeps it uniform on [0, bound). bound > mask/2, so each
  // draw is accepted with probability > 1/2. (bound == 1 gives mask 0 and always returns 0.)
  const int bits = std::bit_width(bound - 1);
  const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  for (;;) {
    const uint64_t candidate = prng.next_u64() & mask;
    if (candidate < bound) return candidate;
  }
}

std::vector<int64_t> sample_ternary(Prng& prng, size_t n) {
  // Each 2-bit chunk c of a random word is uniform on {0,1,2,3}; rejecting 3 leaves c uniform
  // on {0,1,2}, mapped to c - 1 in {-1,0,1}.
  std::vector<int64_t> out;
  out.reserve(n);
  while (out.size() < n) {
    uint64_t word = prng.next_u64();
    for (int chunk = 0; chunk < 32 && out.size() < n; ++chunk, word >>= 2) {
      const int64_t c = static_cast<int64_t>(word & 3);
      if (c != 3) out.push_back(c - 1);
    }
  }
  return out;
}

// The method: CDT sampling of the exact discrete Gaussian.
//
// D_{Z,σ} gives x ∈ Z the probability ρ(x)/ρ(Z) with ρ(x) = exp(-x²/(2σ²)); it is NOT a rounded
// continuous Gaussian (whose probabilities are integrals of the density over [x-½, x+½]). We
// restrict it to |x| <= B = ceil(tail_cut·σ), renormalising by S = Σ_{|x|<=B} ρ(x), and sample
// |x| then a sign:
//   P(|x| = 0) = ρ(0)/S = 1/S,   P(|x| = k) = 2ρ(k)/S  (1 <= k <= B),
// where 0 gets no factor 2 because +0 and -0 are the same integer. The table cdf_[k] holds
// P(|x| <= k)·2^64 rounded to an integer, for k = 0..B-1 (P(|x| <= B) = 1 needs no entry). A
// uniform 64-bit u gives |x| = #{k : u >= cdf_[k]}, which equals k with probability
// (cdf_[k] - cdf_[k-1])/2^64. The table is built in long double (64-bit significand), so every
// probability is exact up to a few multiples of 2^-64.
//
// Tail: the mass of D_{Z,σ} beyond B is the statistical distance to our truncated law. Since
// ρ is decreasing on [B, ∞), Σ_{|x|>B} ρ(x) <= 2∫_B^∞ ρ(t)dt = σ√(2π)·erfc(B/(σ√2)), and
// ρ(Z) >= σ√(2π) (Poisson summation), so the tail mass is <= erfc(B/(σ√2)) <= erfc(tail_cut/√2).
// For tail_cut = 6 that is <= 2·exp(-18)/(6√(2π)) ≈ 2.0·10^-9 < 2^-28; for σ = 3.2 (B = 20) the
// exact tail is about 1.3·10^-10 ≈ 2^-32.9.
DiscreteGaussian::DiscreteGaussian(double sigma, double tail_cut) : sigma_(sigma) {
  if (!std::isfinite(sigma) || sigma <= 0) {
    throw std::invalid_argument("DiscreteGaussian: sigma must be finite and > 0, got " +
                                std::to_string(sigma));
  }
  if (!std::isfinite(tail_cut) || tail_cut < 6) {
    throw std::invalid_argument("DiscreteGaussian: tail_cut must be finite and >= 6, got " +
                                std::to_string(tail_cut));
  }
  constexpr double kMaxBound = 1 << 20;  // keeps the table (scanned whole per sample) sane
  const double bound = std::ceil(tail_cut * sigma);
  if (bound > kMaxBound) {
    throw std::invalid_argument("DiscreteGaussian: tail_cut·sigma must be <= 2^20, got " +
                                std::to_string(tail_cut * sigma));
  }
  bound_ = static_cast<int64_t>(bound);

  const long double two_sigma_sq = 2.0L * static_cast<long double>(sigma) * sigma;
  std::vector<long double> magnitude_weight(static_cast<size_t>(bound_) + 1);
  long double total = 0;  // S
  for (int64_t k = 0; k <= bound_; ++k) {
    const long double rho = std::exp(-static_cast<long double>(k) * k / two_sigma_sq);
    magnitude_weight[static_cast<size_t>(k)] = k == 0 ? rho : 2 * rho;
    total += magnitude_weight[static_cast<size_t>(k)];
  }

  const long double two_to_64 = std::ldexp(1.0L, 64);
  cdf_.resize(static_cast<size_t>(bound_));
  long double cumulative = 0;
  for (size_t k = 0; k < cdf_.size(); ++k) {
    cumulative += magnitude_weight[k];
    const long double scaled = std::nearbyint(cumulative / total * two_to_64);
    cdf_[k] = scaled >= two_to_64 ? ~uint64_t{0} : static_cast<uint64_t>(scaled);
  }
}

int64_t DiscreteGaussian::sample(Prng& prng) const {
  const uint64_t u = prng.next_u64();
  // Scan the whole table with no early exit and no data-dependent branch, so the time does
  // not depend on the value drawn.
  int64_t magnitude = 0;
  for (const uint64_t threshold : cdf_)
    magnitude += static_cast<int64_t>(u >= threshold);
  const int64_t negative = static_cast<int64_t>(prng.next_u32() & 1);
  return (magnitude ^ -negative) + negative;  // two's complement: -magnitude when negative
}

// The AVX-512 path reads the stream in chunks: sample() consumes 8 bytes (u) then 4 (sign), so
// sample i of a chunk is bytes [12i, 12i + 12), and the results equal the scalar path's.
std::vector<int64_t> DiscreteGaussian::sample_vector(Prng& prng, size_t n) const {
  std::vector<int64_t> out(n);
  if (simd_path() < SimdPath::avx512) {
    for (int64_t& x : out)
      x = sample(prng);
    return out;
  }
  constexpr size_t kChunk = 512;
  std::array<uint8_t, 12 * kChunk> bytes;
  for (size_t first = 0; first < n; first += kChunk) {
    const size_t count = std::min(kChunk, n - first);
    prng.fill(std::span<uint8_t>(bytes.data(), 12 * count));
    const size_t vectorised = count / 8 * 8;
    samplers_avx512::gaussian_from_bytes(bytes.data(), vectorised, cdf_.data(), cdf_.size(),
                                         out.data() + first);
    for (size_t i = vectorised; i < count; ++i) {
      uint64_t u = 0;
      uint32_t sign_word = 0;
      std::memcpy(&u, bytes.data() + 12 * i, 8);  // x86-64 is little-endian, as the stream
      std::memcpy(&sign_word, bytes.data() + 12 * i + 8, 4);
      int64_t magnitude = 0;
      for (const uint64_t threshold : cdf_)
        magnitude += static_cast<int64_t>(u >= threshold);
      const int64_t negative = static_cast<int64_t>(sign_word & 1);
      out[first + i] = (magnitude ^ -negative) + negative;
    }
  }
  explicit_bzero(bytes.data(), bytes.size());  // the noise is secret: leave no copy behind
  return out;
}

RnsPoly sample_uniform_poly(Prng& prng, std::shared_ptr<const RingContext> ring, PolyForm form) {
  if (!ring) throw std::invalid_argument("sample_uniform_poly: ring must not be null");
  // The NTT is a bijection on Z_q^n, so a uniform row is uniform in either form; likewise the
  // CRT makes independent uniform residues a uniform element of Z_Q.
  RnsPoly poly(ring, form);
  const size_t n = ring->n();
  for (size_t i = 0; i < ring->rns_size(); ++i) {
    const uint64_t q = ring->base()[i].value();
    uint64_t* row = poly.residues(i);
    for (size_t j = 0; j < n; ++j)
      row[j] = sample_uniform_below(prng, q);
  }
  return poly;
}

}  // namespace cryptonets
