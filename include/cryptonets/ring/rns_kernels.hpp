// Element-wise arithmetic on one RNS row (n residues modulo one prime q < 2^62): the inner loops
// of polynomial products in evaluation form, Shoup products by a fixed residue, sums and
// differences. Every function has a scalar twin (path = SimdPath::scalar) and an AVX-512 path
// (SimdPath::avx512 and above) that returns the same canonical residues bit for bit; the AVX2
// path runs the scalar code. Inputs and outputs are residues in [0, q); rows may alias only
// where the output is the first argument.
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

}  // namespace cryptonets
