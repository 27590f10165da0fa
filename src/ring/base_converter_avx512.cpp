// AVX-512 kernels of the exact base conversion (base_converter.cpp), eight columns at a time.
//
// Pass 1 (64-bit AVX-512): y_i = [x_i·m_i]_{a_i} by Shoup's multiplication and the double sum
// Σ y_i/a_i, with the same roundings as the scalar loop (a multiply then an add, no fused
// multiply-add), so the overflow estimates and the flagged columns are the scalar path's.
//
// Pass 2 (IFMA): Σ_i y_i·p_i with y_i, p_i < 2^62 split into 52-bit limbs y = yh·2^52 + yl,
// p = ph·2^52 + pl (yh, ph < 2^10):
//   y·p = yl·pl + (yl·ph + yh·pl)·2^52 + yh·ph·2^104,
// accumulated without carries in 64-bit words A0, A1, A2 of weights 1, 2^52, 2^104 by
// vpmadd52luq / vpmadd52huq (each adds a 52-bit half of a 104-bit product). For k ≤ 1000
// sources, A0 < k·2^52 and A1 < 3k·2^52 stay below 2^64. Then
//   S mod c = A0·1 + A1·(2^52 mod c) + A2·(2^104 mod c)  (mod c),
// each product by Shoup's multiplication (valid for any 64-bit multiplicand).
//
// Compiled per function with target attributes; base_converter.cpp calls in here only when
// simd_path() allows it.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"

#define CRYPTONETS_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#define CRYPTONETS_AVX512_IFMA \
  __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx512ifma")))

namespace cryptonets::base_converter_avx512 {

namespace {

CRYPTONETS_AVX512 inline __m512i set1(uint64_t x) {
  return _mm512_set1_epi64(static_cast<long long>(x));
}

CRYPTONETS_AVX512 inline __m512i subtract_if_at_least(__m512i x, __m512i m) {
  return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

// High 64 bits of x·y per lane from 32×32-bit partial products.
CRYPTONETS_AVX512 inline __m512i mul_high(__m512i x, __m512i y) {
  const __m512i low_mask = set1(0xffffffff);
  const __m512i x_high = _mm512_srli_epi64(x, 32), y_high = _mm512_srli_epi64(y, 32);
  const __m512i low_low = _mm512_mul_epu32(x, y);
  const __m512i low_high = _mm512_mul_epu32(x, y_high);
  const __m512i high_low = _mm512_mul_epu32(x_high, y);
  const __m512i high_high = _mm512_mul_epu32(x_high, y_high);
  const __m512i middle = _mm512_add_epi64(high_low, _mm512_srli_epi64(low_low, 32));
  const __m512i middle2 = _mm512_add_epi64(low_high, _mm512_and_si512(middle, low_mask));
  return _mm512_add_epi64(
      high_high, _mm512_add_epi64(_mm512_srli_epi64(middle, 32), _mm512_srli_epi64(middle2, 32)));
}

// x·w − floor(x·w'/2^64)·q in [0, 2q) for any 64-bit x.
CRYPTONETS_AVX512 inline __m512i mul_shoup_lazy(__m512i x, __m512i operand, __m512i quotient,
                                                __m512i q) {
  return _mm512_sub_epi64(_mm512_mullo_epi64(x, operand),
                          _mm512_mullo_epi64(mul_high(x, quotient), q));
}

}  // namespace

// y[col] = x[col]·m mod a and sum[col] += double(y[col])·inverse_a, for col < width (multiple
// of 8).
CRYPTONETS_AVX512 void shoup_and_sum(const uint64_t* x, size_t width, const ShoupMultiplier& m,
                                     uint64_t a, double inverse_a, uint64_t* y, double* sum) {
  const __m512i operand = set1(m.operand), quotient = set1(m.quotient), va = set1(a);
  const __m512d inverse = _mm512_set1_pd(inverse_a);
  for (size_t col = 0; col < width; col += 8) {
    const __m512i value = subtract_if_at_least(
        mul_shoup_lazy(_mm512_loadu_si512(x + col), operand, quotient, va), va);
    _mm512_storeu_si512(y + col, value);
    const __m512d term = _mm512_mul_pd(_mm512_cvtepi64_pd(value), inverse);
    _mm512_storeu_pd(sum + col, _mm512_add_pd(_mm512_loadu_pd(sum + col), term));
  }
}

// The overflow estimate per column (see BaseConverter::compute_y_and_overflow), width a multiple
// of 8. Returns the number of columns flagged.
CRYPTONETS_AVX512 size_t overflow_from_sum(const double* sum, size_t width, double margin,
                                           uint32_t flagged_overflow, uint32_t* overflow) {
  const __m512d half = _mm512_set1_pd(0.5), low = _mm512_set1_pd(margin),
                high = _mm512_set1_pd(1.0 - margin);
  const __m256i flagged_value = _mm256_set1_epi32(static_cast<int>(flagged_overflow));
  size_t flagged = 0;
  for (size_t col = 0; col < width; col += 8) {
    const __m512d r = _mm512_add_pd(_mm512_loadu_pd(sum + col), half);
    const __m512i v = _mm512_cvttpd_epu64(r);
    const __m512d fraction = _mm512_sub_pd(r, _mm512_cvtepu64_pd(v));
    const __mmask8 ambiguous = _mm512_cmp_pd_mask(fraction, low, _CMP_LT_OQ) |
                               _mm512_cmp_pd_mask(fraction, high, _CMP_GT_OQ);
    const __m256i value =
        _mm256_mask_blend_epi32(ambiguous, _mm512_cvtepi64_epi32(v), flagged_value);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(overflow + col), value);
    flagged += static_cast<size_t>(__builtin_popcount(ambiguous));
  }
  return flagged;
}

namespace {

// The three limb sums of Σ_i y_i·p_i for eight columns, each split over independent
// accumulators so that the multiply-adds do not wait on one another (IFMA latency is 4 cycles).
struct LimbSums {
  __m512i a0, a1[3], a2[3];
};

// Adds y·p for y = yh·2^52 + yl and p = ph·2^52 + pl. Where every y (kNarrowY) or p (kNarrowP) is
// below 2^52, its high limb is 0 and the products with it are left out: 4 multiply-adds instead
// of 7, or 2 when both are narrow (the 50-bit auxiliary primes of rlwe/rns_context.cpp).
template <bool kNarrowY, bool kNarrowP>
CRYPTONETS_AVX512_IFMA inline void add_term(LimbSums& s, __m512i yi, __m512i p_low,
                                            __m512i p_high) {
  // vpmadd52*uq read only the low 52 bits of each operand: a narrow y needs no masking.
  const __m512i y_low = kNarrowY ? yi : _mm512_and_si512(yi, set1((uint64_t{1} << 52) - 1));
  s.a0 = _mm512_madd52lo_epu64(s.a0, y_low, p_low);
  s.a1[0] = _mm512_madd52hi_epu64(s.a1[0], y_low, p_low);
  if constexpr (!kNarrowP) {
    s.a1[1] = _mm512_madd52lo_epu64(s.a1[1], y_low, p_high);
    s.a2[0] = _mm512_madd52hi_epu64(s.a2[0], y_low, p_high);
  }
  if constexpr (!kNarrowY) {
    const __m512i y_high = _mm512_srli_epi64(yi, 52);
    s.a1[2] = _mm512_madd52lo_epu64(s.a1[2], y_high, p_low);
    s.a2[1] = _mm512_madd52hi_epu64(s.a2[1], y_high, p_low);
    if constexpr (!kNarrowP) s.a2[2] = _mm512_madd52lo_epu64(s.a2[2], y_high, p_high);
  }
}

// (correction + A0 + A1·2^52 + A2·2^104) mod c in [0, c).
CRYPTONETS_AVX512_IFMA inline __m512i reduce_sums(const LimbSums& s, __m512i fix,
                                                  const ShoupMultiplier* reduce, __m512i vc) {
  const __m512i a1 = _mm512_add_epi64(_mm512_add_epi64(s.a1[0], s.a1[1]), s.a1[2]);
  const __m512i a2 = _mm512_add_epi64(_mm512_add_epi64(s.a2[0], s.a2[1]), s.a2[2]);
  const __m512i r0 = subtract_if_at_least(
      mul_shoup_lazy(s.a0, set1(reduce[0].operand), set1(reduce[0].quotient), vc), vc);
  const __m512i r1 = subtract_if_at_least(
      mul_shoup_lazy(a1, set1(reduce[1].operand), set1(reduce[1].quotient), vc), vc);
  const __m512i r2 = subtract_if_at_least(
      mul_shoup_lazy(a2, set1(reduce[2].operand), set1(reduce[2].quotient), vc), vc);
  const __m512i total = _mm512_add_epi64(_mm512_add_epi64(r0, r1), _mm512_add_epi64(r2, fix));
  return subtract_if_at_least(subtract_if_at_least(total, _mm512_add_epi64(vc, vc)), vc);
}

CRYPTONETS_AVX512_IFMA inline __m512i gather_correction(const uint64_t* correction,
                                                        const uint32_t* overflow) {
  const __m512i index =
      _mm512_cvtepu32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(overflow)));
  return _mm512_i64gather_epi64(index, correction, 8);
}

}  // namespace

namespace {

template <bool kNarrowY, bool kNarrowP>
CRYPTONETS_AVX512_IFMA void accumulate(size_t k, const uint64_t* y, size_t stride,
                                       const uint64_t* punctured, const uint64_t* correction,
                                       const uint32_t* overflow, const ShoupMultiplier* reduce,
                                       uint64_t c, size_t width, uint64_t* out) {
  const __m512i vc = set1(c), zero = _mm512_setzero_si512();
  const uint64_t mask52 = (uint64_t{1} << 52) - 1;
  size_t col = 0;
  for (; col + 16 <= width; col += 16) {
    LimbSums first{zero, {zero, zero, zero}, {zero, zero, zero}}, second = first;
    for (size_t i = 0; i < k; ++i) {
      const __m512i p_low = set1(punctured[i] & mask52), p_high = set1(punctured[i] >> 52);
      add_term<kNarrowY, kNarrowP>(first, _mm512_loadu_si512(y + i * stride + col), p_low, p_high);
      add_term<kNarrowY, kNarrowP>(second, _mm512_loadu_si512(y + i * stride + col + 8), p_low,
                                   p_high);
    }
    _mm512_storeu_si512(
        out + col, reduce_sums(first, gather_correction(correction, overflow + col), reduce, vc));
    _mm512_storeu_si512(
        out + col + 8,
        reduce_sums(second, gather_correction(correction, overflow + col + 8), reduce, vc));
  }
  for (; col < width; col += 8) {
    LimbSums sums{zero, {zero, zero, zero}, {zero, zero, zero}};
    for (size_t i = 0; i < k; ++i) {
      add_term<kNarrowY, kNarrowP>(sums, _mm512_loadu_si512(y + i * stride + col),
                                   set1(punctured[i] & mask52), set1(punctured[i] >> 52));
    }
    _mm512_storeu_si512(
        out + col, reduce_sums(sums, gather_correction(correction, overflow + col), reduce, vc));
  }
}

}  // namespace

// out[col] = (correction[overflow[col]] + Σ_i y[i·stride + col]·punctured[i]) mod c for
// col < width (multiple of 8). y_i < 2^62, punctured[i] < c < 2^62, k ≤ 1000, correction < c.
// narrow_y: every y_i < 2^52 (all source moduli at most 2^52); narrow_p: every punctured[i] <
// 2^52 (c at most 2^52). reduce: Shoup multipliers of 1, 2^52 mod c and 2^104 mod c. Sixteen
// columns per step where possible, so each broadcast constant serves two vectors.
CRYPTONETS_AVX512_IFMA void accumulate_ifma(size_t k, const uint64_t* y, size_t stride,
                                            const uint64_t* punctured, const uint64_t* correction,
                                            const uint32_t* overflow, const ShoupMultiplier* reduce,
                                            uint64_t c, size_t width, uint64_t* out, bool narrow_y,
                                            bool narrow_p) {
  const auto kernel = narrow_y ? (narrow_p ? accumulate<true, true> : accumulate<true, false>)
                               : (narrow_p ? accumulate<false, true> : accumulate<false, false>);
  kernel(k, y, stride, punctured, correction, overflow, reduce, c, width, out);
}

}  // namespace cryptonets::base_converter_avx512
