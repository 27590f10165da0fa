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

// A signed 64-bit lane as a double, rounded once: AVX2 has no 64-bit integer conversion, so the
// high 32 bits (signed) and the low 32 bits (unsigned) are each converted exactly by placing them
// in the mantissa of 2^52 (plus 2^31, which makes the high half non-negative) and subtracting
// that, then combined with one rounding (the product by 2^32 is exact).
__attribute__((target("avx2"))) inline __attribute__((always_inline)) __m256d to_double(__m256i v) {
  const __m256i magic_bits = _mm256_set1_epi64x(0x4330000000000000);  // 2^52
  const __m256d magic = _mm256_set1_pd(4503599627370496.0);
  const __m256d magic_signed = _mm256_set1_pd(4503599627370496.0 + 2147483648.0);
  const __m256i low_32 = _mm256_set1_epi64x(0xffffffff);
  const __m256i high = _mm256_xor_si256(_mm256_srli_epi64(v, 32), _mm256_set1_epi64x(0x80000000));
  const __m256d high_d =
      _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(high, magic_bits)), magic_signed);
  const __m256d low_d = _mm256_sub_pd(
      _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(v, low_32), magic_bits)), magic);
  return _mm256_add_pd(_mm256_mul_pd(high_d, _mm256_set1_pd(4294967296.0)), low_d);  // one rounding
}

// v mod q for four lanes of v = hi·2^31 + lo, hi and lo signed, exactly, when |v| < 2^46·q and
// q < 2^60: the AVX2 twin of linear_kernel_avx512.cpp's reduce_signed_split_sum, whose error
// analysis holds here too. The quotient estimate e = ⌊fl(fl(hi)·2^31 + fl(lo))·fl(1/q)⌋ has the
// same roundings (to_double rounds once, the products by powers of 2 are exact), so it moves by
// less than 1/8 and is off by at most one; r = v − e·q in [−q, 2q) is computed modulo 2^64 and
// brought into [0, q) by one conditional add and one conditional subtract. The estimate
// (|e| < 2^47) becomes an integer by adding 1.5·2^52 (exact below 2^51) and reading the bits, and
// e·q mod 2^64 takes three 32×32-bit products, as AVX2 has no 64-bit multiply.
__attribute__((target("avx2"))) inline __attribute__((always_inline)) __m256i
reduce_signed_split_sum(__m256i hi, __m256i lo, __m256i q, __m256d inverse_q) {
  const __m256d value =
      _mm256_add_pd(_mm256_mul_pd(to_double(hi), _mm256_set1_pd(2147483648.0)), to_double(lo));
  const __m256d quotient = _mm256_floor_pd(_mm256_mul_pd(value, inverse_q));
  const __m256d round_magic = _mm256_set1_pd(6755399441055744.0);  // 1.5·2^52
  const __m256i estimate = _mm256_sub_epi64(
      _mm256_castpd_si256(_mm256_add_pd(quotient, round_magic)), _mm256_castpd_si256(round_magic));
  const __m256i q_high = _mm256_srli_epi64(q, 32);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(estimate, 32), q),
                                         _mm256_mul_epu32(estimate, q_high));
  const __m256i product =
      _mm256_add_epi64(_mm256_mul_epu32(estimate, q), _mm256_slli_epi64(cross, 32));
  __m256i r = _mm256_sub_epi64(_mm256_add_epi64(lo, _mm256_slli_epi64(hi, 31)), product);
  const __m256i zero = _mm256_setzero_si256();
  r = _mm256_add_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(zero, r), q));
  const __m256i q_minus_one = _mm256_sub_epi64(q, _mm256_set1_epi64x(1));
  return _mm256_sub_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(r, q_minus_one), q));
}

// For g < kGroupOutputs with out[g] != nullptr and x < width:
//   out[g][x] = Σ_k weights[k·kGroupOutputs + g] · input_{members[k]}[x] mod q,
// reading the inputs from split_block's `packed` (of `count` inputs). |weights| < 2^weight_bits,
// weight_bits <= 20; terms < 2^32. When all terms fit one pass and the sums stay below 2^46·q
// (2^(46 − b) terms, q < 2^60), the lanes are reduced in vectors (reduce_signed_split_sum)
// instead of through 128-bit totals: as in the AVX-512 kernel, this halves the output layer's
// time.
__attribute__((target("avx2"))) void grouped_signed_weight_sum(
    const uint64_t* packed, size_t count, size_t width, const uint32_t* members, size_t terms,
    const int32_t* weights, int weight_bits, const Modulus& q, uint64_t* const* out) {
  const size_t chunk = size_t{1} << (32 - weight_bits);
  // Σ_k w_k·x_k with |w_k| < 2^b and x_k < q is below 2^(bit_width(terms) + b)·q in magnitude.
  const bool vector_reduction =
      terms <= chunk && q.bits() <= 60 && std::bit_width(terms) + weight_bits <= 46;
  const __m256i q_vector = _mm256_set1_epi64x(static_cast<long long>(q.value()));
  const __m256d inverse_q = _mm256_set1_pd(1.0 / static_cast<double>(q.value()));
  // A multiple of q in [2^116, 2^117): total + bias lies in (0, 2^118), within Modulus::reduce.
  const u128 bias = static_cast<u128>(q.value()) << (117 - std::bit_width(q.value()));
  // lo[g] += Σ w·x_lo and hi[g] += Σ w·x_hi over the terms [first, last) of one slice.
  const auto accumulate = [&](const uint64_t* slice, size_t first, size_t last, __m256i* lo,
                              __m256i* hi) __attribute__((target("avx2"))) {
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
  };
  for (size_t s = 0; s < width / 4; ++s) {
    const uint64_t* slice = packed + s * count * 8;
    __m256i lo[kGroupOutputs], hi[kGroupOutputs];
    if (vector_reduction) {
      accumulate(slice, 0, terms, lo, hi);
      for (size_t g = 0; g < kGroupOutputs; ++g) {
        if (out[g] == nullptr) continue;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[g] + 4 * s),
                            reduce_signed_split_sum(hi[g], lo[g], q_vector, inverse_q));
      }
      continue;
    }
    i128 total[kGroupOutputs][4] = {};
    for (size_t first = 0; first < terms; first += chunk) {
      accumulate(slice, first, std::min(terms, first + chunk), lo, hi);
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
