// AVX-512 kernel of DiscreteGaussian::sample_vector (samplers.cpp): eight samples per step, each
// drawn from the same 12 stream bytes as the scalar sample() (a little-endian 64-bit u, then a
// 32-bit word whose low bit is the sign), with the same whole-table scan and no data-dependent
// branch. Compiled with a target attribute; samplers.cpp calls it only when simd_path() allows.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define CRYPTONETS_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

namespace cryptonets::samplers_avx512 {

// count a multiple of 8; bytes: 12·count stream bytes; out: count samples.
CRYPTONETS_AVX512 void gaussian_from_bytes(const uint8_t* bytes, size_t count, const uint64_t* cdf,
                                           size_t cdf_size, int64_t* out) {
  // The 24 words of eight samples: sample i has u = w[3i] | w[3i+1]·2^32 and sign word w[3i+2].
  const __m512i low_index = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i high_index = _mm512_setr_epi32(1, 4, 7, 10, 13, 16, 19, 22, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i sign_index = _mm512_setr_epi32(2, 5, 8, 11, 14, 17, 20, 23, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i one = _mm512_set1_epi64(1);
  for (size_t s = 0; s < count; s += 8) {
    const uint8_t* p = bytes + 12 * s;
    const __m512i first = _mm512_loadu_si512(p);  // words 0-15
    const __m512i second = _mm512_castsi256_si512(_mm256_loadu_si256(
        static_cast<const __m256i*>(static_cast<const void*>(p + 64))));  // words 16-23
    const __m256i low = _mm512_castsi512_si256(_mm512_permutex2var_epi32(first, low_index, second));
    const __m256i high =
        _mm512_castsi512_si256(_mm512_permutex2var_epi32(first, high_index, second));
    const __m256i sign_word =
        _mm512_castsi512_si256(_mm512_permutex2var_epi32(first, sign_index, second));
    const __m512i u = _mm512_or_si512(_mm512_cvtepu32_epi64(low),
                                      _mm512_slli_epi64(_mm512_cvtepu32_epi64(high), 32));
    __m512i magnitude = _mm512_setzero_si512();
    for (size_t k = 0; k < cdf_size; ++k) {
      const __mmask8 above =
          _mm512_cmpge_epu64_mask(u, _mm512_set1_epi64(static_cast<long long>(cdf[k])));
      magnitude = _mm512_mask_add_epi64(magnitude, above, magnitude, one);
    }
    const __m512i negative = _mm512_and_si512(_mm512_cvtepu32_epi64(sign_word), one);
    // Two's complement: (magnitude ^ −negative) + negative.
    const __m512i value = _mm512_add_epi64(
        _mm512_xor_si512(magnitude, _mm512_sub_epi64(_mm512_setzero_si512(), negative)), negative);
    _mm512_storeu_si512(out + s, value);
  }
}

}  // namespace cryptonets::samplers_avx512
