// Exact RNS base conversion of centred values.
//
// Given the residues x_i = x mod a_i of an integer x in (-A/2, A/2), A = Π a_i, compute x mod c_j
// for other moduli c_j without leaving 64-bit words. With y_i = [x_i · â_i^-1]_{a_i}:
//   Σ_i y_i · â_i = x + v·A,   and   Σ_i y_i / a_i = x/A + v,  so  v = round(Σ_i y_i / a_i)
// (Halevi, Polyakov and Shoup, "An improved RNS variant of the BFV homomorphic encryption scheme",
// CT-RSA 2019, §2.2 / Lemma 2). The sum is evaluated in double precision with a proven error
// bound E (about k²·2^-53 for k source moduli); it can only round the wrong way when the fraction
// of Σ_i y_i / a_i lies within E of 1/2, i.e. when x lies within about E·A of ±A/2. Such columns
// are flagged (with the margin max(2^-40, 2E)) and redone exactly with GMP, so the conversion is
// exact for every input, not only with high probability.
//
// Paths (arith/simd.hpp): from SimdPath::avx512 the first pass runs eight columns at a time, from
// SimdPath::avx512ifma the second pass too (base_converter_avx512.cpp); every path writes the
// same words.
//
// Layout for speed: columns are processed in blocks that keep the y_i of a block in L1 cache.
// Pass 1 walks the source rows contiguously (y_i and the double sum); pass 2 walks each target
// row contiguously, accumulating Σ_i y_i·(â_i mod c_j) in 128 bits with one reduction per
// coefficient.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/ring/rns_base.hpp"

namespace cryptonets {

class BaseConverter {
 public:
  // Throws std::invalid_argument for an empty target list or more than 1000 source moduli.
  BaseConverter(const RnsBase& from, std::vector<Modulus> to);
  BaseConverter(const BaseConverter&) = delete;
  BaseConverter& operator=(const BaseConverter&) = delete;

  const RnsBase& from() const { return from_; }
  const std::vector<Modulus>& to() const { return to_; }

  // in: from().size() rows of n residues (row i at in + i·n). out: to().size() rows of n words.
  // Each column is read as the centred representative x in (-A/2, A/2) and written as x mod c_j.
  // in and out must not overlap.
  // Reference twin: reference::base_convert_centered (ring/reference.hpp), for both functions.
  void convert_centered(const uint64_t* in, uint64_t* out, size_t n) const;
  // The same for the integer x with x_i = [factors[i] · in_i]_{a_i}: a row-wise scaling folded
  // into the conversion's first multiplication (factors[i] < a_i), so callers that need
  // (f·x) mod c_j save one pass over the input.
  void convert_centered_scaled(const uint64_t* in, const uint64_t* factors, uint64_t* out,
                               size_t n) const;

  // Number of coefficients so far that needed the exact GMP fallback (diagnostics and tests).
  size_t fallback_count() const;

  // Columns per cache block (exposed so tests can cover partial blocks).
  size_t block_size() const { return block_size_; }

 private:
  // multipliers[i] = [f_i · â_i^-1]_{a_i}: y_i = [in_i · multipliers[i]]_{a_i}.
  void convert_with(const uint64_t* in, const ShoupMultiplier* multipliers, uint64_t* out,
                    size_t n) const;
  // Montgomery's reduction (Montgomery 1985, "Modular multiplication without trial division"):
  // for odd c and x < c·2^64, x·2^-64 mod c with one low and one high multiplication. With
  // m = x0·(-c^-1) mod 2^64, x + m·c is divisible by 2^64 and (x + m·c)/2^64 < 2c; its low
  // words cancel, carrying exactly when x0 != 0.
  struct MontgomeryReducer {
    explicit MontgomeryReducer(uint64_t modulus);  // modulus odd (or 1 as a placeholder)
    uint64_t reduce(u128 x) const {
      const uint64_t x1 = static_cast<uint64_t>(x >> 64), x0 = static_cast<uint64_t>(x);
      const uint64_t m = x0 * minus_c_inverse;
      uint64_t r = x1 + mul_high(m, c) + static_cast<uint64_t>(x0 != 0);
      r -= c & (uint64_t{0} - static_cast<uint64_t>(r >= c));
      return r;
    }
    uint64_t c, minus_c_inverse;
  };

  void convert_block(const uint64_t* in, const ShoupMultiplier* multipliers, uint64_t* out,
                     size_t n, size_t first, size_t width) const;
  // Pass 1: y_i rows of the block into y (row stride block_size_), and per column the overflow
  // count v, or flagged_overflow_ where the estimate is ambiguous. Returns the number flagged.
  size_t compute_y_and_overflow(const uint64_t* in, const ShoupMultiplier* multipliers, size_t n,
                                size_t first, size_t width, uint64_t* y, double* sum,
                                uint32_t* overflow) const;
  // Pass 2 for target j: out row j of the block from y and v.
  void accumulate_target(size_t j, const uint64_t* y, const uint32_t* overflow, size_t width,
                         uint64_t* out_row) const;
  // The exact GMP path for one column, from its y_i (row stride `stride`):
  // x = centred (Σ_i y_i·â_i mod A), written as x mod c_j to out[j·n].
  void convert_exactly(const uint64_t* y, size_t stride, uint64_t* out, size_t n) const;

  RnsBase from_;
  std::vector<Modulus> to_;
  std::vector<double> inverse_from_;                // 1 / a_i
  std::vector<ShoupMultiplier> punctured_inverse_;  // â_i^-1 mod a_i
  double ambiguity_margin_ = 0;    // flag columns whose fraction is this close to 1/2
  size_t chunk_ = 1;               // terms accumulated between reductions
  size_t block_size_ = 256;        // columns per cache block
  uint32_t flagged_overflow_ = 0;  // k + 1: marks a column for the exact fallback
  // Per target c_j: whether pass 2 reduces with MontgomeryReducer (then the two tables below hold
  // their values times 2^64 mod c_j) or with WideReducer.
  std::vector<uint8_t> montgomery_;
  std::vector<uint64_t> punctured_mod_to_;     // (â_i mod c_j) at [j · k + i]
  std::vector<uint64_t> overflow_correction_;  // (-v·A mod c_j) at [j · (k + 2) + v], v = 0..k+1
  std::vector<WideReducer> reducers_;          // one per target modulus
  // The same constants as plain residues (IFMA pass 2), and per target the Shoup multipliers of
  // 1, 2^52 and 2^104 modulo c_j at [3j], [3j + 1], [3j + 2].
  std::vector<uint64_t> punctured_plain_;
  std::vector<uint64_t> correction_plain_;
  std::vector<ShoupMultiplier> ifma_reduce_;
  // Every source modulus is at most 2^52, so every y_i fits one IFMA limb (fewer multiply-adds).
  bool narrow_sources_ = false;
  std::vector<MontgomeryReducer> montgomery_reducers_;
  mutable std::atomic<size_t> fallbacks_{0};
};

}  // namespace cryptonets
