// The values every scheme on R_q shares: plaintexts of R_t and ciphertexts as a list of parts.
#pragma once

#include <cstdint>
#include <vector>

#include "cryptonets/ring/poly.hpp"

namespace cryptonets::rlwe {

// An element of R_t = Z_t[x]/(x^n + 1): n coefficients in [0, t).
struct Plaintext {
  std::vector<uint64_t> coeffs;
};

// A ciphertext: polynomials of R_q in coefficient form, with the bookkeeping every scheme keeps.
//   YASHE': one part c, decrypting as [f^degree·c]_q (degree 1, or 2 before relinearisation).
//   BFV:    parts c_0..c_degree, decrypting as [Σ_i c_i·s^i]_q (2 parts, or 3 before
//           relinearisation).
struct Ciphertext {
  std::vector<RnsPoly> parts;
  // The secret key power the ciphertext decrypts under (its highest power of the key).
  int degree = 1;
  // Identity of the key pair it was encrypted under (random, from key generation): combining or
  // decrypting ciphertexts of different keys is refused instead of giving garbage.
  uint64_t key_id = 0;
  // The noise model's upper estimate of log2 ‖v‖∞, v the invariant noise (each scheme's
  // noise_model.hpp). Kept in memory only: files never carry it (it depends on the
  // computation, issue 14).
  double noise_log2 = 0;
  // Known to carry no encryption randomness: made from plaintext data only (a product with zero,
  // a linear combination without terms, a constant added to such a value). Such a ciphertext is
  // Δ·m + small and anyone can read it without the secret key; add a fresh encryption of zero
  // (each scheme's Encryptor::rerandomize_inplace) before it leaves the process. Combining keeps
  // the flag only while every operand has it.
  bool transparent = false;

  size_t size() const { return parts.size(); }
};

}  // namespace cryptonets::rlwe
