// The values of YASHE': plaintexts, ciphertexts and keys. They hold data only; the objects that
// act on them (KeyGenerator, Encryptor, Decryptor, Evaluator) take a Context.
#pragma once

#include <cstdint>
#include <vector>

#include "cryptonets/ring/poly.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::yashe {

// Plaintexts of R_t and ciphertexts are the shared RLWE values (rlwe/types.hpp). A YASHE'
// ciphertext is one part c of R_q (BLLN13 §4), kept in coefficient form; its degree is the power
// of f it decrypts under: 1 normally, 2 after a multiplication not yet relinearised.
using rlwe::Ciphertext;
using rlwe::Plaintext;

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
// form. With RNS digits, P(f) has entries f·q̂_i·2^(w·l) (rlwe/gadget.hpp,
// RnsContext::gadget_factor).
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
