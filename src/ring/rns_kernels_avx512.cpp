// AVX-512 kernels of rns_kernels.cpp, eight residues per instruction. Compiled per function with
// a target attribute; rns_kernels.cpp calls in here only when simd_path() allows it.
//
// Products a·b < q^2 < 2^(2L) for an L-bit q (L ≤ 62) are reduced by Barrett's method with
// μ = floor(2^(2L)/q) < 2^(L+1): Q̂ = floor(floor(x / 2^(L−1))·μ / 2^(L+1)) satisfies
// Q − 2 ≤ Q̂ ≤ Q for Q = floor(x/q) (Barrett 1986; Menezes et al., Handbook of Applied
// Cryptography, Alg. 14.42 with b = 2, k = L), so x − Q̂·q lies in [0, 3q) and is exact in the
// low 64 bits. The high words of 64×64-bit products are assembled from 32×32-bit ones.

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

namespace cryptonets::rns_avx512 {

namespace {

CRYPTONETS_AVX512 inline __m512i load(const uint64_t* p) {
  return _mm512_loadu_si512(p);
}

CRYPTONETS_AVX512 inline void store(uint64_t* p, __m512i v) {
  _mm512_storeu_si512(p, v);
}

CRYPTONETS_AVX512 inline __m512i set1(uint64_t x) {
  return _mm512_set1_epi64(static_cast<long long>(x));
}

// x − m if x ≥ m, else x (when x < m the difference wraps to a value above x).
CRYPTONETS_AVX512 inline __m512i subtract_if_at_least(__m512i x, __m512i m) {
  return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}

// The high 64 bits of x·y per lane, from the four 32×32-bit partial products (no column sum
// overflows 64 bits).
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

struct Barrett {
  __m512i q, mu;
  int bits;
};

// a·b mod q in [0, q) for a, b in [0, q).
CRYPTONETS_AVX512 inline __m512i mul_mod(__m512i a, __m512i b, const Barrett& m) {
  const __m512i low = _mm512_mullo_epi64(a, b);
  const __m512i high = mul_high(a, b);
  // floor(x / 2^(L−1)) < 2^(L+1) from the two words of x = a·b.
  const __m512i x1 = _mm512_or_si512(_mm512_sll_epi64(high, _mm_cvtsi32_si128(65 - m.bits)),
                                     _mm512_srl_epi64(low, _mm_cvtsi32_si128(m.bits - 1)));
  // floor(x1·μ / 2^(L+1)) from the two words of x1·μ < 2^(2L+2).
  const __m512i p_low = _mm512_mullo_epi64(x1, m.mu);
  const __m512i p_high = mul_high(x1, m.mu);
  const __m512i quotient = _mm512_or_si512(_mm512_sll_epi64(p_high, _mm_cvtsi32_si128(63 - m.bits)),
                                           _mm512_srl_epi64(p_low, _mm_cvtsi32_si128(m.bits + 1)));
  const __m512i r = _mm512_sub_epi64(low, _mm512_mullo_epi64(quotient, m.q));  // [0, 3q)
  const __m512i two_q = _mm512_add_epi64(m.q, m.q);
  return subtract_if_at_least(subtract_if_at_least(r, two_q), m.q);
}

}  // namespace

CRYPTONETS_AVX512 void multiply(uint64_t* a, const uint64_t* b, size_t n, uint64_t q, int bits,
                                uint64_t mu) {
  const Barrett m{set1(q), set1(mu), bits};
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    store(a + j, mul_mod(load(a + j), load(b + j), m));
  for (; j < n; ++j)  // n < 8 or a tail: the scalar twin's arithmetic
    a[j] = static_cast<uint64_t>(static_cast<u128>(a[j]) * b[j] % q);
}

CRYPTONETS_AVX512 void multiply_accumulate(uint64_t* acc, const uint64_t* a, const uint64_t* b,
                                           size_t n, uint64_t q, int bits, uint64_t mu) {
  const Barrett m{set1(q), set1(mu), bits};
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i sum = _mm512_add_epi64(load(acc + j), mul_mod(load(a + j), load(b + j), m));
    store(acc + j, subtract_if_at_least(sum, m.q));
  }
  for (; j < n; ++j) {
    const uint64_t sum = acc[j] + static_cast<uint64_t>(static_cast<u128>(a[j]) * b[j] % q);
    acc[j] = sum >= q ? sum - q : sum;
  }
}

CRYPTONETS_AVX512 void multiply_shoup(uint64_t* a, size_t n, const ShoupMultiplier& w, uint64_t q) {
  const __m512i vq = set1(q), operand = set1(w.operand), quotient = set1(w.quotient);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i x = load(a + j);
    const __m512i estimate = mul_high(x, quotient);
    const __m512i r =
        _mm512_sub_epi64(_mm512_mullo_epi64(x, operand), _mm512_mullo_epi64(estimate, vq));
    store(a + j, subtract_if_at_least(r, vq));
  }
  for (; j < n; ++j)
    a[j] = mul_shoup(a[j], w, q);
}

CRYPTONETS_AVX512 void add(uint64_t* a, const uint64_t* b, size_t n, uint64_t q) {
  const __m512i vq = set1(q);
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    store(a + j, subtract_if_at_least(_mm512_add_epi64(load(a + j), load(b + j)), vq));
  for (; j < n; ++j) {
    const uint64_t sum = a[j] + b[j];
    a[j] = sum >= q ? sum - q : sum;
  }
}

CRYPTONETS_AVX512 void subtract(uint64_t* a, const uint64_t* b, size_t n, uint64_t q) {
  const __m512i vq = set1(q);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    // a − b, plus q where it wrapped: min(d, d + q) picks the one in [0, q).
    const __m512i difference = _mm512_sub_epi64(load(a + j), load(b + j));
    store(a + j, _mm512_min_epu64(difference, _mm512_add_epi64(difference, vq)));
  }
  for (; j < n; ++j)
    a[j] = a[j] >= b[j] ? a[j] - b[j] : a[j] + q - b[j];
}

CRYPTONETS_AVX512 void dot_product(uint64_t* out, bool accumulate, const uint64_t* const* a,
                                   const uint64_t* const* b, size_t count, size_t n, uint64_t q,
                                   int bits, uint64_t mu) {
  const Barrett m{set1(q), set1(mu), bits};
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i sum = accumulate ? load(out + j) : _mm512_setzero_si512();
    for (size_t g = 0; g < count; ++g)
      sum = subtract_if_at_least(_mm512_add_epi64(sum, mul_mod(load(a[g] + j), load(b[g] + j), m)),
                                 m.q);
    store(out + j, sum);
  }
  for (; j < n; ++j) {
    uint64_t sum = accumulate ? out[j] : 0;
    for (size_t g = 0; g < count; ++g) {
      sum += static_cast<uint64_t>(static_cast<u128>(a[g][j]) * b[g][j] % q);
      sum = sum >= q ? sum - q : sum;
    }
    out[j] = sum;
  }
}

namespace {

// x·w mod q up to one extra q, for any 64-bit x (Shoup).
CRYPTONETS_AVX512 inline __m512i mul_shoup_lazy(__m512i x, __m512i operand, __m512i quotient,
                                                __m512i q) {
  return _mm512_sub_epi64(_mm512_mullo_epi64(x, operand),
                          _mm512_mullo_epi64(mul_high(x, quotient), q));
}

}  // namespace

// With operands below 2^62 split into 52-bit limbs x = xh·2^52 + xl (xh < 2^10), each product is
//   a·b = al·bl + (al·bh + ah·bl)·2^52 + ah·bh·2^104,
// summed without carries in words A0, A1, A2 of weights 1, 2^52, 2^104 by vpmadd52luq /
// vpmadd52huq (each adds one 52-bit half of a 104-bit limb product): for count ≤ 1024 terms
// A0 < 2^62 and A1 < 3·2^62 fit 64 bits. Then Σ a·b ≡ A0 + A1·(2^52 mod q) + A2·(2^104 mod q),
// each product by Shoup's multiplication (reduce[0..2]).
CRYPTONETS_AVX512_IFMA void dot_product_ifma(uint64_t* out, bool accumulate,
                                             const uint64_t* const* a, const uint64_t* const* b,
                                             size_t count, size_t n, uint64_t q,
                                             const ShoupMultiplier* reduce) {
  const __m512i vq = set1(q), two_q = set1(2 * q), mask52 = set1((uint64_t{1} << 52) - 1);
  const __m512i w0 = set1(reduce[0].operand), w0q = set1(reduce[0].quotient);
  const __m512i w1 = set1(reduce[1].operand), w1q = set1(reduce[1].quotient);
  const __m512i w2 = set1(reduce[2].operand), w2q = set1(reduce[2].quotient);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a1b = a0, a2 = a0, a2b = a0;
    for (size_t g = 0; g < count; ++g) {
      const __m512i x = load(a[g] + j), y = load(b[g] + j);
      const __m512i xl = _mm512_and_si512(x, mask52), xh = _mm512_srli_epi64(x, 52);
      const __m512i yl = _mm512_and_si512(y, mask52), yh = _mm512_srli_epi64(y, 52);
      a0 = _mm512_madd52lo_epu64(a0, xl, yl);
      a1 = _mm512_madd52hi_epu64(a1, xl, yl);
      a1b = _mm512_madd52lo_epu64(a1b, xl, yh);
      a1 = _mm512_madd52lo_epu64(a1, xh, yl);
      a2 = _mm512_madd52hi_epu64(a2, xl, yh);
      a2b = _mm512_madd52hi_epu64(a2b, xh, yl);
      a2 = _mm512_madd52lo_epu64(a2, xh, yh);
    }
    a1 = _mm512_add_epi64(a1, a1b);
    a2 = _mm512_add_epi64(a2, a2b);
    const __m512i r0 = subtract_if_at_least(mul_shoup_lazy(a0, w0, w0q, vq), vq);
    const __m512i r1 = subtract_if_at_least(mul_shoup_lazy(a1, w1, w1q, vq), vq);
    const __m512i r2 = subtract_if_at_least(mul_shoup_lazy(a2, w2, w2q, vq), vq);
    const __m512i start = accumulate ? load(out + j) : _mm512_setzero_si512();
    const __m512i total =
        _mm512_add_epi64(_mm512_add_epi64(r0, r1), _mm512_add_epi64(r2, start));  // < 4q
    store(out + j, subtract_if_at_least(subtract_if_at_least(total, two_q), vq));
  }
  for (; j < n; ++j) {
    u128 sum = accumulate ? out[j] : 0;
    for (size_t g = 0; g < count; ++g)
      sum += static_cast<u128>(a[g][j]) * b[g][j];
    out[j] = static_cast<uint64_t>(sum % q);
  }
}

CRYPTONETS_AVX512 void multiply_shoup_subtract(uint64_t* a, const uint64_t* x, size_t n,
                                               const ShoupMultiplier& w, uint64_t q) {
  const __m512i vq = set1(q), operand = set1(w.operand), quotient = set1(w.quotient);
  size_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m512i product =
        subtract_if_at_least(mul_shoup_lazy(load(x + j), operand, quotient, vq), vq);
    const __m512i difference = _mm512_sub_epi64(product, load(a + j));
    store(a + j, _mm512_min_epu64(difference, _mm512_add_epi64(difference, vq)));
  }
  for (; j < n; ++j) {
    const uint64_t product = mul_shoup(x[j], w, q);
    a[j] = product >= a[j] ? product - a[j] : product + q - a[j];
  }
}

CRYPTONETS_AVX512 void extract_digit(uint64_t* out, const uint64_t* y, size_t n, int shift,
                                     uint64_t mask, uint64_t q) {
  const __m512i vq = set1(q), vmask = set1(mask);
  const __m128i count = _mm_cvtsi32_si128(shift);
  size_t j = 0;
  for (; j + 8 <= n; j += 8)
    store(out + j,
          subtract_if_at_least(_mm512_and_si512(_mm512_srl_epi64(load(y + j), count), vmask), vq));
  for (; j < n; ++j) {
    const uint64_t v = (y[j] >> shift) & mask;
    out[j] = v >= q ? v - q : v;
  }
}

}  // namespace cryptonets::rns_avx512
