// YASHE' encryption with the public key and decryption with the secret key (BLLN13 §4).
#pragma once

#include <memory>

#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/noise_model.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets::yashe {

class Encryptor {
 public:
  Encryptor(std::shared_ptr<const Context> context, PublicKey public_key);

  const Context& context() const { return *context_; }
  // False for an encryptor made with an empty public key (a set that only evaluates).
  bool has_public_key() const { return !public_key_.h.empty(); }

  // c = [Δ·[m]_t + e + h·s]_q with s, e ← χ_err (BLLN13 §4, Encrypt); [m]_t taken centred,
  // which keeps r_t(q)·m small. Throws std::invalid_argument for a plaintext of the wrong size or
  // not reduced modulo t, or an encryptor without a public key (also encrypt_zero).
  Ciphertext encrypt(const Plaintext& plain, Prng& prng) const;

  // A fresh encryption of zero, [e + h·s]_q.
  Ciphertext encrypt_zero(Prng& prng) const;

  // ct + a fresh encryption of zero: the same message under new encryption randomness, so that an
  // output reveals nothing of how it was computed beyond its noise, and a transparent ciphertext
  // (types.hpp) becomes a real one. Noise grows by fresh() (NoiseModel::add).
  // flooding_width_log2 = w > 0: noise flooding (circuit privacy, noise_model.hpp) with e', s'
  // uniform in [-2^⌈w⌉, 2^⌈w⌉)^n instead of χ_err; the noise grows by flooding_noise(⌈w⌉). w must
  // be below log2 q - 1; w <= 0 (noise too small to need flooding) is the plain re-randomisation.
  // Throws std::invalid_argument for a ciphertext of another key, other parameters, degree 2
  // (relinearise first), w out of range, or an encryptor without a public key.
  void rerandomize_inplace(Ciphertext& ct, Prng& prng, double flooding_width_log2 = 0) const;

 private:
  std::shared_ptr<const Context> context_;
  PublicKey public_key_;
  NoiseModel noise_model_;
};

// Whether anyone can read `ct` without the secret key: it carries the transparent flag, or every
// coefficient of t·c/q lies within 1/4 of an integer, as Δ·m + small does (a ciphertext with
// encryption randomness has [t·c]_q uniform: each coefficient passes with probability 1/2, so a
// false alarm has probability 2^-n; for n < 64 only the flag is looked at). Keyless: O(n·k).
bool readable_without_secret_key(const Context& context, const Ciphertext& ct);

class Decryptor {
 public:
  Decryptor(std::shared_ptr<const Context> context, SecretKey secret_key);

  const Context& context() const { return *context_; }

  // m = [round(t/q · [f^d·c]_q)]_t (BLLN13 §4, Decrypt), rounded exactly in RNS
  // (rlwe::round_to_plaintext). Throws std::invalid_argument for a ciphertext of another key pair,
  // of other parameters, or of a degree other than 1 or 2 (as invariant_noise_budget does).
  // Reference twin: yashe::reference::decrypt.
  Plaintext decrypt(const Ciphertext& ct) const;

  // -log2(2‖v‖∞) for the invariant noise v: bits of noise left before decryption fails.
  // 0 or less means the noise has reached the message and decryption is no longer reliable.
  // Throws std::invalid_argument for a transparent ciphertext (types.hpp): it has no encryption
  // noise to measure, and a budget would present it as fresh.
  double invariant_noise_budget(const Ciphertext& ct) const;

 private:
  // [f^d·c]_q in coefficient form.
  RnsPoly key_product(const Ciphertext& ct) const;
  void check(const Ciphertext& ct) const;

  std::shared_ptr<const Context> context_;
  SecretKey secret_key_;
  RnsPoly f_squared_;  // evaluation form, for degree-2 ciphertexts
};

}  // namespace cryptonets::yashe
