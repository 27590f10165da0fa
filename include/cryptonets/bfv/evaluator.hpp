// Homomorphic operations of BFV (FV12 §4-§6) on ciphertexts of one key pair. Ciphertexts are kept
// in coefficient form; every operation updates the keyless noise estimate except add_plain and
// add_scalar, whose rounding adds at most t/(2q) to the invariant noise.
#pragma once

#include <memory>
#include <span>

#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/noise_model.hpp"
#include "cryptonets/bfv/types.hpp"

namespace cryptonets::bfv {

// Every operation throws std::invalid_argument for an operand of other parameters, of a degree
// other than 1 (two parts) or 2 (three parts), two operands of different key pairs, or a
// plaintext of the wrong size or not reduced modulo t, and std::logic_error for an operand in
// evaluation form.
class Evaluator {
 public:
  // The relinearisation key is needed only for relinearize/multiply/square.
  explicit Evaluator(std::shared_ptr<const Context> context,
                     RelinearizationKey relinearization_key = {});

  const Context& context() const { return *context_; }
  const NoiseModel& noise_model() const { return noise_model_; }
  uint64_t key_id() const { return relinearization_key_.key_id; }

  // Part by part; operands of the same key pair and degree (std::invalid_argument otherwise).
  void add_inplace(Ciphertext& a, const Ciphertext& b) const;
  void sub_inplace(Ciphertext& a, const Ciphertext& b) const;
  void negate_inplace(Ciphertext& a) const;
  // c_0 + round(q/t·[m]_t): adds the plaintext m to the message.
  void add_plain_inplace(Ciphertext& a, const Plaintext& m) const;
  // c_0 + round(q/t·[w]_t) on the constant coefficient (with batching, w in every slot).
  void add_scalar_inplace(Ciphertext& a, int64_t w) const;
  // a·w for a signed integer w, kept as a signed residue modulo each q_i: the noise grows by |w|,
  // never by t - |w|.
  void multiply_scalar_inplace(Ciphertext& a, int64_t w) const;
  // a·p for a plaintext polynomial p (its centred lift in (-t/2, t/2]); noise grows by ‖p‖_1.
  void multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const;

  // FV12 §4, Mult with the RNS scale-and-round: the tensor product of the centred lifts,
  //   (c_0·d_0, c_0·d_1 + c_1·d_0, c_1·d_1),
  // computed exactly in base q ∪ B, each part rounded as round(t/q · x) (rlwe::scale_and_round).
  // Degree-1 operands (std::invalid_argument otherwise); the result has three parts and decrypts
  // under (1, s, s²).
  // Reference twin: bfv::reference::multiply_without_relinearization.
  Ciphertext multiply_without_relinearization(const Ciphertext& a, const Ciphertext& b) const;
  // FV12 §6.1 Relin (version 1) with RNS digits: (c_0 + Σ_d D_d(c_2)·b_d, c_1 + Σ_d D_d(c_2)·a_d),
  // the gadget product of rlwe/gadget.hpp; a degree-1 value is left as it is. Throws
  // std::invalid_argument without the relinearisation key or with another key pair's.
  // Reference twin: bfv::reference::relinearize.
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
  RelinearizationKey relinearization_key_;
  NoiseModel noise_model_;
};

}  // namespace cryptonets::bfv
