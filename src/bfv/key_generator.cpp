#include "cryptonets/bfv/key_generator.hpp"

#include "cryptonets/random/samplers.hpp"

namespace cryptonets::bfv {

namespace {

RnsPoly small_poly(const Context& ctx, const std::vector<int64_t>& coefficients) {
  RnsPoly p = RnsPoly::from_signed(ctx.ring(), coefficients);
  p.to_evaluation();
  return p;
}

uint64_t random_key_id(Prng& prng) {
  uint64_t id = 0;
  while (id == 0)
    id = prng.next_u64();
  return id;
}

// [-(a·s + e)]_q in evaluation form, for a uniform a (evaluation form) and e ← χ.
RnsPoly minus_a_s_plus_e(const Context& ctx, const RnsPoly& a, const RnsPoly& s,
                         const DiscreteGaussian& chi, Prng& prng) {
  RnsPoly b = a;
  b *= s;
  b += small_poly(ctx, chi.sample_vector(prng, ctx.n()));
  b.negate();
  return b;
}

}  // namespace

KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng) {
  const Context& ctx = *context;
  const DiscreteGaussian chi(ctx.parameters().sigma);
  KeySet keys;
  keys.secret_key.key_id = keys.public_key.key_id = random_key_id(prng);

  const std::vector<int64_t> s = sample_ternary(prng, ctx.n());
  keys.secret_key.coefficients.assign(s.begin(), s.end());
  keys.secret_key.s = small_poly(ctx, s);

  // pk = ([-(a·s + e)]_q, a), FV12 §3 PublicKeyGen.
  keys.public_key.p1 = sample_uniform_poly(prng, ctx.ring(), PolyForm::evaluation);
  keys.public_key.p0 = minus_a_s_plus_e(ctx, keys.public_key.p1, keys.secret_key.s, chi, prng);

  keys.relinearization_key = make_relinearization_key(context, keys.secret_key, prng);
  return keys;
}

RelinearizationKey make_relinearization_key(const std::shared_ptr<const Context>& context,
                                            const SecretKey& secret_key, Prng& prng) {
  const Context& ctx = *context;
  const DiscreteGaussian chi(ctx.parameters().sigma);
  RnsPoly s_squared = secret_key.s;
  s_squared *= secret_key.s;
  RelinearizationKey rlk;
  rlk.key_id = secret_key.key_id;
  for (size_t d = 0; d < ctx.rns().digit_count(); ++d) {
    // rlk_d = ([-(a_d·s + e_d) + g_d·s²]_q, a_d): b_d + a_d·s = g_d·s² - e_d.
    RnsPoly a = sample_uniform_poly(prng, ctx.ring(), PolyForm::evaluation);
    RnsPoly b = minus_a_s_plus_e(ctx, a, secret_key.s, chi, prng);
    RnsPoly g_s_squared = s_squared;
    g_s_squared.multiply_bigint(ctx.rns().gadget_factor(d));
    b += g_s_squared;
    rlk.b.push_back(std::move(b));
    rlk.a.push_back(std::move(a));
  }
  return rlk;
}

}  // namespace cryptonets::bfv
