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

  // c = [Δ·[m]_t + e + h·s]_q with s, e ← χ_err; [m]_t taken centred, which keeps r_t(q)·m small.
  Ciphertext encrypt(const Plaintext& plain, Prng& prng) const;

 private:
  std::shared_ptr<const Context> context_;
  PublicKey public_key_;
  NoiseModel noise_model_;
};

class Decryptor {
 public:
  Decryptor(std::shared_ptr<const Context> context, SecretKey secret_key);

  // m = [round(t/q · [f^d·c]_q)]_t, computed exactly in RNS (see encryptor.cpp).
  Plaintext decrypt(const Ciphertext& ct) const;

  // -log2(2‖v‖∞) for the invariant noise v: bits of noise left before decryption fails.
  // 0 or less means the noise has reached the message and decryption is no longer reliable.
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
