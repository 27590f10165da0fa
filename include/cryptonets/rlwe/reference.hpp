// Slow, obviously-correct twins of the rlwe fast paths, on GMP integers: for audit, and for the
// tests that check the RNS code bit for bit.
#pragma once

#include <gmpxx.h>

#include <vector>

#include "cryptonets/rlwe/rns_context.hpp"
#include "cryptonets/rlwe/types.hpp"

namespace cryptonets::rlwe::reference {

// round(a / b) = ⌊a/b + 1/2⌋ = ⌊(2a + b) / 2b⌋ for b > 0 (no tie occurs for b odd and a = b·k/2).
mpz_class rounded_quotient(const mpz_class& a, const mpz_class& b);
// a mod m in (-m/2, m/2].
mpz_class centred_mod(const mpz_class& a, const mpz_class& m);
// The centred integer coefficients of p (any form).
std::vector<mpz_class> coefficients(RnsPoly p);

// round(q/t · [m]_t) coefficient by coefficient, [m]_t centred, as a polynomial of R_q.
RnsPoly rounded_scaled_message(const RnsContext& context, const Plaintext& m);

// [round(t/q · x)]_q for integer coefficients x, as a polynomial of R_q (coefficient form).
RnsPoly scale_and_round(const RnsContext& context, const std::vector<mpz_class>& x);

// [round(t/q · x)]_t coefficient by coefficient, x read as centred integers mod q.
Plaintext round_to_plaintext(const RnsContext& context, const std::vector<mpz_class>& x);

// Key switching written out term by term: for every digit d = (i, l), the integer polynomial
// D_d = ⌊[c_i·q̂_i^-1]_{q_i} / 2^(w·l)⌋ mod 2^w, times key[d], summed. No grouping, no lazy
// reduction. c: coefficient form; key: evaluation form; result: coefficient form.
RnsPoly gadget_product(const RnsContext& context, const RnsPoly& c,
                       const std::vector<RnsPoly>& key);

}  // namespace cryptonets::rlwe::reference
