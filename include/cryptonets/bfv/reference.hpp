// Slow, obviously-correct BFV multiply, relinearise and decrypt on GMP/NTL integers, for audit and
// for the tests that check the RNS fast paths bit for bit.
#pragma once

#include "cryptonets/bfv/context.hpp"
#include "cryptonets/bfv/types.hpp"

namespace cryptonets::bfv::reference {

// ([round(t/q·c_0·d_0)]_q, [round(t/q·(c_0·d_1 + c_1·d_0))]_q, [round(t/q·c_1·d_1)]_q) with the
// products exact in Z[x]/(x^n + 1) on the centred lifts.
Ciphertext multiply_without_relinearization(const Context& context, const Ciphertext& a,
                                            const Ciphertext& b);

// Key switching of c_2 written out term by term (rlwe::reference::gadget_product).
Ciphertext relinearize(const Context& context, const RelinearizationKey& key, const Ciphertext& ct);

// [round(t/q · [c_0 + c_1·s + c_2·s²]_q)]_t with exact big-integer arithmetic.
Plaintext decrypt(const Context& context, const SecretKey& secret_key, const Ciphertext& ct);

}  // namespace cryptonets::bfv::reference
