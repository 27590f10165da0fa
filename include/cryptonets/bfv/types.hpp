// The values of BFV: plaintexts and ciphertexts (shared with every RLWE scheme, rlwe/types.hpp)
// and keys. They hold data only; KeyGenerator, Encryptor, Decryptor and Evaluator act on them.
#pragma once

#include <cstdint>
#include <vector>

#include "cryptonets/ring/poly.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::bfv {

// A BFV ciphertext has parts (c_0, c_1), decrypting as [c_0 + c_1·s]_q (degree 1), or
// (c_0, c_1, c_2) under (1, s, s²) after a multiplication not yet relinearised (degree 2).
using rlwe::Ciphertext;
using rlwe::Plaintext;

// s uniform ternary (FV12 §3, SecretKeyGen with a ternary χ_key, as the HE standard's ternary
// rows assume), kept in evaluation form with its coefficients for compact storage.
struct SecretKey {
  RnsPoly s;
  std::vector<int8_t> coefficients;
  uint64_t key_id = 0;
};

// pk = (p_0, p_1) = ([-(a·s + e)]_q, a) with a uniform in R_q, e ← χ (FV12 §3, PublicKeyGen);
// evaluation form.
struct PublicKey {
  RnsPoly p0, p1;
  uint64_t key_id = 0;
};

// Relinearisation key (FV12 §6.1, version 1, with the RNS gadget of rlwe/gadget.hpp): per digit d,
//   rlk_d = (b_d, a_d) = ([-(a_d·s + e_d) + g_d·s²]_q, a_d),
// an encryption of g_d·s² under s; evaluation form.
struct RelinearizationKey {
  std::vector<RnsPoly> b, a;
  uint64_t key_id = 0;
};

struct KeySet {
  SecretKey secret_key;
  PublicKey public_key;
  RelinearizationKey relinearization_key;
};

}  // namespace cryptonets::bfv
