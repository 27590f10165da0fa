// Exact RNS base conversion of centred values.
//
// Given the residues x_i = x mod a_i of an integer x in (-A/2, A/2), A = Π a_i, compute x mod c_j
// for other moduli c_j without leaving 64-bit words. With y_i = [x_i · â_i^-1]_{a_i}:
//   Σ_i y_i · â_i = x + v·A,   and   Σ_i y_i / a_i = x/A + v,  so  v = round(Σ_i y_i / a_i)
// (Halevi, Polyakov and Shoup, "An improved RNS variant of the BFV homomorphic encryption scheme",
// CT-RSA 2019, §2.2 / Lemma 2). The sum is evaluated in double precision; it can only round the
// wrong way when x lies within about 2^-40·A of ±A/2. We detect that case and redo the coefficient
// exactly with GMP, so the conversion is exact for every input, not only with high probability.
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
  BaseConverter(const RnsBase& from, std::vector<Modulus> to);
  BaseConverter(const BaseConverter&) = delete;
  BaseConverter& operator=(const BaseConverter&) = delete;

  const RnsBase& from() const { return from_; }
  const std::vector<Modulus>& to() const { return to_; }

  // in: from().size() rows of n residues (row i at in + i·n). out: to().size() rows of n words.
  // Each column is read as the centred representative x in (-A/2, A/2) and written as x mod c_j.
  void convert_centered(const uint64_t* in, uint64_t* out, size_t n) const;

  // Number of coefficients so far that needed the exact GMP fallback (diagnostics and tests).
  size_t fallback_count() const;

 private:
  void convert_exactly(const uint64_t* in, uint64_t* out, size_t n, size_t column) const;

  RnsBase from_;
  std::vector<Modulus> to_;
  std::vector<double> inverse_from_;           // 1 / a_i
  size_t chunk_ = 1;                           // terms accumulated between reductions
  std::vector<uint64_t> punctured_mod_to_;     // (â_i mod c_j) at [j · k + i]
  std::vector<uint64_t> overflow_correction_;  // (v·A mod c_j) at [j · (k + 1) + v], v = 0..k
  mutable std::atomic<size_t> fallbacks_{0};
};

}  // namespace cryptonets
