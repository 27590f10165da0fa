#include "cryptonets/yashe/encryptor.hpp"

#include <cmath>
#include <stdexcept>

#include "cryptonets/random/samplers.hpp"

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
  ct.c = std::move(s);
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
  if (ct.c.empty() || !(ct.c.ring().base() == context_->q_base()) || ct.c.n() != context_->n()) {
    throw std::invalid_argument("Decryptor: the ciphertext belongs to other parameters");
  }
}

RnsPoly Decryptor::scaled_key_product(const Ciphertext& ct) const {
  check(ct);
  RnsPoly x = ct.c;
  x.to_evaluation();
  x *= ct.degree == 1 ? secret_key_.f : f_squared_;
  x.to_coefficient();
  x.multiply_scalar(static_cast<int64_t>(context_->parameters().t));
  return x;
}

// With x = [f^d·c]_q and r = [t·x]_q centred, t·x = q·round(t·x/q) + r, so
//   round(t·x/q) = (t·x - r)/q ≡ -r·q^-1 (mod t).
// Only r mod t is needed: an exact base conversion of the centred r from q to {t}.
Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  const Context& ctx = *context_;
  const RnsPoly r = scaled_key_product(ct);
  Plaintext plain;
  plain.coeffs.resize(ctx.n());
  ctx.q_to_t().convert_centered(r.data().data(), plain.coeffs.data(), ctx.n());
  const uint64_t t = ctx.parameters().t;
  for (uint64_t& m : plain.coeffs)
    m = mul_shoup(m, ctx.minus_q_inverse_mod_t(), t);
  return plain;
}

// (t/q)·x = m + v + t·k, and r = [t·x]_q = q·v when |v| < 1/2: ‖v‖∞ = max|r| / q.
double Decryptor::invariant_noise_budget(const Ciphertext& ct) const {
  const Context& ctx = *context_;
  const RnsPoly r = scaled_key_product(ct);
  mpz_class largest = 0;
  for (size_t j = 0; j < ctx.n(); ++j) {
    mpz_class value = abs(ctx.q_base().compose_centered(r.data().data() + j, ctx.n()));
    if (value > largest) largest = value;
  }
  if (largest == 0) return ctx.parameters().log2_q();
  long exponent_q = 0, exponent_r = 0;
  const double mantissa_q = mpz_get_d_2exp(&exponent_q, ctx.q().get_mpz_t());
  const double mantissa_r = mpz_get_d_2exp(&exponent_r, largest.get_mpz_t());
  const double log2_ratio = (std::log2(mantissa_q) + static_cast<double>(exponent_q)) -
                            (std::log2(mantissa_r) + static_cast<double>(exponent_r));
  return std::max(0.0, log2_ratio - 1);
}

}  // namespace cryptonets::yashe
