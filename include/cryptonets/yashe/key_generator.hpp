// YASHE' key generation (BLLN13 §4, KeyGen).
#pragma once

#include <memory>

#include "cryptonets/random/chacha20.hpp"
#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets::yashe {

// f', g ← uniform ternary; f = t·f' + 1, resampled until invertible in R_q; h = [t·g·f^-1]_q;
// γ_d = [f·P_d + e_d + h·s_d]_q with e_d, s_d ← χ_err. Draws, in order: the key id, f' (again
// until f is invertible), g, then per digit e_d and s_d. Throws std::runtime_error if 100 draws
// of f' give no invertible f (a draw fails only when some NTT value of f is 0 modulo some q_i).
// Reference twin: none (random output). h·f = t·g with g ternary is checked on data/kat's n = 16
// keys (tests/test_kat.cpp); γ by relinearisation decrypting correctly (tests/test_yashe.cpp).
KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng);

// The evaluation key for an existing secret key (also used by generate_keys).
EvaluationKey make_evaluation_key(const std::shared_ptr<const Context>& context,
                                  const SecretKey& secret_key, const PublicKey& public_key,
                                  Prng& prng);

}  // namespace cryptonets::yashe
