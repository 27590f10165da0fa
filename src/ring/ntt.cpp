// Negacyclic NTT, scalar path.
//
// Forward: Cooley-Tukey, decimation in time, with the powers of ψ merged into the twiddles
// (Longa and Naehrig, "Speeding up the Number Theoretic Transform for Faster Ideal Lattice-Based
// Cryptography", 2016, Alg. 1), so no separate pre-multiplication by ψ^i is needed and the output
// comes out in bit-reversed order. Inverse: Gentleman-Sande, decimation in frequency, with ψ^-1
// powers (ibid., Alg. 2), n^-1 folded into the last stage.
// Butterflies: Harvey, "Faster arithmetic for number-theoretic transforms", J. Symb. Comput. 2014,
// §3-4 — Shoup multiplication by the fixed twiddle, values kept lazily in [0, 4q) (forward) or
// [0, 2q) (inverse), which needs 4q < 2^64, i.e. q < 2^62.
#include "cryptonets/ring/ntt.hpp"

#include <bit>
#include <stdexcept>
#include <string>

#include "cryptonets/arith/primes.hpp"

namespace cryptonets {

// The AVX2 kernels, defined in ntt_avx2.cpp (compiled for AVX2 per function, called only when the
// path allows it). Same tables and semantics as the scalar kernels below.
namespace ntt_avx2 {
void forward(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* psi_powers);
void inverse(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* inverse_psi_powers,
             const ShoupMultiplier& inverse_n, const ShoupMultiplier& inverse_n_last_twiddle);
}  // namespace ntt_avx2

// The AVX-512 kernels (ntt_avx512.cpp), n ≥ 16: 64-bit words for q < 2^62, and IFMA for q < 2^50
// with tables whose quotients are floor(w·2^52/q).
namespace ntt_avx512 {
void forward_64(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* psi_powers);
void inverse_64(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* inverse_psi_powers,
                const ShoupMultiplier& inverse_n, const ShoupMultiplier& inverse_n_last_twiddle);
void forward_52(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* psi_powers);
void inverse_52(uint64_t* a, size_t n, uint64_t q, const ShoupMultiplier* inverse_psi_powers,
                const ShoupMultiplier& inverse_n, const ShoupMultiplier& inverse_n_last_twiddle);
}  // namespace ntt_avx512

namespace {

constexpr size_t kMaxDegree = size_t{1} << 17;

// brv: the bit reversal of the low `bits` bits of i.
size_t bit_reverse(size_t i, int bits) {
  size_t r = 0;
  for (int b = 0; b < bits; ++b) {
    r |= ((i >> b) & 1) << (bits - 1 - b);
  }
  return r;
}

size_t validated_degree(size_t n) {
  if (n < 2 || n > kMaxDegree || !std::has_single_bit(n)) {
    throw std::invalid_argument("NttTables: degree n = " + std::to_string(n) +
                                " is not a power of two in [2, 2^17]");
  }
  return n;
}

const Modulus& validated_modulus(size_t n, const Modulus& q) {
  if (q.value() % (2 * n) != 1) {
    throw std::invalid_argument("NttTables: modulus q = " + std::to_string(q.value()) +
                                " is not ≡ 1 (mod 2n = " + std::to_string(2 * n) + ")");
  }
  if (!is_prime(q.value())) {
    throw std::invalid_argument("NttTables: modulus q = " + std::to_string(q.value()) +
                                " is not prime");
  }
  return q;
}

// x mod q for x in [0, 4q), branch-free (compiles to conditional moves).
inline uint64_t reduce_from_4q(uint64_t x, uint64_t q, uint64_t two_q) {
  x = x >= two_q ? x - two_q : x;
  return x >= q ? x - q : x;
}

// Harvey 2014, Alg. 4 (lazy Cooley-Tukey butterfly): X, Y in [0, 4q) →
// X + W·Y, X − W·Y (mod q), both in [0, 4q).
inline void forward_butterfly(uint64_t* __restrict x, uint64_t* __restrict y,
                              const ShoupMultiplier& w, uint64_t q, uint64_t two_q) {
  uint64_t u = *x >= two_q ? *x - two_q : *x;  // [0, 2q)
  uint64_t t = mul_shoup_lazy(*y, w, q);       // [0, 2q)
  *x = u + t;
  *y = u - t + two_q;
}

// Harvey 2014, Alg. 3 (lazy Gentleman-Sande butterfly): X, Y in [0, 2q) →
// X + Y, W·(X − Y) (mod q), both in [0, 2q).
inline void inverse_butterfly(uint64_t* __restrict x, uint64_t* __restrict y,
                              const ShoupMultiplier& w, uint64_t q, uint64_t two_q) {
  uint64_t sum = *x + *y;
  uint64_t difference = *x - *y + two_q;
  *x = sum >= two_q ? sum - two_q : sum;
  *y = mul_shoup_lazy(difference, w, q);
}

// One stage: m groups of butterflies at distance t = n / (2m); group i uses w[i]. Kept out of
// line so that the butterflies get the whole register file (mul ties up rax and rdx).
__attribute__((noinline)) void forward_stage(uint64_t* __restrict a, size_t m, size_t t,
                                             const ShoupMultiplier* __restrict w, uint64_t q) {
  const uint64_t two_q = 2 * q;
  for (size_t i = 0; i < m; ++i, a += 2 * t) {
    const ShoupMultiplier wi = w[i];
    for (size_t j = 0; j < t; j += 2) {  // t ≥ 2 here
      forward_butterfly(a + j, a + t + j, wi, q, two_q);
      forward_butterfly(a + j + 1, a + t + j + 1, wi, q, two_q);
    }
  }
}

void forward_scalar(uint64_t* __restrict a, size_t n, uint64_t q,
                    const ShoupMultiplier* __restrict psi_powers) {
  const uint64_t two_q = 2 * q;
  // Stage with m groups of butterflies at distance t = n / (2m); group i uses ψ^brv(m + i).
  for (size_t m = 1, t = n / 2; t > 1; m *= 2, t /= 2) {
    forward_stage(a, m, t, psi_powers + m, q);
  }
  // Last stage (t = 1): one twiddle per butterfly; the final reduction to [0, q) is fused in.
  const ShoupMultiplier* __restrict w = psi_powers + n / 2;
  for (size_t i = 0; i < n / 2; ++i) {
    forward_butterfly(a + 2 * i, a + 2 * i + 1, w[i], q, two_q);
    a[2 * i] = reduce_from_4q(a[2 * i], q, two_q);
    a[2 * i + 1] = reduce_from_4q(a[2 * i + 1], q, two_q);
  }
}

// One inverse stage: h groups at distance t; group i uses w[i]. Out of line as forward_stage.
__attribute__((noinline)) void inverse_stage(uint64_t* __restrict a, size_t h, size_t t,
                                             const ShoupMultiplier* __restrict w, uint64_t q) {
  const uint64_t two_q = 2 * q;
  for (size_t i = 0; i < h; ++i, a += 2 * t) {
    const ShoupMultiplier wi = w[i];
    for (size_t j = 0; j < t; j += 2) {  // t ≥ 2 here
      inverse_butterfly(a + j, a + t + j, wi, q, two_q);
      inverse_butterfly(a + j + 1, a + t + j + 1, wi, q, two_q);
    }
  }
}

void inverse_scalar(uint64_t* __restrict a, size_t n, uint64_t q,
                    const ShoupMultiplier* __restrict inverse_psi_powers,
                    const ShoupMultiplier& inverse_n,
                    const ShoupMultiplier& inverse_n_last_twiddle) {
  const uint64_t two_q = 2 * q;
  // Stages with h groups at distance t = n / (2h), h = n/2 … 2, then the last stage h = 1; the
  // twiddles are stored in the order they are consumed. First stage (t = 1): one per butterfly.
  for (size_t i = 0; i < n / 2; ++i) {
    inverse_butterfly(a + 2 * i, a + 2 * i + 1, inverse_psi_powers[i], q, two_q);
  }
  const ShoupMultiplier* w = inverse_psi_powers + n / 2;
  for (size_t h = n / 4, t = 2; h > 1; w += h, h /= 2, t *= 2) {
    inverse_stage(a, h, t, w, q);
  }
  // Last stage (h = 1, t = n/2) with n^-1 folded in: X' = n^-1 (X + Y), Y' = n^-1 W (X − Y).
  uint64_t* __restrict x = a;
  uint64_t* __restrict y = a + n / 2;
  for (size_t j = 0; j < n / 2; ++j) {
    uint64_t sum = x[j] + y[j];                 // [0, 4q)
    uint64_t difference = x[j] - y[j] + two_q;  // (0, 4q)
    x[j] = mul_shoup(sum, inverse_n, q);
    y[j] = mul_shoup(difference, inverse_n_last_twiddle, q);
  }
}

// Blocks of the vector kernels: AVX2 works on eight coefficients, AVX-512 on sixteen.
constexpr size_t kMinAvx2Degree = 8;
constexpr size_t kMinAvx512Degree = 16;
// IFMA multiplies 52-bit words; the lazy values stay below 4q ≤ 2^52.
constexpr uint64_t kIfmaModulusBound = uint64_t{1} << 50;

// Shoup's multiplier with β = 2^52: (w, floor(w·2^52/q)), for the IFMA kernels.
ShoupMultiplier shoup_52(uint64_t w, uint64_t q) {
  ShoupMultiplier m;
  m.operand = w;
  m.quotient = static_cast<uint64_t>((static_cast<u128>(w) << 52) / q);
  return m;
}

std::vector<ShoupMultiplier> shoup_52_table(const std::vector<ShoupMultiplier>& table, uint64_t q) {
  std::vector<ShoupMultiplier> result;
  result.reserve(table.size());
  for (const ShoupMultiplier& w : table)
    result.push_back(shoup_52(w.operand, q));
  return result;
}

}  // namespace

NttTables::NttTables(size_t n, const Modulus& q)
    : n_(validated_degree(n)),
      log_n_(std::countr_zero(n)),
      q_(validated_modulus(n, q)),
      psi_(minimal_primitive_root(2 * n, q)) {
  const uint64_t psi_inverse = inv_mod(psi_, q_);
  // Forward table: ψ^brv(k) at index k; the stage with m groups reads entries [m, 2m).
  psi_powers_.resize(n);
  std::vector<uint64_t> inverse_powers(n);  // ψ^-brv(k) at index k
  uint64_t power = 1, inverse_power = 1;
  for (size_t e = 0; e < n; ++e) {
    const size_t k = bit_reverse(e, log_n_);
    psi_powers_[k] = ShoupMultiplier(power, q_);
    inverse_powers[k] = inverse_power;
    power = mul_mod(power, psi_, q_);
    inverse_power = mul_mod(inverse_power, psi_inverse, q_);
  }
  // Inverse table in consumption order: the stages h = n/2, n/4, …, 2 read ψ^-brv(h + i).
  inverse_psi_powers_.reserve(n);
  for (size_t h = n / 2; h > 1; h /= 2) {
    for (size_t i = 0; i < h; ++i) {
      inverse_psi_powers_.emplace_back(inverse_powers[h + i], q_);
    }
  }
  const uint64_t n_inverse = inv_mod(n, q_);
  inverse_n_ = ShoupMultiplier(n_inverse, q_);
  inverse_n_last_twiddle_ = ShoupMultiplier(mul_mod(n_inverse, inverse_powers[1], q_), q_);
  if (q_.value() < kIfmaModulusBound) {
    psi_powers_52_ = shoup_52_table(psi_powers_, q_.value());
    inverse_psi_powers_52_ = shoup_52_table(inverse_psi_powers_, q_.value());
    inverse_n_52_ = shoup_52(inverse_n_.operand, q_.value());
    inverse_n_last_twiddle_52_ = shoup_52(inverse_n_last_twiddle_.operand, q_.value());
  }
}

SimdPath NttTables::kernel(SimdPath path) const {
  if (!simd_path_supported(path)) {
    throw std::invalid_argument(std::string("NttTables: the ") + to_string(path) +
                                " path was requested but this CPU does not support it");
  }
  if (path == SimdPath::avx512ifma && n_ >= kMinAvx512Degree && !psi_powers_52_.empty()) {
    return SimdPath::avx512ifma;
  }
  if (path >= SimdPath::avx512 && n_ >= kMinAvx512Degree) return SimdPath::avx512;
  if (path >= SimdPath::avx2 && n_ >= kMinAvx2Degree) return SimdPath::avx2;
  return SimdPath::scalar;
}

void NttTables::forward(uint64_t* a, SimdPath path) const {
  const uint64_t q = q_.value();
  switch (kernel(path)) {
    case SimdPath::avx512ifma:
      return ntt_avx512::forward_52(a, n_, q, psi_powers_52_.data());
    case SimdPath::avx512:
      return ntt_avx512::forward_64(a, n_, q, psi_powers_.data());
    case SimdPath::avx2:
      return ntt_avx2::forward(a, n_, q, psi_powers_.data());
    case SimdPath::scalar:
      return forward_scalar(a, n_, q, psi_powers_.data());
  }
}

void NttTables::inverse(uint64_t* a, SimdPath path) const {
  const uint64_t q = q_.value();
  switch (kernel(path)) {
    case SimdPath::avx512ifma:
      return ntt_avx512::inverse_52(a, n_, q, inverse_psi_powers_52_.data(), inverse_n_52_,
                                    inverse_n_last_twiddle_52_);
    case SimdPath::avx512:
      return ntt_avx512::inverse_64(a, n_, q, inverse_psi_powers_.data(), inverse_n_,
                                    inverse_n_last_twiddle_);
    case SimdPath::avx2:
      return ntt_avx2::inverse(a, n_, q, inverse_psi_powers_.data(), inverse_n_,
                               inverse_n_last_twiddle_);
    case SimdPath::scalar:
      return inverse_scalar(a, n_, q, inverse_psi_powers_.data(), inverse_n_,
                            inverse_n_last_twiddle_);
  }
}

}  // namespace cryptonets
