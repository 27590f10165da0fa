#include "cryptonets/arith/reference.hpp"

#include <gmpxx.h>

#include "cryptonets/arith/wide_integer.hpp"

namespace cryptonets::reference {

namespace {

mpz_class from_u64(uint64_t x) {
  return to_mpz(static_cast<u128>(x));
}

uint64_t to_u64(const mpz_class& x) {
  return static_cast<uint64_t>(mpz_get_ui(x.get_mpz_t()));  // unsigned long is 64 bits here
}

}  // namespace

uint64_t reduce(u128 x, uint64_t q) {
  mpz_class r;
  mpz_fdiv_r(r.get_mpz_t(), to_mpz(x).get_mpz_t(), from_u64(q).get_mpz_t());
  return to_u64(r);
}

uint64_t mul_mod(uint64_t a, uint64_t b, uint64_t q) {
  mpz_class r = from_u64(a) * from_u64(b);
  mpz_fdiv_r(r.get_mpz_t(), r.get_mpz_t(), from_u64(q).get_mpz_t());
  return to_u64(r);
}

uint64_t pow_mod(uint64_t base, uint64_t exponent, uint64_t q) {
  mpz_class r;
  mpz_powm(r.get_mpz_t(), from_u64(base).get_mpz_t(), from_u64(exponent).get_mpz_t(),
           from_u64(q).get_mpz_t());
  return to_u64(r);
}

uint64_t inv_mod(uint64_t a, uint64_t q) {
  mpz_class r;
  if (mpz_invert(r.get_mpz_t(), from_u64(a).get_mpz_t(), from_u64(q).get_mpz_t()) == 0) return 0;
  return to_u64(r);
}

bool is_prime(uint64_t x) {
  return mpz_probab_prime_p(from_u64(x).get_mpz_t(), 50) != 0;
}

}  // namespace cryptonets::reference
