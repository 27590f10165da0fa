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
#include <bit>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/arith/uint128.hpp"
#include "linear_kernel_avx2.hpp"

namespace cryptonets::inference::linear_avx2 {

bool cpu_supported() {
  return simd_path_supported(SimdPath::avx2);
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

// Grouped outputs. Several outputs of a dense layer share (nearly) all their inputs, so a loaded
// input vector is multiplied by the weights of kGroupOutputs outputs while it sits in registers,
// instead of being re-read once per output.
//
// The block's inputs are first split once (split_block): x = x_hi·2^31 + x_lo with x_lo < 2^31 and
// x_hi < 2^31 (x < q < 2^62), so both halves are non-negative as signed 32-bit numbers and
// _mm256_mul_epi32 multiplies them by a signed weight directly: no sign handling per term, and
// Σ w·x ≡ the signed sum mod q (the residue is unique, so the result equals the 128-bit path's).
//
// Overflow: |w·x_half| < 2^b·2^31 = 2^(31+b), so 2^(32-b) terms keep a signed 64-bit lane below
// 2^63 in magnitude; then the lanes are folded into signed 128-bit totals (each fold adds less
// than 2^63·2^31 + 2^63 < 2^95). The caller allows fewer than 2^32 terms, i.e. at most 2^b <= 2^20
// folds: |total| < 2^115.

// packed[((s·count + j)·2 + h)·4 + l] = half h (0: x_lo, 1: x_hi) of inputs[j][4s + l], for the
// width / 4 slices s of 4 coefficients: one slice of every input is contiguous, so the grouped sum
// streams it in order.
__attribute__((target("avx2"))) void split_block(const uint64_t* const* inputs, size_t count,
                                                 size_t width, uint64_t* packed) {
  const __m256i low_mask = _mm256_set1_epi64x((int64_t{1} << 31) - 1);
  for (size_t j = 0; j < count; ++j) {
    for (size_t s = 0; s < width / 4; ++s) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(inputs[j] + 4 * s));
      uint64_t* to = packed + (s * count + j) * 8;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), _mm256_and_si256(x, low_mask));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to + 4), _mm256_srli_epi64(x, 31));
    }
  }
}

// For g < kGroupOutputs with out[g] != nullptr and x < width:
//   out[g][x] = Σ_k weights[k·kGroupOutputs + g] · input_{members[k]}[x] mod q,
// reading the inputs from split_block's `packed` (of `count` inputs). |weights| < 2^weight_bits,
// weight_bits <= 20; terms < 2^32.
__attribute__((target("avx2"))) void grouped_signed_weight_sum(
    const uint64_t* packed, size_t count, size_t width, const uint32_t* members, size_t terms,
    const int32_t* weights, int weight_bits, const Modulus& q, uint64_t* const* out) {
  const size_t chunk = size_t{1} << (32 - weight_bits);
  // A multiple of q in [2^116, 2^117): total + bias lies in (0, 2^118), within Modulus::reduce.
  const u128 bias = static_cast<u128>(q.value()) << (117 - std::bit_width(q.value()));
  for (size_t s = 0; s < width / 4; ++s) {
    const uint64_t* slice = packed + s * count * 8;
    i128 total[kGroupOutputs][4] = {};
    for (size_t first = 0; first < terms; first += chunk) {
      const size_t last = std::min(terms, first + chunk);
      __m256i lo[kGroupOutputs], hi[kGroupOutputs];
      for (size_t g = 0; g < kGroupOutputs; ++g)
        lo[g] = hi[g] = _mm256_setzero_si256();
      for (size_t k = first; k < last; ++k) {
        const uint64_t* x = slice + size_t{members[k]} * 8;
        const __m256i x_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
        const __m256i x_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 4));
        const int32_t* w = weights + k * kGroupOutputs;
        for (size_t g = 0; g < kGroupOutputs; ++g) {
          const __m256i a = _mm256_set1_epi32(w[g]);  // mul_epi32 reads the low 32 bits
          lo[g] = _mm256_add_epi64(lo[g], _mm256_mul_epi32(x_lo, a));
          hi[g] = _mm256_add_epi64(hi[g], _mm256_mul_epi32(x_hi, a));
        }
      }
      for (size_t g = 0; g < kGroupOutputs; ++g) {
        alignas(32) int64_t lo_words[4], hi_words[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lo_words), lo[g]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(hi_words), hi[g]);
        for (int l = 0; l < 4; ++l)
          total[g][l] += static_cast<i128>(hi_words[l]) * (int64_t{1} << 31) + lo_words[l];
      }
    }
    for (size_t g = 0; g < kGroupOutputs; ++g) {
      if (out[g] == nullptr) continue;
      for (int l = 0; l < 4; ++l)
        out[g][4 * s + l] = q.reduce(static_cast<u128>(total[g][l] + static_cast<i128>(bias)));
    }
  }
}

}  // namespace cryptonets::inference::linear_avx2
