#include "cryptonets/yashe/encryptor.hpp"

#include <cmath>
#include <stdexcept>

#include "cryptonets/random/samplers.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"

namespace cryptonets::yashe {

namespace {

void check_plaintext(const Context& ctx, const Plaintext& plain) {
  if (plain.coeffs.size() != ctx.n()) {
    throw std::invalid_argument(
        "Encryptor: plaintext has " + std::to_string(plain.coeffs.size()) +
        " coefficients, the parameters need n = " + std::to_string(ctx.n()));
  }
  for (uint64_t m : plain.coeffs) {
    if (m >= ctx.parameters().t) {
      throw std::invalid_argument(
          "Encryptor: plaintext coefficient " + std::to_string(m) +
          " is not reduced modulo t = " + std::to_string(ctx.parameters().t));
    }
  }
}

}  // namespace

Encryptor::Encryptor(std::shared_ptr<const Context> context, PublicKey public_key)
    : context_(std::move(context)), public_key_(std::move(public_key)), noise_model_(*context_) {}

Ciphertext Encryptor::encrypt(const Plaintext& plain, Prng& prng) const {
  const Context& ctx = *context_;
  check_plaintext(ctx, plain);
  const DiscreteGaussian chi(ctx.parameters().sigma);

  // h·s in evaluation form, then back to coefficients to add Δ·[m]_t + e.
  RnsPoly s = RnsPoly::from_signed(ctx.ring(), chi.sample_vector(prng, ctx.n()));
  s.to_evaluation();
  s *= public_key_.h;
  s.to_coefficient();

  const std::vector<int64_t> e = chi.sample_vector(prng, ctx.n());
  std::vector<int64_t> m(ctx.n());
  for (size_t j = 0; j < ctx.n(); ++j)
    m[j] = to_centered(plain.coeffs[j], ctx.t());
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    const ShoupMultiplier delta(ctx.delta_mod_q(i), q);
    uint64_t* row = s.residues(i);
    // |e| <= chi.bound() and |[m]_t| <= t/2 are below q_i on the usual parameters: then a signed
    // value lifts to [0, q_i) by one conditional add, without from_signed's branches (the signs
    // are random, so those branches are mispredicted half the time).
    const bool small =
        static_cast<uint64_t>(chi.bound()) < q.value() && ctx.t().value() / 2 < q.value();
    for (size_t j = 0; j < ctx.n(); ++j) {
      const uint64_t m_q = small ? lift_small(m[j], q) : from_signed(m[j], q);
      const uint64_t e_q = small ? lift_small(e[j], q) : from_signed(e[j], q);
      row[j] = add_mod(row[j], add_mod(mul_shoup(m_q, delta, q.value()), e_q, q), q);
    }
  }
  Ciphertext ct;
  ct.parts.push_back(std::move(s));
  ct.key_id = public_key_.key_id;
  ct.noise_log2 = noise_model_.fresh();
  return ct;
}

Decryptor::Decryptor(std::shared_ptr<const Context> context, SecretKey secret_key)
    : context_(std::move(context)), secret_key_(std::move(secret_key)) {
  f_squared_ = secret_key_.f;
  f_squared_ *= secret_key_.f;
}

void Decryptor::check(const Ciphertext& ct) const {
  if (ct.key_id != secret_key_.key_id) {
    throw std::invalid_argument("Decryptor: the ciphertext was encrypted under another key pair");
  }
  if (ct.degree != 1 && ct.degree != 2) {
    throw std::invalid_argument("Decryptor: ciphertext degree " + std::to_string(ct.degree) +
                                " is not supported (1, or 2 before relinearisation)");
  }
  if (ct.parts.size() != 1 || ct.parts[0].empty() ||
      !(ct.parts[0].ring().base() == context_->q_base()) || ct.parts[0].n() != context_->n()) {
    throw std::invalid_argument("Decryptor: the ciphertext belongs to other parameters");
  }
}

RnsPoly Decryptor::key_product(const Ciphertext& ct) const {
  check(ct);
  RnsPoly x = ct.parts[0];
  x.to_evaluation();
  x *= ct.degree == 1 ? secret_key_.f : f_squared_;
  x.to_coefficient();
  return x;
}

// m = [round(t/q · [f^d·c]_q)]_t (BLLN13 §4, Decrypt), rounded exactly by rlwe::round_to_plaintext.
Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  return rlwe::round_to_plaintext(context_->rns(), key_product(ct));
}

double Decryptor::invariant_noise_budget(const Ciphertext& ct) const {
  return rlwe::invariant_noise_budget(context_->rns(), key_product(ct));
}

}  // namespace cryptonets::yashe
