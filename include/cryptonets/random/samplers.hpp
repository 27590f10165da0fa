// Samplers for the distributions YASHE' needs. Every sampler takes the generator explicitly.
// Reference twin: none for any of them; each is tested against its distribution
// (tests/test_samplers.cpp: χ² uniformity, frequencies, the exact discrete Gaussian law).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/ring/poly.hpp"

namespace cryptonets {

// Uniform on [0, bound) by rejection sampling: no modulo bias. bound >= 1 (std::invalid_argument
// for 0).
uint64_t sample_uniform_below(Prng& prng, uint64_t bound);

// n coefficients uniform in {-1, 0, 1}.
std::vector<int64_t> sample_ternary(Prng& prng, size_t n);

// Discrete Gaussian over Z with parameter sigma (standard deviation), centred at 0, cut at
// tail_cut·sigma. Throws std::invalid_argument unless sigma > 0, tail_cut >= 6 (both finite) and
// tail_cut·sigma <= 2^20. See samplers.cpp for the method.
class DiscreteGaussian {
 public:
  explicit DiscreteGaussian(double sigma = 3.2, double tail_cut = 6.0);
  int64_t sample(Prng& prng) const;
  std::vector<int64_t> sample_vector(Prng& prng, size_t n) const;
  double sigma() const { return sigma_; }
  int64_t bound() const { return bound_; }  // |sample| <= bound

 private:
  double sigma_;
  int64_t bound_;
  std::vector<uint64_t> cdf_;  // see samplers.cpp
};

// A polynomial uniform over R_Q (each residue uniform mod its prime, which by the CRT is uniform
// mod Q), in the requested form (a uniform polynomial is uniform in either form). Throws
// std::invalid_argument for a null ring.
RnsPoly sample_uniform_poly(Prng& prng, std::shared_ptr<const RingContext> ring, PolyForm form);

}  // namespace cryptonets
