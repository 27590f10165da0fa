// The AVX-512 paths of the fused linear kernel (linear_kernel_avx512.cpp), used by
// encrypted_arithmetic.cpp; a private header of src/inference with the interface of
// linear_kernel_avx2.hpp. Each function's contract is documented at its definition.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cryptonets/arith/modulus.hpp"

namespace cryptonets::inference::linear_avx512 {

bool cpu_supported();

// One output at a time: signed small weights given as magnitudes and sign flags.
void signed_small_weight_sum(const uint64_t* const* inputs, const uint32_t* magnitudes,
                             const uint8_t* negative, size_t terms, int weight_bits,
                             const Modulus& q, size_t width, uint64_t* out);

// Outputs computed together by grouped_signed_weight_sum (the AVX2 kernel's grouping).
inline constexpr size_t kGroupOutputs = 4;

// Splits a block of `count` inputs into 31-bit halves, laid out for grouped_signed_weight_sum.
void split_block(const uint64_t* const* inputs, size_t count, size_t width, uint64_t* packed);

void grouped_signed_weight_sum(const uint64_t* packed, size_t count, size_t width,
                               const uint32_t* members, size_t terms, const int32_t* weights,
                               int weight_bits, const Modulus& q, uint64_t* const* out);

}  // namespace cryptonets::inference::linear_avx512
