// Negacyclic NTT, AVX2 path: the same transforms as the scalar path in ntt.cpp (Longa-Naehrig 2016
// merged twiddles, Harvey 2014 lazy butterflies), four 64-bit butterflies per instruction.
//
// Each function is compiled for AVX2 through its own target attribute, so the rest of the library
// keeps the portable instruction set; ntt.cpp calls in here only when simd_path() allows it.
//
// AVX2 has no 64×64-bit multiply. _mm256_mul_epu32 gives the 64-bit product of the low 32 bits of
// each lane, so x·w is assembled from 32-bit halves: x = x1·2^32 + x0, w = w1·2^32 + w0,
//   x·w = x1w1·2^64 + (x1w0 + x0w1)·2^32 + x0w0.
// The Shoup product needs the high word of x·w' (four partial products) and the low word of
// x·w − quotient·q (two partial products plus the cross terms modulo 2^32, which one 32-bit
// _mm256_mullo_epi32 per operand pair yields). The lazy bounds and operations are the scalar
// path's, so both paths give the same canonical residues in [0, q) bit for bit.
//
// Measured on AMD EPYC (Zen 3): forward n = 8192 about 1.8x faster than the scalar path (see
// bench/results/ring.md), so it is the path of choice on CPUs with AVX2 and without AVX-512.
#include <immintrin.h>

#include <cassert>
#include <cstddef>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets::ntt_avx2 {

// The per-lane twiddle loads read two ShoupMultipliers as four consecutive words.
static_assert(sizeof(ShoupMultiplier) == 2 * sizeof(uint64_t) &&
              offsetof(ShoupMultiplier, operand) == 0 &&
              offsetof(ShoupMultiplier, quotient) == sizeof(uint64_t));

namespace {

// q, 2q, and q with its 32-bit halves swapped, in every lane.
struct VectorModulus {
  __m256i q;
  __m256i q_swapped;
  __m256i two_q;
};

// A Shoup multiplier (w, w' = floor(w·2^64/q)) per lane, with the halves of w swapped and the high
// half of w' moved down, the forms the partial products below consume.
struct VectorTwiddle {
  __m256i operand;
  __m256i operand_swapped;
  __m256i quotient;
  __m256i quotient_high;
};

__attribute__((target("avx2"))) inline __m256i swap_halves(__m256i x) {
  return _mm256_shuffle_epi32(x, 0xb1);  // 32-bit lanes (0, 1, 2, 3, …) → (1, 0, 3, 2, …)
}

__attribute__((target("avx2"))) inline VectorModulus broadcast_modulus(uint64_t q) {
  const __m256i vq = _mm256_set1_epi64x(static_cast<long long>(q));
  return {vq, swap_halves(vq), _mm256_set1_epi64x(static_cast<long long>(2 * q))};
}

__attribute__((target("avx2"))) inline VectorTwiddle split_twiddle(__m256i operand,
                                                                   __m256i quotient) {
  return {operand, swap_halves(operand), quotient, _mm256_srli_epi64(quotient, 32)};
}

__attribute__((target("avx2"))) inline VectorTwiddle broadcast_twiddle(const ShoupMultiplier& w) {
  return split_twiddle(_mm256_set1_epi64x(static_cast<long long>(w.operand)),
                       _mm256_set1_epi64x(static_cast<long long>(w.quotient)));
}

__attribute__((target("avx2"))) inline __m256i load(const uint64_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

__attribute__((target("avx2"))) inline void store(uint64_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// x − m if x ≥ m, else x; valid when m < 2^63 and x < m + 2^63: then x − m has its sign bit set
// exactly when it wrapped around, and blendv selects on that bit.
__attribute__((target("avx2"))) inline __m256i subtract_if_at_least(__m256i x, __m256i m) {
  const __m256i difference = _mm256_sub_epi64(x, m);
  return _mm256_castpd_si256(_mm256_blendv_pd(
      _mm256_castsi256_pd(difference), _mm256_castsi256_pd(x), _mm256_castsi256_pd(difference)));
}

// Harvey 2014, Alg. 2 lines 5-7 (Shoup's multiplication): x·w − floor(x·w'/2^64)·q, in [0, 2q)
// for every 64-bit x, four lanes at once.
__attribute__((target("avx2"))) inline __m256i mul_shoup_lazy(__m256i x, const VectorTwiddle& w,
                                                              const VectorModulus& m) {
  const __m256i low_mask = _mm256_set1_epi64x(0xffffffff);
  const __m256i high_mask = _mm256_set1_epi64x(static_cast<long long>(0xffffffff00000000));
  const __m256i x_high = _mm256_srli_epi64(x, 32);
  // High word of x·w' from the four partial products; the column sums cannot overflow 64 bits
  // (each is at most (2^32 − 1)^2 + 2^32 − 1 < 2^64).
  const __m256i low_low = _mm256_mul_epu32(x, w.quotient);
  const __m256i low_high = _mm256_mul_epu32(x, w.quotient_high);
  const __m256i high_low = _mm256_mul_epu32(x_high, w.quotient);
  const __m256i high_high = _mm256_mul_epu32(x_high, w.quotient_high);
  const __m256i middle = _mm256_add_epi64(high_low, _mm256_srli_epi64(low_low, 32));
  const __m256i middle2 = _mm256_add_epi64(low_high, _mm256_and_si256(middle, low_mask));
  const __m256i estimate = _mm256_add_epi64(
      high_high, _mm256_add_epi64(_mm256_srli_epi64(middle, 32), _mm256_srli_epi64(middle2, 32)));
  // x·w − estimate·q modulo 2^64 = (x0w0 − e0q0) + (x0w1 + x1w0 − e0q1 − e1q0)·2^32: the cross
  // terms matter only modulo 2^32, so one 32-bit multiply (mullo) by the swapped halves gives
  // both of them, one per 32-bit half of the lane.
  const __m256i cross_halves = _mm256_sub_epi32(_mm256_mullo_epi32(x, w.operand_swapped),
                                                _mm256_mullo_epi32(estimate, m.q_swapped));
  const __m256i cross = _mm256_add_epi64(_mm256_slli_epi64(cross_halves, 32),
                                         _mm256_and_si256(cross_halves, high_mask));
  const __m256i low =
      _mm256_sub_epi64(_mm256_mul_epu32(x, w.operand), _mm256_mul_epu32(estimate, m.q));
  return _mm256_add_epi64(low, cross);
}

// Harvey 2014, Alg. 4: X, Y in [0, 4q) → X + W·Y, X − W·Y in [0, 4q).
__attribute__((target("avx2"))) inline void forward_butterfly(__m256i& x, __m256i& y,
                                                              const VectorTwiddle& w,
                                                              const VectorModulus& m) {
  const __m256i u = subtract_if_at_least(x, m.two_q);  // [0, 2q)
  const __m256i t = mul_shoup_lazy(y, w, m);           // [0, 2q)
  x = _mm256_add_epi64(u, t);
  y = _mm256_add_epi64(_mm256_sub_epi64(u, t), m.two_q);
}

// Harvey 2014, Alg. 3: X, Y in [0, 2q) → X + Y, W·(X − Y) in [0, 2q).
__attribute__((target("avx2"))) inline void inverse_butterfly(__m256i& x, __m256i& y,
                                                              const VectorTwiddle& w,
                                                              const VectorModulus& m) {
  const __m256i difference = _mm256_add_epi64(_mm256_sub_epi64(x, y), m.two_q);
  x = subtract_if_at_least(_mm256_add_epi64(x, y), m.two_q);
  y = mul_shoup_lazy(difference, w, m);
}

// [0, 4q) → [0, q).
__attribute__((target("avx2"))) inline __m256i reduce_from_4q(__m256i x, const VectorModulus& m) {
  return subtract_if_at_least(subtract_if_at_least(x, m.two_q), m.q);
}

// Twiddles of two consecutive groups {w_i, w_{i+1}} as lanes [w_i, w_i, w_{i+1}, w_{i+1}]: the
// AoS pair (operand, quotient) of each sits in one 128-bit half.
__attribute__((target("avx2"))) inline VectorTwiddle load_twiddle_pairs(const ShoupMultiplier* w) {
  const __m256i both = load(reinterpret_cast<const uint64_t*>(w));
  return split_twiddle(_mm256_unpacklo_epi64(both, both), _mm256_unpackhi_epi64(both, both));
}

// Twiddles of four consecutive groups w_i … w_{i+3} as lanes [w_i, w_{i+2}, w_{i+1}, w_{i+3}],
// the order in which unpacklo/unpackhi interleave two vectors of data.
__attribute__((target("avx2"))) inline VectorTwiddle load_twiddle_quads(const ShoupMultiplier* w) {
  const __m256i first = load(reinterpret_cast<const uint64_t*>(w));
  const __m256i second = load(reinterpret_cast<const uint64_t*>(w + 2));
  return split_twiddle(_mm256_unpacklo_epi64(first, second), _mm256_unpackhi_epi64(first, second));
}

// Forward stages with butterfly distance t ≥ 4: one twiddle per group, broadcast.
__attribute__((target("avx2"))) void forward_wide_stage(uint64_t* a, size_t m, size_t t,
                                                        const ShoupMultiplier* psi_powers,
                                                        const VectorModulus& vm) {
  for (size_t i = 0; i < m; ++i) {
    const VectorTwiddle w = broadcast_twiddle(psi_powers[m + i]);
    uint64_t* x = a + 2 * i * t;
    uint64_t* y = x + t;
    for (size_t j = 0; j < t; j += 4) {
      __m256i vx = load(x + j), vy = load(y + j);
      forward_butterfly(vx, vy, w, vm);
      store(x + j, vx);
      store(y + j, vy);
    }
  }
}

// Forward stage t = 2 on blocks a0..a7 of two groups: X = [a0 a1 a4 a5], Y = [a2 a3 a6 a7].
__attribute__((target("avx2"))) void forward_stage_distance2(uint64_t* a, size_t n,
                                                             const ShoupMultiplier* psi_powers,
                                                             const VectorModulus& vm) {
  const size_t m = n / 4;
  for (size_t i = 0; i < m; i += 2) {
    const VectorTwiddle w = load_twiddle_pairs(psi_powers + m + i);
    uint64_t* p = a + 4 * i;
    const __m256i v0 = load(p), v1 = load(p + 4);
    __m256i x = _mm256_permute2x128_si256(v0, v1, 0x20);
    __m256i y = _mm256_permute2x128_si256(v0, v1, 0x31);
    forward_butterfly(x, y, w, vm);
    store(p, _mm256_permute2x128_si256(x, y, 0x20));
    store(p + 4, _mm256_permute2x128_si256(x, y, 0x31));
  }
}

// Forward stage t = 1 with the final reduction fused: X = [a0 a4 a2 a6], Y = [a1 a5 a3 a7].
__attribute__((target("avx2"))) void forward_last_stage(uint64_t* a, size_t n,
                                                        const ShoupMultiplier* psi_powers,
                                                        const VectorModulus& vm) {
  const size_t m = n / 2;
  for (size_t i = 0; i < m; i += 4) {
    const VectorTwiddle w = load_twiddle_quads(psi_powers + m + i);
    uint64_t* p = a + 2 * i;
    const __m256i v0 = load(p), v1 = load(p + 4);
    __m256i x = _mm256_unpacklo_epi64(v0, v1);
    __m256i y = _mm256_unpackhi_epi64(v0, v1);
    forward_butterfly(x, y, w, vm);
    x = reduce_from_4q(x, vm);
    y = reduce_from_4q(y, vm);
    store(p, _mm256_unpacklo_epi64(x, y));
    store(p + 4, _mm256_unpackhi_epi64(x, y));
  }
}

// Inverse stage t = 1 (h = n/2 groups): the layout of forward_last_stage.
__attribute__((target("avx2"))) void inverse_first_stage(uint64_t* a, size_t n,
                                                         const ShoupMultiplier* w_table,
                                                         const VectorModulus& vm) {
  for (size_t i = 0; i < n / 2; i += 4) {
    const VectorTwiddle w = load_twiddle_quads(w_table + i);
    uint64_t* p = a + 2 * i;
    const __m256i v0 = load(p), v1 = load(p + 4);
    __m256i x = _mm256_unpacklo_epi64(v0, v1);
    __m256i y = _mm256_unpackhi_epi64(v0, v1);
    inverse_butterfly(x, y, w, vm);
    store(p, _mm256_unpacklo_epi64(x, y));
    store(p + 4, _mm256_unpackhi_epi64(x, y));
  }
}

// Inverse stage t = 2 (h = n/4 groups): the layout of forward_stage_distance2.
__attribute__((target("avx2"))) void inverse_stage_distance2(uint64_t* a, size_t n,
                                                             const ShoupMultiplier* w_table,
                                                             const VectorModulus& vm) {
  for (size_t i = 0; i < n / 4; i += 2) {
    const VectorTwiddle w = load_twiddle_pairs(w_table + i);
    uint64_t* p = a + 4 * i;
    const __m256i v0 = load(p), v1 = load(p + 4);
    __m256i x = _mm256_permute2x128_si256(v0, v1, 0x20);
    __m256i y = _mm256_permute2x128_si256(v0, v1, 0x31);
    inverse_butterfly(x, y, w, vm);
    store(p, _mm256_permute2x128_si256(x, y, 0x20));
    store(p + 4, _mm256_permute2x128_si256(x, y, 0x31));
  }
}

// Inverse stages with butterfly distance t ≥ 4: one twiddle per group, broadcast.
__attribute__((target("avx2"))) void inverse_wide_stage(uint64_t* a, size_t h, size_t t,
                                                        const ShoupMultiplier* w_table,
                                                        const VectorModulus& vm) {
  for (size_t i = 0; i < h; ++i) {
    const VectorTwiddle w = broadcast_twiddle(w_table[i]);
    uint64_t* x = a + 2 * i * t;
    uint64_t* y = x + t;
    for (size_t j = 0; j < t; j += 4) {
      __m256i vx = load(x + j), vy = load(y + j);
      inverse_butterfly(vx, vy, w, vm);
      store(x + j, vx);
      store(y + j, vy);
    }
  }
}

// Last inverse stage (t = n/2), n^-1 folded in: X' = n^-1 (X + Y), Y' = n^-1 W (X − Y) in [0, q).
__attribute__((target("avx2"))) void inverse_last_stage(uint64_t* a, size_t n,
                                                        const ShoupMultiplier& inverse_n,
                                                        const ShoupMultiplier& inverse_n_twiddle,
                                                        const VectorModulus& vm) {
  const VectorTwiddle scale_sum = broadcast_twiddle(inverse_n);
  const VectorTwiddle scale_difference = broadcast_twiddle(inverse_n_twiddle);
  uint64_t* x = a;
  uint64_t* y = a + n / 2;
  for (size_t j = 0; j < n / 2; j += 4) {
    const __m256i vx = load(x + j), vy = load(y + j);
    const __m256i sum = _mm256_add_epi64(vx, vy);                                     // [0, 4q)
    const __m256i difference = _mm256_add_epi64(_mm256_sub_epi64(vx, vy), vm.two_q);  // (0, 4q)
    store(x + j, subtract_if_at_least(mul_shoup_lazy(sum, scale_sum, vm), vm.q));
    store(y + j, subtract_if_at_least(mul_shoup_lazy(difference, scale_difference, vm), vm.q));
  }
}

}  // namespace

// n ≥ 8: the two smallest stages work on blocks of eight coefficients.
__attribute__((target("avx2"))) void forward(uint64_t* a, size_t n, uint64_t q,
                                             const ShoupMultiplier* psi_powers) {
  assert(n >= 8);
  const VectorModulus vm = broadcast_modulus(q);
  size_t t = n / 2;
  for (size_t m = 1; t >= 4; m *= 2, t /= 2) {
    forward_wide_stage(a, m, t, psi_powers, vm);
  }
  forward_stage_distance2(a, n, psi_powers, vm);
  forward_last_stage(a, n, psi_powers, vm);
}

__attribute__((target("avx2"))) void inverse(uint64_t* a, size_t n, uint64_t q,
                                             const ShoupMultiplier* inverse_psi_powers,
                                             const ShoupMultiplier& inverse_n,
                                             const ShoupMultiplier& inverse_n_last_twiddle) {
  assert(n >= 8);
  const VectorModulus vm = broadcast_modulus(q);
  const ShoupMultiplier* w = inverse_psi_powers;
  inverse_first_stage(a, n, w, vm);
  w += n / 2;
  inverse_stage_distance2(a, n, w, vm);
  w += n / 4;
  size_t t = 4;
  for (size_t h = n / 8; h > 1; h /= 2, t *= 2) {
    inverse_wide_stage(a, h, t, w, vm);
    w += h;
  }
  inverse_last_stage(a, n, inverse_n, inverse_n_last_twiddle, vm);
}

}  // namespace cryptonets::ntt_avx2
