// Slow, obviously-correct YASHE' multiply and decrypt on GMP integers, for audit and for the tests
// that check the RNS fast paths bit for bit.
#pragma once

#include "cryptonets/yashe/context.hpp"
#include "cryptonets/yashe/types.hpp"

namespace cryptonets::yashe::reference {

// [round(t/q · c1·c2)]_q with c1·c2 the exact product of the centred lifts in Z[x]/(x^n + 1).
RnsPoly multiply_without_relinearization(const Context& context, const RnsPoly& c1,
                                         const RnsPoly& c2);

// [round(t/q · [f^d·c]_q)]_t with exact big-integer rounding.
Plaintext decrypt(const Context& context, const SecretKey& secret_key, const Ciphertext& ct);

}  // namespace cryptonets::yashe::reference
