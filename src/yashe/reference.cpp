#include "cryptonets/yashe/reference.hpp"

#include "cryptonets/ring/reference.hpp"

namespace cryptonets::yashe::reference {

namespace {

// round(a / b) for b > 0 odd, so that no tie occurs: floor((2a + b) / 2b).
mpz_class rounded_quotient(const mpz_class& a, const mpz_class& b) {
  mpz_class numerator = 2 * a + b, denominator = 2 * b, quotient;
  mpz_fdiv_q(quotient.get_mpz_t(), numerator.get_mpz_t(), denominator.get_mpz_t());
  return quotient;
}

mpz_class centred_mod(const mpz_class& a, const mpz_class& m) {
  mpz_class r;
  mpz_fdiv_r(r.get_mpz_t(), a.get_mpz_t(), m.get_mpz_t());
  if (2 * r > m) r -= m;
  return r;
}

std::vector<mpz_class> coefficients(RnsPoly p) {
  p.to_coefficient();
  return p.to_bigint_centered();
}

}  // namespace

RnsPoly multiply_without_relinearization(const Context& context, const RnsPoly& c1,
                                         const RnsPoly& c2) {
  const std::vector<mpz_class> product =
      cryptonets::reference::negacyclic_multiply_ntl(coefficients(c1), coefficients(c2));
  const mpz_class t = static_cast<unsigned long>(context.parameters().t);
  std::vector<mpz_class> scaled(product.size());
  for (size_t j = 0; j < product.size(); ++j)
    scaled[j] = rounded_quotient(t * product[j], context.q());
  return RnsPoly::from_bigint(context.ring(), scaled);
}

Plaintext decrypt(const Context& context, const SecretKey& secret_key, const Ciphertext& ct) {
  const mpz_class& q = context.q();
  const mpz_class t = static_cast<unsigned long>(context.parameters().t);
  std::vector<mpz_class> f = coefficients(secret_key.f);
  std::vector<mpz_class> key = f;
  if (ct.degree == 2) {
    key = cryptonets::reference::negacyclic_multiply_ntl(f, f);
    for (mpz_class& x : key)
      x = centred_mod(x, q);
  }
  const std::vector<mpz_class> product =
      cryptonets::reference::negacyclic_multiply_ntl(key, coefficients(ct.c));
  Plaintext plain;
  for (const mpz_class& coefficient : product) {
    mpz_class m = rounded_quotient(t * centred_mod(coefficient, q), q), reduced;
    mpz_fdiv_r(reduced.get_mpz_t(), m.get_mpz_t(), t.get_mpz_t());
    plain.coeffs.push_back(reduced.get_ui());
  }
  return plain;
}

}  // namespace cryptonets::yashe::reference
