// ChaCha20 (RFC 8439 §2.3) on several consecutive blocks at once: 8 blocks with AVX2, 16 with
// AVX-512. Lane b of every vector holds one state word of block b, so the quarter rounds are the
// scalar ones applied lane-wise (Goll and Gueron, "Vectorization of ChaCha stream cipher", 2014);
// a transpose at the end writes the blocks one after another, byte for byte as the scalar
// function would. Compiled per function with target attributes; chacha20.cpp calls in here only
// when simd_path() allows it.
//
// Block i of a stream uses counter low32(i) and first nonce word high32(i) (Prng's layout), so
// a batch may carry from the counter into the nonce word; each lane computes its own.

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_epi32(), which -O3 reports as "may be
// used (or "is used") uninitialized" (GCC bug 105593, fixed in GCC 13): a false positive in the
// system header.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstdint>

#define CRYPTONETS_AVX2 __attribute__((target("avx2")))
#define CRYPTONETS_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))

namespace cryptonets::chacha20_simd {

namespace {

constexpr uint32_t kSigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};

// AVX2: rotations by 16 and 8 are byte shuffles, the others shifts.
template <int R>
CRYPTONETS_AVX2 inline __m256i rotl(__m256i x) {
  if constexpr (R == 16) {
    return _mm256_shuffle_epi8(
        x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7,
                            4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
  } else if constexpr (R == 8) {
    return _mm256_shuffle_epi8(
        x, _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1, 2, 7, 4,
                            5, 6, 11, 8, 9, 10, 15, 12, 13, 14));
  } else {
    return _mm256_or_si256(_mm256_slli_epi32(x, R), _mm256_srli_epi32(x, 32 - R));
  }
}

CRYPTONETS_AVX2 inline void quarter_round(__m256i& a, __m256i& b, __m256i& c, __m256i& d) {
  a = _mm256_add_epi32(a, b);
  d = rotl<16>(_mm256_xor_si256(d, a));
  c = _mm256_add_epi32(c, d);
  b = rotl<12>(_mm256_xor_si256(b, c));
  a = _mm256_add_epi32(a, b);
  d = rotl<8>(_mm256_xor_si256(d, a));
  c = _mm256_add_epi32(c, d);
  b = rotl<7>(_mm256_xor_si256(b, c));
}

CRYPTONETS_AVX512 inline void quarter_round(__m512i& a, __m512i& b, __m512i& c, __m512i& d) {
  a = _mm512_add_epi32(a, b);
  d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 16);
  c = _mm512_add_epi32(c, d);
  b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 12);
  a = _mm512_add_epi32(a, b);
  d = _mm512_rol_epi32(_mm512_xor_si512(d, a), 8);
  c = _mm512_add_epi32(c, d);
  b = _mm512_rol_epi32(_mm512_xor_si512(b, c), 7);
}

}  // namespace

// 8 blocks: first, first + 1, …, first + 7 into out[0..512).
CRYPTONETS_AVX2 void blocks_avx2(const std::array<uint32_t, 8>& key, uint64_t first,
                                 const std::array<uint32_t, 3>& nonce, uint8_t* out) {
  __m256i input[16];
  for (int i = 0; i < 4; ++i)
    input[i] = _mm256_set1_epi32(static_cast<int>(kSigma[i]));
  for (int i = 0; i < 8; ++i)
    input[4 + i] = _mm256_set1_epi32(static_cast<int>(key[i]));
  // Counter low32(first + b); the carry into the nonce word where it wrapped (unsigned compare
  // through the sign-flip of both sides).
  const __m256i low = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first)));
  const __m256i counter = _mm256_add_epi32(low, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  const __m256i wrapped =
      _mm256_cmpgt_epi32(_mm256_xor_si256(low, sign), _mm256_xor_si256(counter, sign));
  input[12] = counter;
  input[13] = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(first >> 32)), wrapped);
  input[14] = _mm256_set1_epi32(static_cast<int>(nonce[1]));
  input[15] = _mm256_set1_epi32(static_cast<int>(nonce[2]));
  __m256i x[16];
  for (int i = 0; i < 16; ++i)
    x[i] = input[i];
  for (int round = 0; round < 10; ++round) {  // RFC 8439 §2.3: columns, then diagonals
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; ++i)
    x[i] = _mm256_add_epi32(x[i], input[i]);
  // Transpose: after the two unpack steps, s[j][r] holds in its 128-bit half h the words
  // 4j..4j+3 of block 4h + r.
  for (int j = 0; j < 4; ++j) {
    const __m256i t0 = _mm256_unpacklo_epi32(x[4 * j], x[4 * j + 1]);
    const __m256i t1 = _mm256_unpackhi_epi32(x[4 * j], x[4 * j + 1]);
    const __m256i t2 = _mm256_unpacklo_epi32(x[4 * j + 2], x[4 * j + 3]);
    const __m256i t3 = _mm256_unpackhi_epi32(x[4 * j + 2], x[4 * j + 3]);
    x[4 * j] = _mm256_unpacklo_epi64(t0, t2);
    x[4 * j + 1] = _mm256_unpackhi_epi64(t0, t2);
    x[4 * j + 2] = _mm256_unpacklo_epi64(t1, t3);
    x[4 * j + 3] = _mm256_unpackhi_epi64(t1, t3);
  }
  for (int r = 0; r < 4; ++r) {
    const __m256i s0 = x[r], s1 = x[4 + r], s2 = x[8 + r], s3 = x[12 + r];
    __m256i* low_block = reinterpret_cast<__m256i*>(out + 64 * r);
    __m256i* high_block = reinterpret_cast<__m256i*>(out + 64 * (4 + r));
    _mm256_storeu_si256(low_block, _mm256_permute2x128_si256(s0, s1, 0x20));
    _mm256_storeu_si256(low_block + 1, _mm256_permute2x128_si256(s2, s3, 0x20));
    _mm256_storeu_si256(high_block, _mm256_permute2x128_si256(s0, s1, 0x31));
    _mm256_storeu_si256(high_block + 1, _mm256_permute2x128_si256(s2, s3, 0x31));
  }
}

// 16 blocks: first, …, first + 15 into out[0..1024).
CRYPTONETS_AVX512 void blocks_avx512(const std::array<uint32_t, 8>& key, uint64_t first,
                                     const std::array<uint32_t, 3>& nonce, uint8_t* out) {
  __m512i input[16];
  for (int i = 0; i < 4; ++i)
    input[i] = _mm512_set1_epi32(static_cast<int>(kSigma[i]));
  for (int i = 0; i < 8; ++i)
    input[4 + i] = _mm512_set1_epi32(static_cast<int>(key[i]));
  const __m512i low = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first)));
  const __m512i counter = _mm512_add_epi32(
      low, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __mmask16 wrapped = _mm512_cmplt_epu32_mask(counter, low);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(first >> 32));
  input[12] = counter;
  input[13] = _mm512_mask_add_epi32(high, wrapped, high, _mm512_set1_epi32(1));
  input[14] = _mm512_set1_epi32(static_cast<int>(nonce[1]));
  input[15] = _mm512_set1_epi32(static_cast<int>(nonce[2]));
  __m512i x[16];
  for (int i = 0; i < 16; ++i)
    x[i] = input[i];
  for (int round = 0; round < 10; ++round) {  // RFC 8439 §2.3: columns, then diagonals
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; ++i)
    x[i] = _mm512_add_epi32(x[i], input[i]);
  // Transpose: after the two unpack steps, s[j][r] holds in its 128-bit lane L the words
  // 4j..4j+3 of block 4L + r; then a 4×4 transpose of 128-bit lanes per r.
  for (int j = 0; j < 4; ++j) {
    const __m512i t0 = _mm512_unpacklo_epi32(x[4 * j], x[4 * j + 1]);
    const __m512i t1 = _mm512_unpackhi_epi32(x[4 * j], x[4 * j + 1]);
    const __m512i t2 = _mm512_unpacklo_epi32(x[4 * j + 2], x[4 * j + 3]);
    const __m512i t3 = _mm512_unpackhi_epi32(x[4 * j + 2], x[4 * j + 3]);
    x[4 * j] = _mm512_unpacklo_epi64(t0, t2);
    x[4 * j + 1] = _mm512_unpackhi_epi64(t0, t2);
    x[4 * j + 2] = _mm512_unpacklo_epi64(t1, t3);
    x[4 * j + 3] = _mm512_unpackhi_epi64(t1, t3);
  }
  for (int r = 0; r < 4; ++r) {
    const __m512i s0 = x[r], s1 = x[4 + r], s2 = x[8 + r], s3 = x[12 + r];
    const __m512i p = _mm512_shuffle_i32x4(s0, s1, 0x44), q = _mm512_shuffle_i32x4(s2, s3, 0x44);
    const __m512i p2 = _mm512_shuffle_i32x4(s0, s1, 0xee), q2 = _mm512_shuffle_i32x4(s2, s3, 0xee);
    _mm512_storeu_si512(out + 64 * r, _mm512_shuffle_i32x4(p, q, 0x88));
    _mm512_storeu_si512(out + 64 * (4 + r), _mm512_shuffle_i32x4(p, q, 0xdd));
    _mm512_storeu_si512(out + 64 * (8 + r), _mm512_shuffle_i32x4(p2, q2, 0x88));
    _mm512_storeu_si512(out + 64 * (12 + r), _mm512_shuffle_i32x4(p2, q2, 0xdd));
  }
}

}  // namespace cryptonets::chacha20_simd
