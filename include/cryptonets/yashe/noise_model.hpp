// A heuristic model of the invariant noise of YASHE' ciphertexts, usable without the secret key.
//
// The invariant noise v of a ciphertext c is defined by  (t/q)·[f^d·c]_q = m + v + t·k  with m the
// message and k an integer polynomial; decryption is correct while ‖v‖∞ < 1/2, and the noise
// budget is -log2(2‖v‖∞) bits. The model tracks an estimate of log2 ‖v‖∞ through each operation
// (formulas and their derivation in noise_model.cpp). It is an estimate of a high-probability
// upper bound (six standard deviations of each coefficient), meant to be above the measured noise.
#pragma once

#include "cryptonets/yashe/context.hpp"

namespace cryptonets::yashe {

class NoiseModel {
 public:
  explicit NoiseModel(const Context& context);

  double fresh() const { return fresh_; }
  // Σ_j |w_j|·v_j as log2 of the weighted sum of bounds, from log2 values.
  static double add(double a, double b);
  static double multiply_scalar(double a, double abs_weight);
  // The product of two ciphertexts after rescaling (before relinearisation).
  double multiply(double a, double b) const;
  // Noise added by relinearisation (key switching).
  double key_switching() const { return key_switching_; }
  double relinearize(double a) const { return add(a, key_switching_); }
  // Noise that adding a plaintext m (add_plain, |m| <= t/2) adds: Δ·m under f = t·f' + 1 brings
  // -r_t(q)·f'·m and -(r_t(q)/q)·m, fresh()'s message terms (a review found add_plain left the
  // estimate unchanged, up to about a bit low).
  double plain_addition() const { return plain_addition_; }

  static double budget_bits(double noise_log2) { return -(noise_log2 + 1); }

  // Noise flooding (circuit privacy, Gentry 2009 §21; here for YASHE'). The client, holding f
  // and g, learns from an output c = Δ·m + E + h·S the term Y = f·E + t·g·S, which depends on
  // the computation. Flooding adds e' + h·s' with e', s' uniform in [-B, B]^n; if every
  // coefficient of E and S is at most Y_max, the statistical distance between (E + e', S + s')
  // and (e', s') is at most 2n·Y_max/(2B + 1) < n·Y_max/B. With Y_max = (q/t)·2^v, the bound
  // the invariant noise v gives for Y (heuristic: E and S are taken to be no larger than Y),
  // B = 2^λ·n·Y_max reaches statistical distance 2^-λ.
  // log2 B for a ciphertext of noise estimate `noise_log2` and statistical distance 2^-λ.
  double flooding_width_log2(double noise_log2, int statistical_bits) const;
  // log2 ‖v‖∞ of e' + h·s' with e', s' uniform in [-2^width_log2, 2^width_log2]: as fresh(),
  // with variance 2^(2·width)/3 in place of σ² (t·f'·e', e', t·g·s').
  double flooding_noise(double width_log2) const;
  // log2 of the noise growth flooding causes, flooding_noise(flooding_width_log2(v, λ)) - v:
  // λ + log2 n + log2(6·t·sqrt(n·(2/3 + σ²)/3)), independent of q (no Context needed).
  static double flooding_cost_bits(size_t n, double t, double sigma, int statistical_bits);

 private:
  double fresh_;
  double plain_addition_;
  double multiplication_factor_;  // log2 of the growth factor applied to v1 + v2
  double rounding_;               // log2 of the rescaling term t/q·f²·ε
  double key_switching_;
  double log2_n_ = 0, log2_q_over_t_ = 0, flooding_factor_log2_ = 0;
};

}  // namespace cryptonets::yashe
