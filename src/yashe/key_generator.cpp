#include "cryptonets/yashe/key_generator.hpp"

#include <stdexcept>

#include "cryptonets/random/samplers.hpp"

namespace cryptonets::yashe {

namespace {

// f is invertible in R_q iff none of its NTT values is zero modulo any prime of q (R_q is then a
// product of fields Z_{q_i}, one per root of x^n + 1).
bool invertible(const RnsPoly& f_evaluation) {
  for (uint64_t value : f_evaluation.data()) {
    if (value == 0) return false;
  }
  return true;
}

// Pointwise inverse of a polynomial in evaluation form.
RnsPoly inverse(const RnsPoly& a) {
  RnsPoly result = a;
  for (size_t i = 0; i < a.rns_size(); ++i) {
    const Modulus& q = a.ring().base()[i];
    uint64_t* row = result.residues(i);
    for (size_t j = 0; j < a.n(); ++j)
      row[j] = inv_mod(row[j], q);
  }
  return result;
}

RnsPoly gaussian_poly(const Context& context, const DiscreteGaussian& chi, Prng& prng) {
  return RnsPoly::from_signed(context.ring(), chi.sample_vector(prng, context.n()));
}

uint64_t random_key_id(Prng& prng) {
  uint64_t id = 0;
  while (id == 0)
    id = prng.next_u64();
  return id;
}

}  // namespace

KeySet generate_keys(const std::shared_ptr<const Context>& context, Prng& prng) {
  const Context& ctx = *context;
  const auto t = static_cast<int64_t>(ctx.parameters().t);
  KeySet keys;
  keys.secret_key.key_id = keys.public_key.key_id = random_key_id(prng);

  // f = t·f' + 1, resampled until invertible.
  RnsPoly f;
  std::vector<int64_t> f_prime;
  for (int attempt = 0;; ++attempt) {
    if (attempt == 100) throw std::runtime_error("KeyGen: no invertible f after 100 samples");
    f_prime = sample_ternary(prng, ctx.n());
    std::vector<int64_t> f_coeffs(ctx.n());
    for (size_t j = 0; j < ctx.n(); ++j)
      f_coeffs[j] = t * f_prime[j];
    f_coeffs[0] += 1;
    f = RnsPoly::from_signed(ctx.ring(), f_coeffs);
    f.to_evaluation();
    if (invertible(f)) break;
  }
  keys.secret_key.f = f;
  keys.secret_key.f_prime.assign(f_prime.begin(), f_prime.end());

  // h = t·g·f^-1.
  RnsPoly g = RnsPoly::from_signed(ctx.ring(), sample_ternary(prng, ctx.n()));
  g.to_evaluation();
  g.multiply_scalar(t);
  g *= inverse(f);
  keys.public_key.h = g;

  keys.evaluation_key = make_evaluation_key(context, keys.secret_key, keys.public_key, prng);
  return keys;
}

EvaluationKey make_evaluation_key(const std::shared_ptr<const Context>& context,
                                  const SecretKey& secret_key, const PublicKey& public_key,
                                  Prng& prng) {
  const Context& ctx = *context;
  const DiscreteGaussian chi(ctx.parameters().sigma);
  EvaluationKey evk;
  evk.key_id = secret_key.key_id;
  for (size_t d = 0; d < ctx.digit_count(); ++d) {
    // γ_d = f·g_d + e_d + h·s_d with the gadget factor g_d = q̂_i·2^(w·l) (rlwe/gadget.hpp): then
    // Σ_d D_d(c)·f·g_d ≡ f·c (mod q).
    RnsPoly gamma = secret_key.f;
    gamma.multiply_bigint(ctx.rns().gadget_factor(d));
    RnsPoly e = gaussian_poly(ctx, chi, prng);
    RnsPoly s = gaussian_poly(ctx, chi, prng);
    e.to_evaluation();
    s.to_evaluation();
    s *= public_key.h;
    gamma += e;
    gamma += s;
    evk.gamma.push_back(std::move(gamma));
  }
  return evk;
}

}  // namespace cryptonets::yashe
