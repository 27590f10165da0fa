#include "cryptonets/ring/base_converter.hpp"

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "cryptonets/arith/simd.hpp"
#include "cryptonets/ring/page_buffer.hpp"

namespace cryptonets {

// The AVX-512 kernels (base_converter_avx512.cpp); widths are multiples of 8.
namespace base_converter_avx512 {
void shoup_and_sum(const uint64_t* x, size_t width, const ShoupMultiplier& m, uint64_t a,
                   double inverse_a, uint64_t* y, double* sum);
size_t overflow_from_sum(const double* sum, size_t width, double margin, uint32_t flagged_overflow,
                         uint32_t* overflow);
void accumulate_ifma(size_t k, const uint64_t* y, size_t stride, const uint64_t* punctured,
                     const uint64_t* correction, const uint32_t* overflow,
                     const ShoupMultiplier* reduce, uint64_t c, size_t width, uint64_t* out,
                     bool narrow_y, bool narrow_p);
}  // namespace base_converter_avx512

namespace {

uint64_t mpz_mod_word(const mpz_class& x, uint64_t m) {
  mpz_class r;
  mpz_fdiv_r_ui(r.get_mpz_t(), x.get_mpz_t(), m);
  return r.get_ui();
}

// Unit roundoff of IEEE double.
constexpr double kRoundoff = 0x1p-53;
// Smallest margin around 1/2 that is flagged, whatever k: keeps the fallback rate negligible
// (inputs within about 2^-40·A of ±A/2) while leaving a wide safety factor for small k.
constexpr double kMinimumAmbiguity = 0x1p-40;
// The y block of one cache block should take about this many bytes (half of a 32 KiB L1).
constexpr size_t kBlockBytes = 16 * 1024;
// The IFMA limb: vpmadd52luq/huq multiply the low 52 bits of their operands.
constexpr uint64_t kIfmaLimb = uint64_t{1} << 52;
// Per-thread scratch space, grown on demand and reused across calls (no allocation per call), in
// pages of its own (page_buffer.hpp): every thread writes its own on every call.
struct Scratch {
  PageBuffer<uint64_t> y;
  PageBuffer<double> sum;
  PageBuffer<uint32_t> overflow;
};

Scratch& thread_scratch(size_t k, size_t block) {
  thread_local Scratch scratch;
  scratch.y.ensure(k * block);
  scratch.sum.ensure(block);
  scratch.overflow.ensure(block);
  return scratch;
}

// Pass 2 with the source count known at compile time, so the sum over i is fully unrolled.
template <size_t K, typename Reducer>
void accumulate_fixed(const uint64_t* y, size_t stride, const uint64_t* punctured,
                      const uint64_t* correction, const uint32_t* overflow, const Reducer& reducer,
                      size_t width, uint64_t* out_row) {
  uint64_t p[K];
  for (size_t i = 0; i < K; ++i)
    p[i] = punctured[i];
  for (size_t col = 0; col < width; ++col) {
    u128 s = correction[overflow[col]];
    for (size_t i = 0; i < K; ++i)
      s += static_cast<u128>(y[i * stride + col]) * p[i];
    out_row[col] = reducer.reduce(s);
  }
}

// Pass 2 when the whole sum Σ y_i·p_i + correction fits 128 bits: one reduction per coefficient.
template <typename Reducer>
void accumulate_single_reduction(size_t k, const uint64_t* y, size_t stride,
                                 const uint64_t* punctured, const uint64_t* correction,
                                 const uint32_t* overflow, const Reducer& reducer, size_t width,
                                 uint64_t* out_row) {
  switch (k) {
#define CRYPTONETS_FIXED_SOURCE_COUNT(K)                                                      \
  case K:                                                                                     \
    accumulate_fixed<K>(y, stride, punctured, correction, overflow, reducer, width, out_row); \
    return;
    CRYPTONETS_FIXED_SOURCE_COUNT(1)
    CRYPTONETS_FIXED_SOURCE_COUNT(2)
    CRYPTONETS_FIXED_SOURCE_COUNT(3)
    CRYPTONETS_FIXED_SOURCE_COUNT(4)
    CRYPTONETS_FIXED_SOURCE_COUNT(5)
    CRYPTONETS_FIXED_SOURCE_COUNT(6)
    CRYPTONETS_FIXED_SOURCE_COUNT(7)
    CRYPTONETS_FIXED_SOURCE_COUNT(8)
    CRYPTONETS_FIXED_SOURCE_COUNT(9)
    CRYPTONETS_FIXED_SOURCE_COUNT(10)
    CRYPTONETS_FIXED_SOURCE_COUNT(11)
    CRYPTONETS_FIXED_SOURCE_COUNT(12)
#undef CRYPTONETS_FIXED_SOURCE_COUNT
    default:
      break;
  }
  for (size_t col = 0; col < width; ++col) {
    u128 s = correction[overflow[col]];
    for (size_t i = 0; i < k; ++i)
      s += static_cast<u128>(y[i * stride + col]) * punctured[i];
    out_row[col] = reducer.reduce(s);
  }
}

}  // namespace

BaseConverter::MontgomeryReducer::MontgomeryReducer(uint64_t modulus) : c(modulus) {
  // c^-1 mod 2^64 by Newton's iteration x <- x·(2 - c·x), which doubles the correct low bits;
  // x = c is right to 3 bits for odd c.
  uint64_t inverse = modulus;
  for (int step = 0; step < 5; ++step)
    inverse *= 2 - modulus * inverse;
  minus_c_inverse = uint64_t{0} - inverse;
}

BaseConverter::BaseConverter(const RnsBase& from, std::vector<Modulus> to)
    : from_(from), to_(std::move(to)) {
  if (to_.empty()) throw std::invalid_argument("BaseConverter: empty target base");
  const size_t k = from_.size();
  if (k > 1000) throw std::invalid_argument("BaseConverter: source base too large");
  int from_bits = 0, to_bits = 0;
  for (size_t i = 0; i < k; ++i) {
    inverse_from_.push_back(1.0 / static_cast<double>(from_[i].value()));
    punctured_inverse_.push_back(from_.punctured_inverse(i));
    from_bits = std::max(from_bits, from_[i].bits());
  }
  for (const Modulus& c : to_)
    to_bits = std::max(to_bits, c.bits());
  // Error of the computed r = Σ_i y_i/a_i + 1/2 (summed left to right, then 1/2 added):
  // each term y_i·fl(1/a_i) is below 1 and off by at most 3u (conversion of y_i, the inverse,
  // the product); the m-th partial sum is below m and its addition errs by at most m·u; adding
  // 1/2 errs by at most (k + 1)·u. In all E <= u·(k²/2 + 4k + 1) < u·(k² + 5k + 2) (Higham,
  // "Accuracy and Stability of Numerical Algorithms", §4.2). Twice that is the margin.
  const double kd = static_cast<double>(k);
  ambiguity_margin_ = std::max(kMinimumAmbiguity, 2 * kRoundoff * (kd * kd + 5 * kd + 2));
  // Each product y_i·(â_i mod c) is below 2^(from_bits + to_bits) and the correction term below
  // 2^62; WideReducer takes any value below 2^128.
  chunk_ = size_t{1} << std::min(30, 127 - from_bits - to_bits);
  block_size_ = std::clamp(kBlockBytes / sizeof(uint64_t) / k / 16 * 16, size_t{16}, size_t{1024});
  flagged_overflow_ = static_cast<uint32_t>(k + 1);
  uint64_t largest_from = 0;
  for (size_t i = 0; i < k; ++i)
    largest_from = std::max(largest_from, from_[i].value());
  for (const Modulus& c : to_) {
    // Montgomery's reduction (below) needs an odd c and a sum below c·2^64. The sum is at most
    // k·(a_max - 1)·(c - 1) + (c - 1), which fits 128 bits whenever k <= chunk_.
    const bool montgomery =
        c.value() % 2 == 1 && k <= chunk_ &&
        k * static_cast<u128>(largest_from - 1) * (c.value() - 1) + (c.value() - 1) <
            static_cast<u128>(c.value()) << 64;
    // Constants in Montgomery form carry the factor 2^64 that the reduction divides out.
    const uint64_t scale = montgomery ? static_cast<uint64_t>((u128{1} << 64) % c.value()) : 1;
    for (size_t i = 0; i < k; ++i) {
      const uint64_t punctured = mpz_mod_word(from_.punctured_product(i), c.value());
      punctured_mod_to_.push_back(mul_mod(punctured, scale, c));
    }
    const uint64_t a_mod_c = mpz_mod_word(from_.product(), c.value());
    // Stored negated so that it joins the sum before the single reduction.
    for (size_t v = 0; v <= k; ++v) {
      const uint64_t minus_va = neg_mod(mul_mod(v % c.value(), a_mod_c, c), c);
      overflow_correction_.push_back(mul_mod(minus_va, scale, c));
    }
    overflow_correction_.push_back(0);  // flagged columns: overwritten by the exact fallback
    reducers_.emplace_back(c.value());
    montgomery_reducers_.emplace_back(montgomery ? c.value() : 1);
    // The IFMA pass 2 takes the constants as plain residues, and reduces its three limb sums
    // with 1, 2^52 and 2^104 modulo c.
    for (size_t i = 0; i < k; ++i)
      punctured_plain_.push_back(mpz_mod_word(from_.punctured_product(i), c.value()));
    for (size_t v = 0; v <= k; ++v)
      correction_plain_.push_back(neg_mod(mul_mod(v % c.value(), a_mod_c, c), c));
    correction_plain_.push_back(0);
    const uint64_t two52 = (uint64_t{1} << 52) % c.value();
    ifma_reduce_.emplace_back(1 % c.value(), c);
    ifma_reduce_.emplace_back(two52, c);
    ifma_reduce_.emplace_back(mul_mod(two52, two52, c), c);
    montgomery_.push_back(montgomery ? 1 : 0);
  }
  narrow_sources_ = std::all_of(from_.moduli().begin(), from_.moduli().end(),
                                [](const Modulus& a) { return a.value() <= kIfmaLimb; });
}

size_t BaseConverter::fallback_count() const {
  return fallbacks_.load();
}

void BaseConverter::convert_exactly(const uint64_t* y, size_t stride, uint64_t* out,
                                    size_t n) const {
  mpz_class x = 0;
  for (size_t i = 0; i < from_.size(); ++i) {
    mpz_addmul_ui(x.get_mpz_t(), from_.punctured_product(i).get_mpz_t(), y[i * stride]);
  }
  const mpz_class& a = from_.product();
  mpz_fdiv_r(x.get_mpz_t(), x.get_mpz_t(), a.get_mpz_t());
  if (2 * x > a) x -= a;  // A is odd: the centred range is (-A/2, A/2)
  for (size_t j = 0; j < to_.size(); ++j)
    out[j * n] = mpz_mod_word(x, to_[j].value());
}

size_t BaseConverter::compute_y_and_overflow(const uint64_t* in, const ShoupMultiplier* multipliers,
                                             size_t n, size_t first, size_t width, uint64_t* y,
                                             double* sum, uint32_t* overflow) const {
  const size_t k = from_.size();
  std::fill(sum, sum + width, 0.0);
  // The AVX-512 kernels take the first multiple of 8 columns, the loops below the rest.
  const size_t vector_width = simd_path() >= SimdPath::avx512 ? width / 8 * 8 : 0;
  for (size_t i = 0; i < k; ++i) {
    const uint64_t* x_i = in + i * n + first;
    uint64_t* y_i = y + i * block_size_;
    const ShoupMultiplier multiplier = multipliers[i];
    const uint64_t a_i = from_[i].value();
    const double inverse_a_i = inverse_from_[i];
    if (vector_width > 0) {
      base_converter_avx512::shoup_and_sum(x_i, vector_width, multiplier, a_i, inverse_a_i, y_i,
                                           sum);
    }
    for (size_t col = vector_width; col < width; ++col) {
      const uint64_t value = mul_shoup(x_i[col], multiplier, a_i);
      y_i[col] = value;
      // y < 2^62 fits a signed word, whose conversion to double is a single instruction.
      sum[col] += static_cast<double>(static_cast<int64_t>(value)) * inverse_a_i;
    }
  }
  // r = Σ y_i/a_i + 1/2 lies in [0, k + 1): truncation is floor, and v = floor(r) is the rounded
  // sum. The subtraction r - v is exact (Sterbenz), so only the sum's error matters (see the
  // constructor).
  size_t flagged = vector_width == 0
                       ? 0
                       : base_converter_avx512::overflow_from_sum(
                             sum, vector_width, ambiguity_margin_, flagged_overflow_, overflow);
  for (size_t col = vector_width; col < width; ++col) {
    const double r = sum[col] + 0.5;
    const uint64_t v = static_cast<uint64_t>(r);
    const double fraction = r - static_cast<double>(v);
    const bool ambiguous = fraction < ambiguity_margin_ || fraction > 1.0 - ambiguity_margin_;
    overflow[col] = ambiguous ? flagged_overflow_ : static_cast<uint32_t>(v);
    flagged += ambiguous ? 1 : 0;
  }
  return flagged;
}

void BaseConverter::accumulate_target(size_t j, const uint64_t* y, const uint32_t* overflow,
                                      size_t width, uint64_t* out_row) const {
  const size_t k = from_.size();
  const size_t stride = block_size_;
  if (simd_path() == SimdPath::avx512ifma && width >= 8) {
    const size_t vector_width = width / 8 * 8;
    base_converter_avx512::accumulate_ifma(
        k, y, stride, punctured_plain_.data() + j * k, correction_plain_.data() + j * (k + 2),
        overflow, ifma_reduce_.data() + 3 * j, to_[j].value(), vector_width, out_row,
        narrow_sources_, to_[j].value() <= kIfmaLimb);
    if (vector_width == width) return;
    y += vector_width;
    overflow += vector_width;
    out_row += vector_width;
    width -= vector_width;
  }
  const uint64_t* punctured = punctured_mod_to_.data() + j * k;
  const uint64_t* correction = overflow_correction_.data() + j * (k + 2);
  if (montgomery_[j]) {
    accumulate_single_reduction(k, y, stride, punctured, correction, overflow,
                                montgomery_reducers_[j], width, out_row);
    return;
  }
  const WideReducer& reducer = reducers_[j];
  if (k <= chunk_) {
    accumulate_single_reduction(k, y, stride, punctured, correction, overflow, reducer, width,
                                out_row);
    return;
  }
  for (size_t col = 0; col < width; ++col) {
    u128 s = correction[overflow[col]];
    for (size_t start = 0; start < k; start += chunk_) {
      const size_t last = std::min(k, start + chunk_);
      for (size_t i = start; i < last; ++i)
        s += static_cast<u128>(y[i * stride + col]) * punctured[i];
      if (last < k) s = reducer.reduce(s);
    }
    out_row[col] = reducer.reduce(s);
  }
}

void BaseConverter::convert_block(const uint64_t* in, const ShoupMultiplier* multipliers,
                                  uint64_t* out, size_t n, size_t first, size_t width) const {
  Scratch& scratch = thread_scratch(from_.size(), block_size_);
  uint64_t* y = scratch.y.data();
  uint32_t* overflow = scratch.overflow.data();
  const size_t flagged =
      compute_y_and_overflow(in, multipliers, n, first, width, y, scratch.sum.data(), overflow);
  for (size_t j = 0; j < to_.size(); ++j)
    accumulate_target(j, y, overflow, width, out + j * n + first);
  if (flagged == 0) return;
  for (size_t col = 0; col < width; ++col) {
    if (overflow[col] == flagged_overflow_)
      convert_exactly(y + col, block_size_, out + first + col, n);
  }
  fallbacks_ += flagged;
}

void BaseConverter::convert_with(const uint64_t* in, const ShoupMultiplier* multipliers,
                                 uint64_t* out, size_t n) const {
  const size_t block = block_size_;
  const size_t block_count = (n + block - 1) / block;
  // One thread: callers parallelise over ciphertexts (a parallel region per conversion cost more
  // than it saved on a shared machine, and oversubscribed the callers' threads).
  for (size_t b = 0; b < block_count; ++b)
    convert_block(in, multipliers, out, n, b * block, std::min(block, n - b * block));
}

void BaseConverter::convert_centered(const uint64_t* in, uint64_t* out, size_t n) const {
  convert_with(in, punctured_inverse_.data(), out, n);
}

void BaseConverter::convert_centered_scaled(const uint64_t* in, const uint64_t* factors,
                                            uint64_t* out, size_t n) const {
  std::vector<ShoupMultiplier> multipliers;
  multipliers.reserve(from_.size());
  for (size_t i = 0; i < from_.size(); ++i) {
    assert(factors[i] < from_[i].value());
    multipliers.emplace_back(mul_mod(factors[i], punctured_inverse_[i].operand, from_[i]),
                             from_[i]);
  }
  convert_with(in, multipliers.data(), out, n);
}

}  // namespace cryptonets
