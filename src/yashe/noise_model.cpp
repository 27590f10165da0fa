#include "cryptonets/yashe/noise_model.hpp"

#include <algorithm>
#include <cmath>

namespace cryptonets::yashe {

namespace {

// A coefficient of a product of random polynomials is a sum of n products; we bound it by six
// standard deviations (a 2^-26 tail per coefficient for a Gaussian sum).
constexpr double kTail = 6.0;
constexpr double kTernaryVariance = 2.0 / 3.0;  // of a uniform {-1, 0, 1} coefficient

}  // namespace

NoiseModel::NoiseModel(const Context& context) {
  const auto& p = context.parameters();
  const double n = static_cast<double>(p.n);
  const double t = static_cast<double>(p.t);
  const double log2_q = p.log2_q();
  const double r_t = static_cast<double>(context.q_mod_t());
  const double sigma = p.sigma;

  // Fresh (YASHE' Encrypt, BLLN13 §4): with f·h = t·g and Δ·t = q - r_t(q),
  //   [f·c]_q = Δ·m + E,   E = t·f'·e + e + t·g·s - r_t(q)·f'·m,
  //   v = (t/q)·E - (r_t(q)/q)·m.
  // t·f'·e and t·g·s have coefficient variance t²·n·(2/3)·σ² each; r_t(q)·f'·m at most
  // r_t²·n·(2/3)·(t/2)² for messages |m| <= t/2.
  const double noise_terms = kTail * t * sigma * std::sqrt(2 * n * kTernaryVariance);
  const double message_term = kTail * r_t * (t / 2) * std::sqrt(n * kTernaryVariance);
  fresh_ = std::log2(t * (noise_terms + message_term) + r_t * t / 2) - log2_q;
  // add_plain: [f·(c + Δ·m)]_q = [f·c]_q + Δ·m - r_t(q)·f'·m (mod q), so v gains the message
  // terms of a fresh ciphertext alone.
  plain_addition_ = std::log2(t * message_term + r_t * t / 2) - log2_q;

  // Multiplication: write (t/q)·f·c_i = m_i + v_i + t·k_i with k_i ≈ f·c_i/q, whose coefficients
  // have standard deviation t·sqrt(n·(2/3)/12) (f ≈ t·f', c_i/q uniform in ±1/2). Then
  //   (t/q)·f²·round(t/q·c1·c2) = m1·m2 + t·(…) + v1·(m2 + t·k2) + v2·(m1 + t·k1) + v1·v2 + ρ,
  // so v grows by ‖v_i·t·k_j‖ ≈ 6·sqrt(n)·‖v_i‖·t²·sqrt(n·(2/3)/12), and ρ = (t/q)·f²·ε with
  // |ε| <= 1/2 the rounding error.
  multiplication_factor_ =
      std::log2(kTail * std::sqrt(n) * t * t * std::sqrt(n * kTernaryVariance / 12));
  rounding_ = std::log2(kTail * t * t * t * n * kTernaryVariance / std::sqrt(12.0)) - log2_q;

  // Key switching (BLLN13 §4, KeySwitch): f·Σ_d D_d·γ_d = f²·c + Σ_d D_d·(t·f'·e_d + e_d + t·g·s_d)
  // with digits D_d uniform in [0, 2^w): variance 2^(2w)/3 each.
  const int largest_prime_bits = context.q_base()[0].bits();
  const double w = std::min(context.digit_bits(), largest_prime_bits);
  const double digit_variance = std::exp2(2 * w) / 3;
  const double term_variance =
      n * digit_variance * 2 * t * t * n * kTernaryVariance * sigma * sigma;
  key_switching_ =
      std::log2(kTail * t * std::sqrt(static_cast<double>(context.digit_count()) * term_variance)) -
      log2_q;

  // Flooding: E' = t·f'·e' + e' + t·g·s' with e', s' of variance B²/3 and g ← χ (variance σ²):
  // coefficient variance ≈ t²·n·((2/3) + σ²)·B²/3, and v = (t/q)·E'.
  log2_n_ = std::log2(n);
  log2_q_over_t_ = log2_q - std::log2(t);
  flooding_factor_log2_ =
      std::log2(kTail * t * t * std::sqrt(n * (kTernaryVariance + sigma * sigma) / 3)) - log2_q;
}

double NoiseModel::flooding_width_log2(double noise_log2, int statistical_bits) const {
  return statistical_bits + log2_n_ + noise_log2 + log2_q_over_t_;
}

double NoiseModel::flooding_cost_bits(size_t n, double t, double sigma, int statistical_bits) {
  const double degree = static_cast<double>(n);
  return statistical_bits + std::log2(degree) +
         std::log2(kTail * t * std::sqrt(degree * (kTernaryVariance + sigma * sigma) / 3));
}

double NoiseModel::flooding_noise(double width_log2) const {
  return flooding_factor_log2_ + width_log2;
}

double NoiseModel::add(double a, double b) {
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log2(1 + std::exp2(lo - hi));
}

double NoiseModel::multiply_scalar(double a, double abs_weight) {
  return abs_weight == 0 ? -1e9 : a + std::log2(abs_weight);
}

double NoiseModel::multiply(double a, double b) const {
  return add(add(a, b) + multiplication_factor_, add(a + b, rounding_));
}

}  // namespace cryptonets::yashe
