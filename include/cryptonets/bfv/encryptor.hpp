// BFV encryption with the public key and decryption with the secret key (FV12 §3).
#pragma once

#include <memory>

#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/noise_model.hpp"
#include "cryptonets/bfv/types.hpp"
#include "cryptonets/random/chacha20.hpp"

namespace cryptonets::bfv {

class Encryptor {
 public:
  Encryptor(std::shared_ptr<const Context> context, PublicKey public_key);

  const Context& context() const { return *context_; }
  bool has_public_key() const { return !public_key_.p0.empty(); }

  // FV12 §3, Encrypt: u ← ternary, e_1, e_2 ← χ (drawn in that order);
  //   c = ([p_0·u + e_1 + round(q/t·[m]_t)]_q, [p_1·u + e_2]_q),
  // [m]_t taken centred; the message at the exact scale q/t rather than Δ = ⌊q/t⌋ (KPZ21 §3, see
  // rlwe::add_rounded_scaled_message), which removes the r_t(q)·m/q term from the fresh noise.
  // Throws std::invalid_argument for a plaintext of the wrong size or not reduced modulo t, or an
  // encryptor without a public key (also encrypt_zero).
  Ciphertext encrypt(const Plaintext& plain, Prng& prng) const;

  // A fresh encryption of zero.
  Ciphertext encrypt_zero(Prng& prng) const;

  // ct + a fresh encryption of zero: the same message under new encryption randomness, so that an
  // output reveals nothing of how it was computed beyond its noise (re-randomisation; noise grows
  // by NoiseModel::fresh()). Throws std::invalid_argument for a ciphertext of another key pair,
  // other parameters, or three parts (relinearise first).
  void rerandomize_inplace(Ciphertext& ct, Prng& prng) const;

 private:
  std::shared_ptr<const Context> context_;
  PublicKey public_key_;
  NoiseModel noise_model_;
};

// Whether anyone can read `ct` without the secret key: it carries the transparent flag
// (rlwe/types.hpp), or its part c_1 is zero, so that c_0 = Δ·m + e alone decrypts it
// (round(t·c_0/q)), or c_0 alone rounds to a message all the same
// (rlwe::rounds_to_message_without_key): c_1 small, as a re-randomisation with a public key whose
// p_1 is zero or small leaves it (c_0 + c_1·s = Δ·m + e with c_1·s small). A re-randomised output
// under a well-formed public key is none of these.
bool readable_without_secret_key(const Context& context, const Ciphertext& ct);

class Decryptor {
 public:
  Decryptor(std::shared_ptr<const Context> context, SecretKey secret_key);

  const Context& context() const { return *context_; }

  // FV12 §3, Decrypt: m = [round(t/q · [c_0 + c_1·s (+ c_2·s²)]_q)]_t, rounded exactly in RNS
  // (rlwe::round_to_plaintext). Throws std::invalid_argument for a ciphertext of another key pair,
  // of other parameters, or with other than 2 or 3 parts (as invariant_noise_budget does).
  // Reference twin: bfv::reference::decrypt.
  Plaintext decrypt(const Ciphertext& ct) const;

  // -log2(2‖v‖∞) for the invariant noise v: bits of noise left before decryption fails. Throws
  // std::invalid_argument for a transparent ciphertext (rlwe/types.hpp): it has no encryption
  // randomness, so no noise budget.
  double invariant_noise_budget(const Ciphertext& ct) const;

 private:
  // [Σ_i c_i·s^i]_q in coefficient form.
  RnsPoly key_product(const Ciphertext& ct) const;

  std::shared_ptr<const Context> context_;
  SecretKey secret_key_;
  RnsPoly s_squared_;  // evaluation form
};

}  // namespace cryptonets::bfv
