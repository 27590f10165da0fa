#include "cryptonets/bfv/noise_model.hpp"

#include <algorithm>
#include <cmath>

namespace cryptonets::bfv {

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
  const double sigma = p.sigma;

  // Fresh (FV12 §3 Encrypt; Lemma 1): with p_0 + p_1·s = -e and the message at scale q/t
  // (round(q/t·m) = q/t·m + ε, |ε| <= 1/2; KPZ21 §3),
  //   c_0 + c_1·s = round(q/t·m) + E,   E = -e·u + e_1 + e_2·s,
  //   v = (t/q)·(E + ε).
  // e·u and e_2·s have coefficient variance n·(2/3)·σ² each, e_1 σ².
  const double fresh_terms = kTail * sigma * std::sqrt(2 * n * kTernaryVariance + 1);
  fresh_ = std::log2(t * (fresh_terms + 0.5)) - log2_q;

  // Multiplication (FV12 §4, Lemma 2 in the style of a 6σ estimate): write
  // (t/q)·(c_0 + c_1·s) = m_i + v_i + t·k_i over Z, with k_i ≈ (c_0 + c_1·s)/q whose coefficients
  // have variance (1 + n·(2/3))/12 (c/q uniform in ±1/2). Then
  //   (t/q)·[round(t/q·c⊗d)]·(1, s, s²) = m1·m2 + t·(…) + v1·(m2 + t·k2) + v2·(m1 + t·k1)
  //                                        + v1·v2 + ρ,
  // so v grows by ‖v_i·(m_j + t·k_j)‖ <= 6·√n·‖v_i‖·t·√((2 + n·(2/3))/12) (m uniform mod t adds
  // variance t²/12), and ρ = (t/q)·(ε_0 + ε_1·s + ε_2·s²) with |ε| <= 1/2 the rounding errors
  // (s² has coefficient variance n·(2/3)²).
  multiplication_factor_ =
      std::log2(kTail * std::sqrt(n) * t * std::sqrt((2 + n * kTernaryVariance) / 12));
  rounding_ =
      std::log2(kTail * t *
                std::sqrt((1 + n * kTernaryVariance + n * n * kTernaryVariance * kTernaryVariance) /
                          12)) -
      log2_q;

  // Relinearisation (FV12 §6.1 with RNS digits): the key switch adds -Σ_d D_d(c_2)·e_d with digits
  // D_d uniform in [0, 2^w): variance digit_count·n·(2^(2w)/3)·σ², times t/q.
  const rlwe::RnsContext& rns = context.rns();
  int largest_prime_bits = 0;
  for (const Modulus& q : rns.q_base().moduli())
    largest_prime_bits = std::max(largest_prime_bits, q.bits());
  const double w = std::min(rns.digit_bits(), largest_prime_bits);
  const double variance =
      static_cast<double>(rns.digit_count()) * n * std::exp2(2 * w) / 3 * sigma * sigma;
  key_switching_ = std::log2(kTail * t * std::sqrt(variance)) - log2_q;
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

}  // namespace cryptonets::bfv
