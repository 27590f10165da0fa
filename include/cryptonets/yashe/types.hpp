// The values of YASHE': plaintexts, ciphertexts and keys. They hold data only; the objects that
// act on them (KeyGenerator, Encryptor, Decryptor, Evaluator) take a Context.
#pragma once

#include <cstdint>
#include <vector>

#include "cryptonets/ring/poly.hpp"

namespace cryptonets::yashe {

// An element of R_t = Z_t[x]/(x^n + 1): n coefficients in [0, t).
struct Plaintext {
  std::vector<uint64_t> coeffs;
};

// A YASHE' ciphertext is one element c of R_q (BLLN13 §4). We keep it in coefficient form.
struct Ciphertext {
  RnsPoly c;
  // The secret key power it decrypts under: 1 normally, 2 after a multiplication that has not
  // been relinearised yet.
  int degree = 1;
  // Identity of the key pair it was encrypted under (random, from key generation): combining or
  // decrypting ciphertexts of different keys is refused instead of giving garbage.
  uint64_t key_id = 0;
  // The noise model's upper estimate of log2 ‖v‖∞, v the invariant noise (noise_model.hpp).
  // Kept in memory only: files never carry it (it depends on the computation, issue 14).
  double noise_log2 = 0;
  // Known to carry no encryption randomness: made from plaintext data only (a product with zero,
  // a linear combination without terms, a constant added to such a value). Such a ciphertext is
  // Δ·m + small and anyone can read it as round(t·c/q), without the secret key; add a fresh
  // encryption of zero (Encryptor::rerandomize_inplace) before it leaves the process. Combining
  // keeps the flag only while every operand has it.
  bool transparent = false;
};

// f = t·f' + 1 with f' uniform ternary (BLLN13 §4, KeyGen). Kept in evaluation form, with f' for
// compact storage.
struct SecretKey {
  RnsPoly f;
  std::vector<int8_t> f_prime;
  uint64_t key_id = 0;
};

// h = [t·g·f^-1]_q (BLLN13 §4, KeyGen), evaluation form.
struct PublicKey {
  RnsPoly h;
  uint64_t key_id = 0;
};

// γ = [P_{w,q}(f) + e + h·s]_q (BLLN13 §4, KeyGen), one element per key-switching digit, evaluation
// form. With RNS digits, P(f) has entries f·q̂_i·2^(w·l) (see context.hpp).
struct EvaluationKey {
  std::vector<RnsPoly> gamma;
  uint64_t key_id = 0;
};

struct KeySet {
  SecretKey secret_key;
  PublicKey public_key;
  EvaluationKey evaluation_key;
};

}  // namespace cryptonets::yashe
