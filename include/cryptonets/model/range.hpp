// Worst-case value ranges of an integer model, and the plaintext modulus they call for.
//
// Each value is tracked as an interval [lower, upper] over all inputs in [0, max_input]
// (interval arithmetic, exact in GMP integers):
//   linear y = b + Σ w_j x_j:  upper = b + Σ_{w_j>0} w_j·upper_j + Σ_{w_j<0} w_j·lower_j, and
//                              lower symmetrically. This is never looser than the classical
//                              bound Σ|w_j|·B_j + |b| and is attained when the x_j are free.
//   square y = x²:            [min over the interval of x², max(lower², upper²)].
//   polynomial Σ c_k·x^k:     the sum of the monomials' intervals (degree-3 steps only).
// The ranges are those of the compiled network (layers.hpp), which computes output_factor × the
// model's outputs: a polynomial layer's factor and folded affine maps are included, and a linear
// layer followed by a polynomial layer reports its folded outputs 2A·y + F·B.
// The bound of a layer is max |value| over its outputs; a centred representation of values in
// [-B, B] needs t >= 2B + 1, i.e. ceil(log2(2B + 1)) bits.
//
// Which bound must fit the plaintext modulus: the network is a polynomial with integer
// coefficients and Z -> Z_t (or Z_T, T a product of CRT moduli) is a ring homomorphism, so the
// intermediate values may wrap mod t freely; only the final outputs are decoded and must satisfy
// 2·B_out + 1 <= T. The per-layer bounds are reported for information (e.g. noise estimates).
#pragma once

#include <gmpxx.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cryptonets/model/model.hpp"

namespace cryptonets::model {

struct ValueInterval {
  mpz_class lower;
  mpz_class upper;
};

struct LayerRange {
  size_t layer_index = 0;
  std::string layer_name;
  std::vector<ValueInterval> elements;  // one per output value, row-major
  mpz_class bound;                      // max |value| over the elements
  int bits = 0;                         // centred_bits(bound)
};

struct RangeReport {
  int64_t max_input = 0;
  std::vector<LayerRange> layers;  // one per model layer, Flatten included

  const LayerRange& output() const { return layers.back(); }
  int output_bits() const { return layers.back().bits; }
  int max_layer_bits() const;  // the widest layer
};

// ceil(log2(2·bound + 1)): the bits of the smallest modulus that holds [-bound, bound] centred.
int centred_bits(const mpz_class& bound);

// Inputs are integers in [0, max_input] (max_input >= 0). Validates the model; the model must have
// at least one layer. Reference twin: none (a bound); tests/test_range.cpp checks it is never
// exceeded on random and extreme inputs, and never looser than Σ|w|·B + |b|.
RangeReport track_ranges(const Model& model, int64_t max_input);
// With max_input = max_input_value(model) (a white pixel).
RangeReport track_ranges(const Model& model);

// Whether the final outputs decode exactly from residues mod T (2·B_out + 1 <= T).
bool plaintext_modulus_suffices(const RangeReport& report, const mpz_class& modulus);
// The same for the CRT product of several moduli.
bool plaintext_moduli_suffice(const RangeReport& report, const std::vector<uint64_t>& moduli);

class PlaintextModulusTooSmall : public std::runtime_error {
 public:
  // bound: the outputs' bound B; modulus: the product T of the moduli (T < 2·B + 1).
  PlaintextModulusTooSmall(int needed_bits, int modulus_bits, int moduli_given, int moduli_needed,
                           const mpz_class& bound, const mpz_class& modulus);
  int needed_bits() const { return needed_bits_; }
  int modulus_bits() const { return modulus_bits_; }
  // How many moduli as large as the smallest one given would suffice.
  int moduli_needed() const { return moduli_needed_; }

 private:
  int needed_bits_;
  int modulus_bits_;
  int moduli_needed_;
};

// Throws PlaintextModulusTooSmall ("the model needs N bits; plaintext modulus t has M bits, and
// decoding needs t >= 2·B + 1 for the outputs' bound B = ..., but t = ... < 2·B + 1 = ...: use K
// moduli (CRT) or a smaller input scale") unless the product of the moduli suffices. Throws
// std::invalid_argument for an empty list or a modulus below 2.
void require_plaintext_moduli(const RangeReport& report, const std::vector<uint64_t>& moduli);

}  // namespace cryptonets::model
