#include "cryptonets/rlwe/reference.hpp"

#include "cryptonets/ring/reference.hpp"

namespace cryptonets::rlwe::reference {

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

RnsPoly rounded_scaled_message(const RnsContext& context, const Plaintext& m) {
  const mpz_class t = static_cast<unsigned long>(context.t().value());
  std::vector<mpz_class> scaled;
  for (uint64_t x : m.coeffs) {
    const mpz_class centred = centred_mod(mpz_class(static_cast<unsigned long>(x)), t);
    scaled.push_back(rounded_quotient(context.q() * centred, t));  // ⌊x + 1/2⌋, as the fast path
  }
  return RnsPoly::from_bigint(context.ring(), scaled);
}

RnsPoly scale_and_round(const RnsContext& context, const std::vector<mpz_class>& x) {
  const mpz_class t = static_cast<unsigned long>(context.t().value());
  std::vector<mpz_class> scaled(x.size());
  for (size_t j = 0; j < x.size(); ++j)
    scaled[j] = rounded_quotient(t * x[j], context.q());
  return RnsPoly::from_bigint(context.ring(), scaled);
}

Plaintext round_to_plaintext(const RnsContext& context, const std::vector<mpz_class>& x) {
  const mpz_class& q = context.q();
  const mpz_class t = static_cast<unsigned long>(context.t().value());
  Plaintext plain;
  for (const mpz_class& coefficient : x) {
    mpz_class m = rounded_quotient(t * centred_mod(coefficient, q), q), reduced;
    mpz_fdiv_r(reduced.get_mpz_t(), m.get_mpz_t(), t.get_mpz_t());
    plain.coeffs.push_back(reduced.get_ui());
  }
  return plain;
}

RnsPoly gadget_product(const RnsContext& ctx, const RnsPoly& c, const std::vector<RnsPoly>& key) {
  const size_t n = ctx.n();
  const int w = ctx.digit_bits();
  const mpz_class two_w = mpz_class(1) << w;
  RnsPoly sum(ctx.ring(), PolyForm::evaluation);
  for (size_t d = 0; d < ctx.digit_count(); ++d) {
    const auto [i, l] = ctx.digit(d);
    const mpz_class q_i = static_cast<unsigned long>(ctx.q_base()[i].value());
    mpz_class inverse;  // q̂_i^-1 mod q_i
    mpz_invert(inverse.get_mpz_t(), mpz_class(ctx.q_base().punctured_product(i) % q_i).get_mpz_t(),
               q_i.get_mpz_t());
    std::vector<mpz_class> digit(n);
    for (size_t j = 0; j < n; ++j) {
      const mpz_class y = (mpz_class(static_cast<unsigned long>(c.residues(i)[j])) * inverse) % q_i;
      mpz_class shifted = y >> (static_cast<mp_bitcnt_t>(w) * l);
      mpz_fdiv_r(digit[j].get_mpz_t(), shifted.get_mpz_t(), two_w.get_mpz_t());
    }
    RnsPoly term = RnsPoly::from_bigint(ctx.ring(), digit);
    term.to_evaluation();
    term *= key[d];
    sum += term;
  }
  sum.to_coefficient();
  return sum;
}

}  // namespace cryptonets::rlwe::reference
