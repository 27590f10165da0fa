// The fused linear kernel's AVX2 path for small weights (|w| < 2^20), bit-for-bit equal to the
// scalar 128-bit path of encrypted_arithmetic.cpp (tested against it).
//
// AVX2 has no 64×64-bit multiply, but _mm256_mul_epu32 multiplies the low 32 bits of each 64-bit
// lane. A residue x < q < 2^62 is split as x = x_hi·2^32 + x_lo, and for a weight magnitude
// a < 2^b the two partial sums Σ a·x_lo (terms < 2^(32+b)) and Σ a·x_hi (< 2^(30+b)) are kept in
// 64-bit lanes; 2^(32-b) terms fit before a lane could overflow, after which they are folded into
// 128-bit totals. A negative weight multiplies q - x instead (≡ -x mod q, and q - x < 2^62), so
// that only unsigned products appear: for a lane mask m (all ones when negative),
// (x XOR m) + (m AND (q + 1)) = q - x (mod 2^64) and x when m = 0. The result per coefficient is
// (Σ_hi·2^32 + Σ_lo) mod q, one Barrett reduction per output coefficient.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/uint128.hpp"

namespace cryptonets::linear_avx2 {

bool cpu_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}

// out[x] = Σ_k sign_k·magnitude_k·inputs[k][x] mod q for x < width (a multiple of 16), where
// inputs[k] points at the first coefficient of the block. magnitude_k < 2^weight_bits,
// weight_bits <= 20.
__attribute__((target("avx2"))) void signed_small_weight_sum(const uint64_t* const* inputs,
                                                             const uint32_t* magnitudes,
                                                             const uint8_t* negative, size_t terms,
                                                             int weight_bits, const Modulus& q,
                                                             size_t width, uint64_t* out) {
  const size_t chunk = size_t{1} << (32 - weight_bits);
  const __m256i q_plus_one = _mm256_set1_epi64x(static_cast<long long>(q.value() + 1));
  for (size_t begin = 0; begin < width; begin += 16) {
    u128 total[16] = {};
    for (size_t first = 0; first < terms; first += chunk) {
      const size_t last = std::min(terms, first + chunk);
      __m256i lo[4], hi[4];
      for (int r = 0; r < 4; ++r)
        lo[r] = hi[r] = _mm256_setzero_si256();
      for (size_t k = first; k < last; ++k) {
        const __m256i a = _mm256_set1_epi64x(magnitudes[k]);
        const __m256i mask = _mm256_set1_epi64x(negative[k] ? -1 : 0);
        const __m256i offset = _mm256_and_si256(mask, q_plus_one);
        const uint64_t* in = inputs[k] + begin;
        for (int r = 0; r < 4; ++r) {
          __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + 4 * r));
          x = _mm256_add_epi64(_mm256_xor_si256(x, mask), offset);
          lo[r] = _mm256_add_epi64(lo[r], _mm256_mul_epu32(x, a));
          hi[r] = _mm256_add_epi64(hi[r], _mm256_mul_epu32(_mm256_srli_epi64(x, 32), a));
        }
      }
      alignas(32) uint64_t lo_words[16], hi_words[16];
      for (int r = 0; r < 4; ++r) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lo_words + 4 * r), lo[r]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(hi_words + 4 * r), hi[r]);
      }
      for (int x = 0; x < 16; ++x)
        total[x] += (static_cast<u128>(hi_words[x]) << 32) + lo_words[x];
    }
    // Each chunk adds less than 2^(32-b)·2^(62+b) = 2^94: below 2^126 for fewer than 2^32
    // chunks (the caller allows at most 2^32 terms).
    for (int x = 0; x < 16; ++x)
      out[begin + x] = q.reduce(total[x]);
  }
}

}  // namespace cryptonets::linear_avx2
