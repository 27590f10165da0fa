// BFV key generation (FV12 §3 SecretKeyGen, PublicKeyGen; §6.1 EvaluateKeyGen with RNS digits).
#pragma once

#include <memory>

#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/types.hpp"
#include "cryptonets/random/chacha20.hpp"

namespace cryptonets::bfv {

// s ← uniform ternary; pk = ([-(a·s + e)]_q, a); the relinearisation key for s². Draws, in order:
// the key id, s, a, e, then per digit a_d and e_d.
// Reference twin: none (random output); the key relations p0 + p1·s = -e and
// b_d + a_d·s = g_d·s² - e_d are checked in tests/test_bfv.cpp.
KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng);

// rlk_d = ([-(a_d·s + e_d) + g_d·s²]_q, a_d) for every gadget digit d.
RelinearizationKey make_relinearization_key(const std::shared_ptr<const Context>& context,
                                            const SecretKey& secret_key, Prng& prng);

}  // namespace cryptonets::bfv
