// Homomorphic operations of YASHE' (BLLN13 §4: Add, Mult, KeySwitch) on ciphertexts of one key.
#pragma once

#include <memory>
#include <span>

#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/noise_model.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets::yashe {

// Every operation throws std::invalid_argument for an operand of other parameters, two operands
// of different key pairs, or a plaintext of the wrong size or not reduced modulo t, and
// std::logic_error for an operand in evaluation form (ciphertexts are kept in coefficient form).
class Evaluator {
 public:
  // The evaluation key is needed only for multiply/square/relinearize.
  explicit Evaluator(std::shared_ptr<const Context> context, EvaluationKey evaluation_key = {});

  const Context& context() const { return *context_; }
  const NoiseModel& noise_model() const { return noise_model_; }
  // The key pair this evaluator's evaluation key belongs to (0 without one).
  uint64_t key_id() const { return evaluation_key_.key_id; }

  // Operands of the same degree (std::invalid_argument otherwise).
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  void negate_inplace(Ciphertext& a) const;
  // a + Δ·[m]_t: adds the plaintext m to the message. Degree 1 only (under f², Δ·m would not
  // decrypt to m): std::invalid_argument otherwise. The noise estimate gains
  // NoiseModel::plain_addition() (-r_t(q)·f'·m, as in a fresh ciphertext).
  void add_plain_inplace(Ciphertext& a, const Plaintext& m) const;
  // a + Δ·[w]_t: adds the constant polynomial w (with batching, w in every slot). Degree 1 only,
  // as add_plain_inplace. The noise estimate is left unchanged: -r_t(q)·f'·w is a single
  // term of at most r_t(q)·|w| per coefficient, negligible beside a sum of n.
  void add_scalar_inplace(Ciphertext& a, int64_t w) const;
  // a·w for a signed integer w: the sign is kept as a sign (residue of w mod q_i), so the noise
  // grows by |w|, never by t - |w|.
  void multiply_scalar_inplace(Ciphertext& a, int64_t w) const;
  // a·p for a plaintext polynomial p (its centred lift in (-t/2, t/2]).
  void multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const;

  // c~ = [round(t/q · c1·c2)]_q with c1·c2 the exact product of the centred lifts in
  // Z[x]/(x^n + 1) (BLLN13 §4, Mult before KeySwitch). Decrypts under f² (degree 2). Both
  // operands of degree 1 (std::invalid_argument otherwise).
  // Reference twin: yashe::reference::multiply_without_relinearization.
  Ciphertext multiply_without_relinearization(const Ciphertext& a, const Ciphertext& b) const;
  // KeySwitch (BLLN13 §4): [Σ_d D_d(c)·γ_d]_q, from f² back to f; a degree-1 value is left as it
  // is. Throws std::invalid_argument without the evaluation key or with another key pair's.
  // Reference twin: rlwe::reference::gadget_product(context.rns(), c, γ).
  void relinearize_inplace(Ciphertext& a) const;
  // relinearize_inplace on every value of degree 2 (degree 1 is left as it is), one value per
  // task on `threads` OpenMP threads (rlwe::gadget_products). Equal bit for bit to
  // relinearize_inplace on each. Throws as relinearize_inplace, before changing any value;
  // std::invalid_argument if threads < 1.
  void relinearize_all(std::span<Ciphertext> values, int threads) const;
  Ciphertext multiply(const Ciphertext& a, const Ciphertext& b) const;
  Ciphertext square(const Ciphertext& a) const;

 private:
  void check_operand(const Ciphertext& a) const;
  void check_pair(const Ciphertext& a, const Ciphertext& b) const;

  std::shared_ptr<const Context> context_;
  EvaluationKey evaluation_key_;
  NoiseModel noise_model_;
};

}  // namespace cryptonets::yashe
