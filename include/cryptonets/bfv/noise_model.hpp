// A heuristic model of the invariant noise of BFV ciphertexts, usable without the secret key.
//
// The invariant noise v of a ciphertext c is defined by (t/q)·[Σ_i c_i·s^i]_q = m + v + t·k with m
// the message and k an integer polynomial; decryption is correct while ‖v‖∞ < 1/2, and the noise
// budget is -log2(2‖v‖∞) bits. The model carries an estimate of log2 ‖v‖∞ through each operation
// (formulas and derivation in noise_model.cpp): six standard deviations of each coefficient, meant
// to lie above the measured noise.
#pragma once

#include "cryptonets/bfv/context.hpp"

namespace cryptonets::bfv {

class NoiseModel {
 public:
  explicit NoiseModel(const Context& context);

  double fresh() const { return fresh_; }
  // log2(2^a + 2^b): the bound of a sum.
  static double add(double a, double b);
  static double multiply_scalar(double a, double abs_weight);
  // The product of two ciphertexts after scale-and-round (before relinearisation).
  double multiply(double a, double b) const;
  // Noise added by relinearisation (key switching).
  double key_switching() const { return key_switching_; }
  double relinearize(double a) const { return add(a, key_switching_); }

  static double budget_bits(double noise_log2) { return -(noise_log2 + 1); }

 private:
  double fresh_;
  double multiplication_factor_;  // log2 of the growth factor applied to v1 + v2
  double rounding_;               // log2 of the scale-and-round term
  double key_switching_;
};

}  // namespace cryptonets::bfv
