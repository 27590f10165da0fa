// The security report for BFV parameters: only what the HomomorphicEncryption.org standard's
// tables and the project's primal-uSVP estimate (rlwe/lattice_estimate.hpp) support, with the
// assumptions named.
//
// BFV (FV12) with a ternary secret rests on
//   1. decision RLWE with a uniform ternary secret and Gaussian error σ (the public key
//      ([-(a·s + e)]_q, a) and every encryption), the setting of the standard's ternary rows;
//   2. circular security of the relinearisation key: rlk_d is an RLWE encryption of g_d·s² under
//      s itself, which RLWE alone does not cover (FV12 §6.1 states the same assumption).
// The modulus counted against the table is the whole key-switching modulus: q here, as
// relinearisation uses RNS digits and no special prime. The auxiliary base B of the
// multiplication never appears in a public key or ciphertext and is not counted.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cryptonets/bfv/parameters.hpp"
#include "cryptonets/rlwe/lattice_estimate.hpp"

namespace cryptonets::bfv {

struct SecurityReport {
  struct TableCheck {
    rlwe::Adversary adversary;
    int level;
    std::optional<int> max_log2_q;  // nullopt: n is not in the table
    bool passes = false;
  };

  size_t n = 0;
  double log2_q = 0;  // the whole modulus of the key-switching key (no special prime: q)
  double sigma = 0;
  size_t rlwe_samples = 0;  // RLWE samples of one secret an attacker sees: pk and every rlk_d

  std::vector<TableCheck> table_checks;  // ternary rows, classical and quantum, 128/192/256
  rlwe::UsvpEstimate estimate;           // primal uSVP, ternary secret, m <= rlwe_samples·n

  // Inside the standard's 128-bit classical ternary bound, and the estimate at 128 bits or more.
  bool meets_128_classical = false;
  int highest_table_level = 0;  // the highest classical level whose bound q meets (0: none)

  std::string full_text() const;
  std::string one_line() const;
};

// Throws std::invalid_argument for invalid parameters.
SecurityReport assess_security(const Parameters& params);

}  // namespace cryptonets::bfv
