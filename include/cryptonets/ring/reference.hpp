// Slow, obviously-correct references for the ring layer, used by the tests and kept for audit.
#pragma once

#include <gmpxx.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cryptonets/arith/modulus.hpp"
#include "cryptonets/ring/rns_base.hpp"

namespace cryptonets::reference {

// The negacyclic NTT by its definition: value i is a(ψ^(2·brv(i)+1)) mod q, brv the bit reversal
// of log2 n bits, each by Horner's rule in 128-bit arithmetic reduced with %. O(n^2). The twin of
// NttTables::forward (ring/ntt.hpp) and of BatchEncoder::decode (the same transform mod t). a: n
// residues in [0, q), n a power of two (std::invalid_argument otherwise); psi: a primitive 2n-th
// root of unity mod q (any 64-bit q: Horner runs in 128 bits).
std::vector<uint64_t> negacyclic_evaluations(const std::vector<uint64_t>& a, uint64_t psi,
                                             uint64_t q);

// Base conversion by its definition: each column's residues composed into the centred integer x in
// (-A/2, A/2] with GMP (RnsBase::compose_centered), then x mod c_j. The twin of
// BaseConverter::convert_centered; same layout (row i of `in` at in + i·n, row j of the result at
// j·n).
std::vector<uint64_t> base_convert_centered(const RnsBase& from, const std::vector<Modulus>& to,
                                            const uint64_t* in, size_t n);

// The exact product of a and b in Z[x]/(x^n + 1) by the schoolbook rule
// (x^i · x^j = -x^(i+j-n) when i + j >= n). O(n^2) big-integer multiplications. Both products
// throw std::invalid_argument unless a and b have the same non-zero length n.
std::vector<mpz_class> negacyclic_multiply_schoolbook(const std::vector<mpz_class>& a,
                                                      const std::vector<mpz_class>& b);

// The same product through NTL's ZZX multiplication, then reduced mod x^n + 1: fast enough for
// n = 16384 with coefficients of hundreds of bits. Tested against the schoolbook rule.
// Reference twin: negacyclic_multiply_schoolbook.
std::vector<mpz_class> negacyclic_multiply_ntl(const std::vector<mpz_class>& a,
                                               const std::vector<mpz_class>& b);

}  // namespace cryptonets::reference
