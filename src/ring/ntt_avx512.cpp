// Negacyclic NTT, AVX-512 paths: the transforms of ntt.cpp (Longa-Naehrig 2016 merged twiddles,
// Harvey 2014 lazy butterflies), eight 64-bit butterflies per instruction, in two arithmetics:
//  * IFMA (q < 2^50): Shoup's multiplication with 52-bit words. The twiddle w comes with
//    w' = floor(w·2^52/q); for x < 2^52 (all lazy values are below 4q < 2^52),
//    Q = floor(x·w'/2^52) is one vpmadd52huq and x·w − Q·q, which lies in [0, 2q), is the low
//    52 bits of lo52(x·w) + lo52(Q·(2^52 − q)): two vpmadd52luq and a mask (Harvey 2014, Alg. 2
//    with β = 2^52; Drucker and Gueron, "Fast modular squaring with AVX512IFMA", 2019).
//  * 64-bit words (q < 2^62): the high word of x·w' from four 32×32-bit products
//    (vpmuludq), as the AVX2 path does, and the low words by vpmullq.
// The lazy values may differ from the scalar path's by multiples of q, but every output is the
// canonical residue in [0, q), so all paths agree bit for bit.
//
// The transforms work on blocks of 16 coefficients: the stages with butterfly distance t ≥ 8 run
// one stage at a time with a broadcast twiddle; the three smallest (t = 4, 2, 1) run together on
// a block held in two registers, with permutations between them.
//
// Compiled per function with a target attribute, so the rest of the library keeps the portable
// instruction set; ntt.cpp calls in here only when simd_path() allows it. The one target string
// includes IFMA for both arithmetics: GCC emits vpmadd52* only for the intrinsics (they are
// unspecs), so the 64-bit kernels run on AVX-512 CPUs without IFMA.
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive in the
// system header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cassert>
#include <cstddef>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"

#define CRYPTONETS_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx512ifma")))

namespace cryptonets::ntt_avx512 {

static_assert(sizeof(ShoupMultiplier) == 2 * sizeof(uint64_t) &&
              offsetof(ShoupMultiplier, operand) == 0 &&
              offsetof(ShoupMultiplier, quotient) == sizeof(uint64_t));

namespace {

struct VectorModulus {
  __m512i q;
  __m512i two_q;
  __m512i minus_q_52;  // 2^52 − q (IFMA only)
};

struct VectorTwiddle {
  __m512i operand;
  __m512i quotient;  // floor(w·2^64/q) or floor(w·2^52/q)
};

CRYPTONETS_AVX512 inline __m512i load(const void* p) {
  return _mm512_loadu_si512(p);
}

CRYPTONETS_AVX512 inline void store(void* p, __m512i v) {
  _mm512_storeu_si512(p, v);
}

CRYPTONETS_AVX512 inline __m512i set1(uint64_t x) {
  return _mm512_set1_epi64(static_cast<long long>(x));
}

CRYPTONETS_AVX512 inline __m512i indices(long long e0, long long e1, long long e2, long long e3,
                                         long long e4, long long e5, long long e6, long long e7) {
  return _mm512_setr_epi64(e0, e1, e2, e3, e4, e5, e6, e7);
}

// x − m if x ≥ m, else x (for any x, m: when x < m the difference wraps to a value above x).
CRYPTONETS_AVX512 inline __m512i subtract_if_at_least(__m512i x, __m512i m) {
  return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

CRYPTONETS_AVX512 inline VectorModulus broadcast_modulus(uint64_t q) {
  return {set1(q), set1(2 * q), set1((uint64_t{1} << 52) - q)};
}

// Shoup's multiplication x·w − floor(x·w'/β)·q in [0, 2q), β = 2^52 (x < 2^52).
struct Ifma {
  CRYPTONETS_AVX512 static __m512i mul_shoup_lazy(__m512i x, const VectorTwiddle& w,
                                                  const VectorModulus& m) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i estimate = _mm512_madd52hi_epu64(zero, x, w.quotient);
    const __m512i product = _mm512_madd52lo_epu64(zero, x, w.operand);
    const __m512i r = _mm512_madd52lo_epu64(product, estimate, m.minus_q_52);
    return _mm512_and_si512(r, set1((uint64_t{1} << 52) - 1));
  }
};

// The same with β = 2^64 (any 64-bit x).
struct Word64 {
  CRYPTONETS_AVX512 static __m512i mul_shoup_lazy(__m512i x, const VectorTwiddle& w,
                                                  const VectorModulus& m) {
    // High word of x·w' from the four 32×32-bit partial products; no column sum overflows.
    const __m512i low_mask = set1(0xffffffff);
    const __m512i x_high = _mm512_srli_epi64(x, 32);
    const __m512i w_high = _mm512_srli_epi64(w.quotient, 32);
    const __m512i low_low = _mm512_mul_epu32(x, w.quotient);
    const __m512i low_high = _mm512_mul_epu32(x, w_high);
    const __m512i high_low = _mm512_mul_epu32(x_high, w.quotient);
    const __m512i high_high = _mm512_mul_epu32(x_high, w_high);
    const __m512i middle = _mm512_add_epi64(high_low, _mm512_srli_epi64(low_low, 32));
    const __m512i middle2 = _mm512_add_epi64(low_high, _mm512_and_si512(middle, low_mask));
    const __m512i estimate = _mm512_add_epi64(
        high_high, _mm512_add_epi64(_mm512_srli_epi64(middle, 32), _mm512_srli_epi64(middle2, 32)));
    return _mm512_sub_epi64(_mm512_mullo_epi64(x, w.operand), _mm512_mullo_epi64(estimate, m.q));
  }
};

// Harvey 2014, Alg. 4: X, Y in [0, 4q) → X + W·Y, X − W·Y in [0, 4q).
template <class Arith>
CRYPTONETS_AVX512 inline void forward_butterfly(__m512i& x, __m512i& y, const VectorTwiddle& w,
                                                const VectorModulus& m) {
  const __m512i u = subtract_if_at_least(x, m.two_q);  // [0, 2q)
  const __m512i t = Arith::mul_shoup_lazy(y, w, m);    // [0, 2q)
  x = _mm512_add_epi64(u, t);
  y = _mm512_add_epi64(_mm512_sub_epi64(u, t), m.two_q);
}

// Harvey 2014, Alg. 3: X, Y in [0, 2q) → X + Y, W·(X − Y) in [0, 2q).
template <class Arith>
CRYPTONETS_AVX512 inline void inverse_butterfly(__m512i& x, __m512i& y, const VectorTwiddle& w,
                                                const VectorModulus& m) {
  const __m512i difference = _mm512_add_epi64(_mm512_sub_epi64(x, y), m.two_q);
  x = subtract_if_at_least(_mm512_add_epi64(x, y), m.two_q);
  y = Arith::mul_shoup_lazy(difference, w, m);
}

CRYPTONETS_AVX512 inline VectorTwiddle broadcast_twiddle(const ShoupMultiplier& w) {
  return {set1(w.operand), set1(w.quotient)};
}

// w[0..8) as lanes 0..7 (the tables are arrays of (operand, quotient) pairs).
CRYPTONETS_AVX512 inline VectorTwiddle load_twiddles_8(const ShoupMultiplier* w) {
  const __m512i first = load(w), second = load(w + 4);
  return {_mm512_permutex2var_epi64(first, indices(0, 2, 4, 6, 8, 10, 12, 14), second),
          _mm512_permutex2var_epi64(first, indices(1, 3, 5, 7, 9, 11, 13, 15), second)};
}

// w[0..4) as lanes [w0 w0 w1 w1 w2 w2 w3 w3].
CRYPTONETS_AVX512 inline VectorTwiddle load_twiddles_4(const ShoupMultiplier* w) {
  const __m512i pairs = load(w);
  return {_mm512_permutexvar_epi64(indices(0, 0, 2, 2, 4, 4, 6, 6), pairs),
          _mm512_permutexvar_epi64(indices(1, 1, 3, 3, 5, 5, 7, 7), pairs)};
}

// w[0..2) as lanes [w0 w0 w0 w0 w1 w1 w1 w1].
CRYPTONETS_AVX512 inline VectorTwiddle load_twiddles_2(const ShoupMultiplier* w) {
  const __m512i pairs = _mm512_castsi256_si512(
      _mm256_loadu_si256(static_cast<const __m256i*>(static_cast<const void*>(w))));
  return {_mm512_permutexvar_epi64(indices(0, 0, 0, 0, 2, 2, 2, 2), pairs),
          _mm512_permutexvar_epi64(indices(1, 1, 1, 1, 3, 3, 3, 3), pairs)};
}

// The stages with distance t ≥ 8: m groups, group i at a + 2it with twiddle w[i].
template <class Arith>
CRYPTONETS_AVX512 void forward_wide_stage(uint64_t* a, size_t m, size_t t, const ShoupMultiplier* w,
                                          const VectorModulus& vm) {
  for (size_t i = 0; i < m; ++i) {
    const VectorTwiddle wi = broadcast_twiddle(w[i]);
    uint64_t* x = a + 2 * i * t;
    uint64_t* y = x + t;
    for (size_t j = 0; j < t; j += 8) {
      __m512i vx = load(x + j), vy = load(y + j);
      forward_butterfly<Arith>(vx, vy, wi, vm);
      store(x + j, vx);
      store(y + j, vy);
    }
  }
}

// The stages t = 4, 2, 1 on each block of 16 coefficients c0..c15, then the reduction to
// [0, q). Lane layouts: t = 4: X = c0-3 c8-11, Y = c4-7 c12-15; t = 2: X = c0 c1 c4 c5 c8 c9
// c12 c13, Y = the others; t = 1: X = even, Y = odd coefficients.
template <class Arith>
CRYPTONETS_AVX512 void forward_last_stages(uint64_t* a, size_t n, const ShoupMultiplier* psi_powers,
                                           const VectorModulus& vm) {
  const ShoupMultiplier* w4 = psi_powers + n / 8;  // stage t = 4: n/8 groups
  const ShoupMultiplier* w2 = psi_powers + n / 4;
  const ShoupMultiplier* w1 = psi_powers + n / 2;
  for (size_t b = 0; b < n / 16; ++b) {
    uint64_t* p = a + 16 * b;
    const __m512i v0 = load(p), v1 = load(p + 8);
    __m512i x = _mm512_shuffle_i64x2(v0, v1, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i y = _mm512_shuffle_i64x2(v0, v1, _MM_SHUFFLE(3, 2, 3, 2));
    forward_butterfly<Arith>(x, y, load_twiddles_2(w4 + 2 * b), vm);
    __m512i x2 = _mm512_permutex2var_epi64(x, indices(0, 1, 8, 9, 4, 5, 12, 13), y);
    __m512i y2 = _mm512_permutex2var_epi64(x, indices(2, 3, 10, 11, 6, 7, 14, 15), y);
    forward_butterfly<Arith>(x2, y2, load_twiddles_4(w2 + 4 * b), vm);
    x = _mm512_permutex2var_epi64(x2, indices(0, 8, 2, 10, 4, 12, 6, 14), y2);
    y = _mm512_permutex2var_epi64(x2, indices(1, 9, 3, 11, 5, 13, 7, 15), y2);
    forward_butterfly<Arith>(x, y, load_twiddles_8(w1 + 8 * b), vm);
    x = subtract_if_at_least(subtract_if_at_least(x, vm.two_q), vm.q);
    y = subtract_if_at_least(subtract_if_at_least(y, vm.two_q), vm.q);
    store(p, _mm512_permutex2var_epi64(x, indices(0, 8, 1, 9, 2, 10, 3, 11), y));
    store(p + 8, _mm512_permutex2var_epi64(x, indices(4, 12, 5, 13, 6, 14, 7, 15), y));
  }
}

// The inverse stages t = 1, 2, 4 on each block of 16 coefficients (the layouts above, reversed).
// w_table holds the t = 1 twiddles (n/2), then t = 2 (n/4), then t = 4 (n/8).
template <class Arith>
CRYPTONETS_AVX512 void inverse_first_stages(uint64_t* a, size_t n, const ShoupMultiplier* w_table,
                                            const VectorModulus& vm) {
  const ShoupMultiplier* w1 = w_table;
  const ShoupMultiplier* w2 = w_table + n / 2;
  const ShoupMultiplier* w4 = w2 + n / 4;
  for (size_t b = 0; b < n / 16; ++b) {
    uint64_t* p = a + 16 * b;
    const __m512i v0 = load(p), v1 = load(p + 8);
    __m512i x = _mm512_permutex2var_epi64(v0, indices(0, 2, 4, 6, 8, 10, 12, 14), v1);
    __m512i y = _mm512_permutex2var_epi64(v0, indices(1, 3, 5, 7, 9, 11, 13, 15), v1);
    inverse_butterfly<Arith>(x, y, load_twiddles_8(w1 + 8 * b), vm);
    __m512i x2 = _mm512_permutex2var_epi64(x, indices(0, 8, 2, 10, 4, 12, 6, 14), y);
    __m512i y2 = _mm512_permutex2var_epi64(x, indices(1, 9, 3, 11, 5, 13, 7, 15), y);
    inverse_butterfly<Arith>(x2, y2, load_twiddles_4(w2 + 4 * b), vm);
    x = _mm512_permutex2var_epi64(x2, indices(0, 1, 8, 9, 4, 5, 12, 13), y2);
    y = _mm512_permutex2var_epi64(x2, indices(2, 3, 10, 11, 6, 7, 14, 15), y2);
    inverse_butterfly<Arith>(x, y, load_twiddles_2(w4 + 2 * b), vm);
    store(p, _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(1, 0, 1, 0)));
    store(p + 8, _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(3, 2, 3, 2)));
  }
}

template <class Arith>
CRYPTONETS_AVX512 void inverse_wide_stage(uint64_t* a, size_t h, size_t t, const ShoupMultiplier* w,
                                          const VectorModulus& vm) {
  for (size_t i = 0; i < h; ++i) {
    const VectorTwiddle wi = broadcast_twiddle(w[i]);
    uint64_t* x = a + 2 * i * t;
    uint64_t* y = x + t;
    for (size_t j = 0; j < t; j += 8) {
      __m512i vx = load(x + j), vy = load(y + j);
      inverse_butterfly<Arith>(vx, vy, wi, vm);
      store(x + j, vx);
      store(y + j, vy);
    }
  }
}

// Last inverse stage (t = n/2), n^-1 folded in: X' = n^-1 (X + Y), Y' = n^-1 W (X − Y) in [0, q).
template <class Arith>
CRYPTONETS_AVX512 void inverse_last_stage(uint64_t* a, size_t n, const ShoupMultiplier& inverse_n,
                                          const ShoupMultiplier& inverse_n_twiddle,
                                          const VectorModulus& vm) {
  const VectorTwiddle scale_sum = broadcast_twiddle(inverse_n);
  const VectorTwiddle scale_difference = broadcast_twiddle(inverse_n_twiddle);
  uint64_t* x = a;
  uint64_t* y = a + n / 2;
  for (size_t j = 0; j < n / 2; j += 8) {
    const __m512i vx = load(x + j), vy = load(y + j);
    const __m512i sum = _mm512_add_epi64(vx, vy);                                     // [0, 4q)
    const __m512i difference = _mm512_add_epi64(_mm512_sub_epi64(vx, vy), vm.two_q);  // (0, 4q)
    store(x + j, subtract_if_at_least(Arith::mul_shoup_lazy(sum, scale_sum, vm), vm.q));
    store(y + j,
          subtract_if_at_least(Arith::mul_shoup_lazy(difference, scale_difference, vm), vm.q));
  }
}

template <class Arith>
CRYPTONETS_AVX512 void forward_transform(uint64_t* a, size_t n, uint64_t q,
                                         const ShoupMultiplier* psi_powers) {
  assert(n >= 16);
  const VectorModulus vm = broadcast_modulus(q);
  for (size_t m = 1, t = n / 2; t >= 8; m *= 2, t /= 2) {
    forward_wide_stage<Arith>(a, m, t, psi_powers + m, vm);
  }
  forward_last_stages<Arith>(a, n, psi_powers, vm);
}

template <class Arith>
CRYPTONETS_AVX512 void inverse_transform(uint64_t* a, size_t n, uint64_t q,
                                         const ShoupMultiplier* inverse_psi_powers,
                                         const ShoupMultiplier& inverse_n,
                                         const ShoupMultiplier& inverse_n_last_twiddle) {
  assert(n >= 16);
  const VectorModulus vm = broadcast_modulus(q);
  inverse_first_stages<Arith>(a, n, inverse_psi_powers, vm);
  const ShoupMultiplier* w = inverse_psi_powers + n / 2 + n / 4 + n / 8;
  size_t t = 8;
  for (size_t h = n / 16; h > 1; h /= 2, t *= 2) {
    inverse_wide_stage<Arith>(a, h, t, w, vm);
    w += h;
  }
  inverse_last_stage<Arith>(a, n, inverse_n, inverse_n_last_twiddle, vm);
}

}  // namespace

void forward_64(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* psi_powers) {
  forward_transform<Word64>(a, n, q, psi_powers);
}

void inverse_64(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* inverse_psi_powers,
                const ShoupMultiplier& inverse_n, const ShoupMultiplier& inverse_n_last_twiddle) {
  inverse_transform<Word64>(a, n, q, inverse_psi_powers, inverse_n, inverse_n_last_twiddle);
}

void forward_52(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* psi_powers) {
  forward_transform<Ifma>(a, n, q, psi_powers);
}

void inverse_52(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* inverse_psi_powers,
                const ShoupMultiplier& inverse_n, const ShoupMultiplier& inverse_n_last_twiddle) {
  inverse_transform<Ifma>(a, n, q, inverse_psi_powers, inverse_n, inverse_n_last_twiddle);
}

}  // namespace cryptonets::ntt_avx512
