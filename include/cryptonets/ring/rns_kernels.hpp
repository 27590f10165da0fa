// Element-wise arithmetic on one RNS row (n residues modulo one prime q < 2^62): the inner loops
// of polynomial products in evaluation form, Shoup products by a fixed residue, sums and
// differences, and the inner loops of key switching and scale-and-round (rlwe/gadget.hpp,
// rlwe/scale_invariant.hpp), which serve every scheme. Every function has a scalar twin
// (path = SimdPath::scalar) and an AVX-512 path (SimdPath::avx512 and above; dot_product_rows
// also an IFMA one) that returns the same canonical residues bit for bit; the AVX2 path runs the
// scalar code. Inputs and outputs are residues in [0, q); rows may alias only
// where the output is the first argument. Each throws std::invalid_argument if the CPU (or
// CRYPTONETS_SIMD) does not allow `path`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/arith/simd.hpp"

namespace cryptonets {

// a[j] ← a[j]·b[j] mod q (Barrett reduction of the 128-bit product; Barrett 1986).
void multiply_rows_elementwise(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q,
                               SimdPath path = simd_path());
// acc[j] ← (acc[j] + a[j]·b[j]) mod q: the multiply-accumulate of key switching's
// Σ digit·key products.
void multiply_accumulate_rows(uint64_t* acc, const uint64_t* a, const uint64_t* b, size_t n,
                              const Modulus& q, SimdPath path = simd_path());
// a[j] ← a[j]·w mod q for a fixed w (Shoup's precomputed quotient; Harvey 2014, §2).
void multiply_row_shoup(uint64_t* a, size_t n, const ShoupMultiplier& w, const Modulus& q,
                        SimdPath path = simd_path());
// a[j] ← (a[j] + b[j]) mod q and a[j] ← (a[j] − b[j]) mod q.
void add_rows(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q,
              SimdPath path = simd_path());
void subtract_rows(uint64_t* a, const uint64_t* b, size_t n, const Modulus& q,
                   SimdPath path = simd_path());

// out[j] ← (out[j] + Σ_{g < count} a[g][j]·b[g][j]) mod q, or without the out[j] term when
// accumulate is false: the gadget product's Σ_d D_d·k_d over a group of digits, with one reduction
// per coefficient (scalar: a 128-bit sum). Operands and out[j] in [0, q); 1 ≤ count and
// count·(q − 1)² + q < 2^128 (std::invalid_argument otherwise). The IFMA path splits each operand
// into 52-bit limbs (as the base conversion's second pass does) and needs count ≤ 1024; the
// AVX-512 path reduces every product (Barrett) and adds.
void dot_product_rows(uint64_t* out, bool accumulate, const uint64_t* const* a,
                      const uint64_t* const* b, size_t count, size_t n, const Modulus& q,
                      SimdPath path = simd_path());
// a[j] ← (x[j]·w − a[j]) mod q for a fixed w (Shoup): step 3 of scale-and-round. a[j] in [0, q),
// x[j] any word.
void multiply_shoup_subtract_rows(uint64_t* a, const uint64_t* x, size_t n,
                                  const ShoupMultiplier& w, const Modulus& q,
                                  SimdPath path = simd_path());
// out[j] ← ((y[j] >> shift) & mask) mod q for values (y[j] >> shift) & mask below 2q (one
// conditional subtraction): a gadget digit of an RNS digit row. shift in [0, 63].
void extract_digit_row(uint64_t* out, const uint64_t* y, size_t n, int shift, uint64_t mask,
                       const Modulus& q, SimdPath path = simd_path());

}  // namespace cryptonets
