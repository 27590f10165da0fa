// The fused linear kernel's AVX-512 path for small weights (|w| < 2^20): the AVX2 kernel of
// linear_kernel_avx2.cpp (see its comments for the arithmetic and the overflow bounds) on eight
// 64-bit lanes instead of four, bit-for-bit equal to the scalar 128-bit path of
// encrypted_arithmetic.cpp (tested against it). Self-contained: it shares no code with the AVX2
// file, only the interface. Compiled per function with a target attribute; the caller checks the
// CPU through simd_path().

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include "linear_kernel_avx512.hpp"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/arith/uint128.hpp"

#define CRYPTONETS_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

namespace cryptonets::inference::linear_avx512 {

bool cpu_supported() {
  return simd_path_supported(SimdPath::avx512);
}

// (hi·2^32 + lo) mod q for eight lanes, exactly, when the value is below 2^48·q and q < 2^60.
// A quotient estimate from double precision, e = ⌊fl(fl(fl(hi)·2^32 + fl(lo))·fl(1/q))⌋, is off
// by at most one: the quotient is below 2^48, and five roundings (relative error 2^-53 each) move
// it by less than 2^48·2^-50 < 1. The remainder r = value − e·q then lies in [−q, 2q), so its low
// 64 bits (computed modulo 2^64) are r itself read as signed, and one conditional add and one
// conditional subtract bring it into [0, q). Replaces 8 scalar 128-bit reductions per vector.
CRYPTONETS_AVX512 __m512i reduce_split_sum(__m512i hi, __m512i lo, __m512i q, __m512d inverse_q) {
  const __m512d two_32 = _mm512_set1_pd(4294967296.0);
  const __m512d value = _mm512_fmadd_pd(_mm512_cvtepu64_pd(hi), two_32, _mm512_cvtepu64_pd(lo));
  const __m512i estimate = _mm512_cvttpd_epu64(_mm512_mul_pd(value, inverse_q));
  __m512i r = _mm512_sub_epi64(_mm512_add_epi64(lo, _mm512_slli_epi64(hi, 32)),
                               _mm512_mullo_epi64(estimate, q));
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, q);
  return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, q), r, q);
}

// out[x] = Σ_k sign_k·magnitude_k·inputs[k][x] mod q for x < width (a multiple of 16), where
// inputs[k] points at the first coefficient of the block. magnitude_k < 2^weight_bits,
// weight_bits <= 20. A negative weight multiplies q − x = (x XOR m) + (q + 1) for m all ones.
// When all terms fit one pass of the 64-bit lanes (2^(32 − weight_bits) terms, enough for a
// convolution's window) the sums are reduced in vectors (reduce_split_sum); longer rows fold
// each pass into 128-bit totals and reduce them one by one.
CRYPTONETS_AVX512 void signed_small_weight_sum(const uint64_t* const* inputs,
                                               const uint32_t* magnitudes, const uint8_t* negative,
                                               size_t terms, int weight_bits, const Modulus& q,
                                               size_t width, uint64_t* out) {
  const size_t chunk = size_t{1} << (32 - weight_bits);
  const __m512i q_plus_one = _mm512_set1_epi64(static_cast<long long>(q.value() + 1));
  // Every term adds below 2^weight_bits·q, so the sum is below terms·2^weight_bits·q.
  const bool vector_reduction =
      terms <= chunk && q.bits() <= 60 && std::bit_width(terms) + weight_bits <= 48;
  const __m512i q_vector = _mm512_set1_epi64(static_cast<long long>(q.value()));
  const __m512d inverse_q = _mm512_set1_pd(1.0 / static_cast<double>(q.value()));
  for (size_t begin = 0; begin < width; begin += 16) {
    u128 total[16] = {};
    for (size_t first = 0; first < terms; first += chunk) {
      const size_t last = std::min(terms, first + chunk);
      __m512i lo[2], hi[2];
      for (int r = 0; r < 2; ++r)
        lo[r] = hi[r] = _mm512_setzero_si512();
      for (size_t k = first; k < last; ++k) {
        const __m512i a = _mm512_set1_epi64(magnitudes[k]);
        const __m512i mask = _mm512_set1_epi64(negative[k] ? -1 : 0);
        const __m512i offset = _mm512_and_si512(mask, q_plus_one);
        const uint64_t* in = inputs[k] + begin;
        for (int r = 0; r < 2; ++r) {
          __m512i x = _mm512_loadu_si512(in + 8 * r);
          x = _mm512_add_epi64(_mm512_xor_si512(x, mask), offset);
          lo[r] = _mm512_add_epi64(lo[r], _mm512_mul_epu32(x, a));
          hi[r] = _mm512_add_epi64(hi[r], _mm512_mul_epu32(_mm512_srli_epi64(x, 32), a));
        }
      }
      if (vector_reduction) {
        for (int r = 0; r < 2; ++r) {
          _mm512_storeu_si512(out + begin + 8 * r,
                              reduce_split_sum(hi[r], lo[r], q_vector, inverse_q));
        }
        break;  // terms <= chunk: this was the only pass
      }
      alignas(64) uint64_t lo_words[16], hi_words[16];
      for (int r = 0; r < 2; ++r) {
        _mm512_store_si512(lo_words + 8 * r, lo[r]);
        _mm512_store_si512(hi_words + 8 * r, hi[r]);
      }
      for (int x = 0; x < 16; ++x)
        total[x] += (static_cast<u128>(hi_words[x]) << 32) + lo_words[x];
    }
    if (vector_reduction && terms > 0) continue;
    for (int x = 0; x < 16; ++x)
      out[begin + x] = q.reduce(total[x]);
  }
}

// packed[((s·count + j)·2 + h)·8 + l] = half h (0: x_lo = x mod 2^31, 1: x_hi = x >> 31) of
// inputs[j][8s + l], for the width / 8 slices s of 8 coefficients (width a multiple of 8).
CRYPTONETS_AVX512 void split_block(const uint64_t* const* inputs, size_t count, size_t width,
                                   uint64_t* packed) {
  const __m512i low_mask = _mm512_set1_epi64((int64_t{1} << 31) - 1);
  for (size_t j = 0; j < count; ++j) {
    for (size_t s = 0; s < width / 8; ++s) {
      const __m512i x = _mm512_loadu_si512(inputs[j] + 8 * s);
      uint64_t* to = packed + (s * count + j) * 16;
      _mm512_storeu_si512(to, _mm512_and_si512(x, low_mask));
      _mm512_storeu_si512(to + 8, _mm512_srli_epi64(x, 31));
    }
  }
}

// v mod q for eight lanes of v = hi·2^31 + lo, hi and lo signed, exactly, when |v| < 2^46·q
// and q < 2^60 (the grouped kernel's sums after one pass: see below). The quotient estimate
// e = ⌊fl(fl(fl(hi)·2^31 + fl(lo))·fl(1/q))⌋ is off by at most one: |v / q| < 2^46, and the
// roundings, relative to |hi|·2^31 + |lo| <= 2·2^46·q at most, move it by less than 1/8. So
// r = v − e·q lies in [−q, 2q); computed modulo 2^64 (lo + (hi << 31) − e·q, every step
// wrapping) it is r itself read as signed, and one conditional add and one conditional subtract
// bring it into [0, q). Replaces eight 128-bit totals and eight scalar reductions per vector:
// for the 100 → 10 output layer these were half the kernel's time.
CRYPTONETS_AVX512 inline __attribute__((always_inline)) __m512i reduce_signed_split_sum(
    __m512i hi, __m512i lo, __m512i q, __m512d inverse_q) {
  const __m512d two_31 = _mm512_set1_pd(2147483648.0);
  const __m512d value = _mm512_fmadd_pd(_mm512_cvtepi64_pd(hi), two_31, _mm512_cvtepi64_pd(lo));
  const __m512d quotient = _mm512_roundscale_pd(_mm512_mul_pd(value, inverse_q),
                                                _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512i estimate = _mm512_cvttpd_epi64(quotient);  // exact: an integer below 2^47
  __m512i r = _mm512_sub_epi64(_mm512_add_epi64(lo, _mm512_slli_epi64(hi, 31)),
                               _mm512_mullo_epi64(estimate, q));
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, q);
  return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, q), r, q);
}

// For g < kGroupOutputs with out[g] != nullptr and x < width:
//   out[g][x] = Σ_k weights[k·kGroupOutputs + g] · input_{members[k]}[x] mod q,
// reading the inputs from split_block's `packed` (of `count` inputs). |weights| < 2^weight_bits,
// weight_bits <= 20; terms < 2^32. Signed 32×32-bit products of the 31-bit halves, 2^(32−b)
// terms per 64-bit lane before folding into signed 128-bit totals (as in the AVX2 kernel).
// When all terms fit one pass and the sums stay below 2^46·q (2^(46 − b) terms), the lanes are
// reduced in vectors instead (reduce_signed_split_sum).
CRYPTONETS_AVX512 void grouped_signed_weight_sum(const uint64_t* packed, size_t count, size_t width,
                                                 const uint32_t* members, size_t terms,
                                                 const int32_t* weights, int weight_bits,
                                                 const Modulus& q, uint64_t* const* out) {
  const size_t chunk = size_t{1} << (32 - weight_bits);
  // Σ_k w_k·x_k with |w_k| < 2^b and x_k < q is below 2^(bit_width(terms) + b)·q in magnitude.
  const bool vector_reduction =
      terms <= chunk && q.bits() <= 60 && std::bit_width(terms) + weight_bits <= 46;
  const __m512i q_vector = _mm512_set1_epi64(static_cast<long long>(q.value()));
  const __m512d inverse_q = _mm512_set1_pd(1.0 / static_cast<double>(q.value()));
  // A multiple of q in [2^116, 2^117): total + bias lies in (0, 2^118), within Modulus::reduce.
  const u128 bias = static_cast<u128>(q.value()) << (117 - std::bit_width(q.value()));
  // lo[g] += Σ w·x_lo and hi[g] += Σ w·x_hi over the terms [first, last) of one slice.
  const auto accumulate = [&](const uint64_t* slice, size_t first, size_t last, __m512i* lo,
                              __m512i* hi) CRYPTONETS_AVX512 {
    for (size_t g = 0; g < kGroupOutputs; ++g)
      lo[g] = hi[g] = _mm512_setzero_si512();
    for (size_t k = first; k < last; ++k) {
      const uint64_t* x = slice + size_t{members[k]} * 16;
      const __m512i x_lo = _mm512_loadu_si512(x);
      const __m512i x_hi = _mm512_loadu_si512(x + 8);
      const int32_t* w = weights + k * kGroupOutputs;
      for (size_t g = 0; g < kGroupOutputs; ++g) {
        const __m512i a = _mm512_set1_epi32(w[g]);  // mul_epi32 reads the low 32 bits
        lo[g] = _mm512_add_epi64(lo[g], _mm512_mul_epi32(x_lo, a));
        hi[g] = _mm512_add_epi64(hi[g], _mm512_mul_epi32(x_hi, a));
      }
    }
  };
  for (size_t s = 0; s < width / 8; ++s) {
    const uint64_t* slice = packed + s * count * 16;
    __m512i lo[kGroupOutputs], hi[kGroupOutputs];
    if (vector_reduction) {
      accumulate(slice, 0, terms, lo, hi);
      for (size_t g = 0; g < kGroupOutputs; ++g) {
        if (out[g] == nullptr) continue;
        _mm512_storeu_si512(out[g] + 8 * s,
                            reduce_signed_split_sum(hi[g], lo[g], q_vector, inverse_q));
      }
      continue;
    }
    i128 total[kGroupOutputs][8] = {};
    for (size_t first = 0; first < terms; first += chunk) {
      accumulate(slice, first, std::min(terms, first + chunk), lo, hi);
      for (size_t g = 0; g < kGroupOutputs; ++g) {
        alignas(64) int64_t lo_words[8], hi_words[8];
        _mm512_store_si512(lo_words, lo[g]);
        _mm512_store_si512(hi_words, hi[g]);
        for (int l = 0; l < 8; ++l)
          total[g][l] += static_cast<i128>(hi_words[l]) * (int64_t{1} << 31) + lo_words[l];
      }
    }
    for (size_t g = 0; g < kGroupOutputs; ++g) {
      if (out[g] == nullptr) continue;
      for (int l = 0; l < 8; ++l)
        out[g][8 * s + l] = q.reduce(static_cast<u128>(total[g][l] + static_cast<i128>(bias)));
    }
  }
}

}  // namespace cryptonets::inference::linear_avx512
