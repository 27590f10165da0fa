// Slow, obviously-correct references for the ring layer, used by the tests and kept for audit.
#pragma once

#include <gmpxx.h>

#include <vector>

namespace cryptonets::reference {

// The exact product of a and b in Z[x]/(x^n + 1) by the schoolbook rule
// (x^i · x^j = -x^(i+j-n) when i + j >= n). O(n^2) big-integer multiplications.
std::vector<mpz_class> negacyclic_multiply_schoolbook(const std::vector<mpz_class>& a,
                                                      const std::vector<mpz_class>& b);

// The same product through NTL's ZZX multiplication, then reduced mod x^n + 1: fast enough for
// n = 16384 with coefficients of hundreds of bits. Tested against the schoolbook rule.
std::vector<mpz_class> negacyclic_multiply_ntl(const std::vector<mpz_class>& a,
                                               const std::vector<mpz_class>& b);

}  // namespace cryptonets::reference
