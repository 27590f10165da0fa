#include "cryptonets/ring/base_converter.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace cryptonets {

namespace {

uint64_t mpz_mod_word(const mpz_class& x, uint64_t m) {
  mpz_class r;
  mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), m);
  return r.get_ui();
}

// The fractional part of Σ y_i / a_i is within this distance of 1/2 only when x is within about
// kAmbiguity·A of ±A/2; double rounding error is below k · 2^-51, far smaller.
constexpr double kAmbiguity = 0x1p-40;

}  // namespace

BaseConverter::BaseConverter(const RnsBase& from, std::vector<Modulus> to)
    : from_(from), to_(std::move(to)) {
  if (to_.empty()) throw std::invalid_argument("BaseConverter: empty target base");
  const size_t k = from_.size();
  if (k > 1000) throw std::invalid_argument("BaseConverter: source base too large");
  int from_bits = 0, to_bits = 0;
  for (size_t i = 0; i < k; ++i) {
    inverse_from_.push_back(1.0 / static_cast<double>(from_[i].value()));
    from_bits = std::max(from_bits, from_[i].bits());
  }
  for (const Modulus& c : to_)
    to_bits = std::max(to_bits, c.bits());
  // Each product y_i·(â_i mod c) is below 2^(from_bits + to_bits); Modulus::reduce takes values
  // below 2^126.
  chunk_ = size_t{1} << std::min(30, 125 - from_bits - to_bits);
  for (const Modulus& c : to_) {
    for (size_t i = 0; i < k; ++i) {
      punctured_mod_to_.push_back(mpz_mod_word(from_.punctured_product(i), c.value()));
    }
    const uint64_t a_mod_c = mpz_mod_word(from_.product(), c.value());
    for (size_t v = 0; v <= k; ++v)
      overflow_correction_.push_back(mul_mod(v % c.value(), a_mod_c, c));
  }
}

size_t BaseConverter::fallback_count() const {
  return fallbacks_.load();
}

void BaseConverter::convert_exactly(const uint64_t* in, uint64_t* out, size_t n,
                                    size_t column) const {
  mpz_class x = from_.compose_centered(in + column, n);
  for (size_t j = 0; j < to_.size(); ++j) {
    mpz_class r;
    mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), to_[j].value());
    out[j * n + column] = r.get_ui();
  }
}

void BaseConverter::convert_centered(const uint64_t* in, uint64_t* out, size_t n) const {
  const size_t k = from_.size();
  const size_t target_count = to_.size();
#pragma omp parallel
  {
    std::vector<uint64_t> y(k);
    size_t local_fallbacks = 0;
#pragma omp for schedule(static)
    for (size_t col = 0; col < n; ++col) {
      double sum = 0.0;
      for (size_t i = 0; i < k; ++i) {
        y[i] = mul_shoup(in[i * n + col], from_.punctured_inverse(i), from_[i].value());
        sum += static_cast<double>(y[i]) * inverse_from_[i];
      }
      const double floor_sum = std::floor(sum);
      if (std::fabs(sum - floor_sum - 0.5) < kAmbiguity) {
        convert_exactly(in, out, n, col);
        ++local_fallbacks;
        continue;
      }
      const size_t v = static_cast<size_t>(floor_sum) + (sum - floor_sum > 0.5 ? 1 : 0);
      for (size_t j = 0; j < target_count; ++j) {
        const Modulus& c = to_[j];
        const uint64_t* punctured = punctured_mod_to_.data() + j * k;
        // Σ y_i·(â_i mod c) with lazy 128-bit accumulation, reduced every chunk_ terms.
        // (No division in the loop: the chunk boundary is a loop bound.)
        u128 s = 0;
        for (size_t first = 0; first < k; first += chunk_) {
          const size_t last = std::min(k, first + chunk_);
          for (size_t i = first; i < last; ++i)
            s += static_cast<u128>(y[i]) * punctured[i];
          if (last < k) s = c.reduce(s);
        }
        const uint64_t acc = c.reduce(s);
        out[j * n + col] = sub_mod(acc, overflow_correction_[j * (k + 1) + v], c);
      }
    }
    if (local_fallbacks != 0) fallbacks_ += local_fallbacks;
  }
}

}  // namespace cryptonets
