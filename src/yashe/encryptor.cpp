#include "cryptonets/yashe/encryptor.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

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

// n coefficients uniform in [-2^bits, 2^bits), as residues modulo every prime of the ring (row i
// for q_i, coefficient form): bits + 1 random bits per coefficient, composed word by word.
RnsPoly sample_wide_uniform(const Context& ctx, int bits, Prng& prng) {
  const RnsBase& base = ctx.q_base();
  const size_t n = ctx.n(), k = base.size();
  const int total = bits + 1;
  const size_t words = static_cast<size_t>(total + 63) / 64;
  const int top_bits = total - 64 * static_cast<int>(words - 1);
  const uint64_t top_mask = top_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << top_bits) - 1;
  std::vector<uint64_t> two_64(k), offset(k);
  for (size_t i = 0; i < k; ++i) {
    const Modulus& q = base[i];
    two_64[i] = static_cast<uint64_t>((static_cast<unsigned __int128>(1) << 64) % q.value());
    offset[i] = pow_mod(2, static_cast<uint64_t>(bits), q);
  }
  RnsPoly result;
  result.reset_uninitialized(ctx.ring(), PolyForm::coefficient);  // every word written below
  std::vector<uint64_t> draw(words);
  for (size_t j = 0; j < n; ++j) {
    for (size_t w = 0; w < words; ++w)
      draw[w] = prng.next_u64();
    draw[words - 1] &= top_mask;  // the most significant word
    for (size_t i = 0; i < k; ++i) {
      const Modulus& q = base[i];
      uint64_t value = 0;
      for (size_t w = words; w-- > 0;)
        value = add_mod(mul_mod(value, two_64[i], q), q.reduce(draw[w]), q);
      result.residues(i)[j] = sub_mod(value, offset[i], q);  // U - 2^bits
    }
  }
  return result;
}

}  // namespace

Encryptor::Encryptor(std::shared_ptr<const Context> context, PublicKey public_key)
    : context_(std::move(context)), public_key_(std::move(public_key)), noise_model_(*context_) {}

Ciphertext Encryptor::encrypt(const Plaintext& plain, Prng& prng) const {
  const Context& ctx = *context_;
  if (!has_public_key()) throw std::invalid_argument("Encryptor::encrypt: no public key");
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

Ciphertext Encryptor::encrypt_zero(Prng& prng) const {
  Plaintext zero;
  zero.coeffs.assign(context_->n(), 0);
  return encrypt(zero, prng);
}

void Encryptor::rerandomize_inplace(Ciphertext& ct, Prng& prng, double flooding_width_log2) const {
  const Context& ctx = *context_;
  if (ct.parts.size() != 1 || ct.parts[0].empty() || !(ct.parts[0].ring().base() == ctx.q_base()) ||
      ct.parts[0].n() != ctx.n() || ct.parts[0].form() != PolyForm::coefficient) {
    throw std::invalid_argument(
        "Encryptor::rerandomize_inplace: the ciphertext belongs to other "
        "parameters");
  }
  if (!has_public_key()) {
    throw std::invalid_argument("Encryptor::rerandomize_inplace: no public key");
  }
  if (ct.key_id != public_key_.key_id) {
    throw std::invalid_argument(
        "Encryptor::rerandomize_inplace: the ciphertext is under another key pair");
  }
  if (ct.degree != 1) {
    throw std::invalid_argument(
        "Encryptor::rerandomize_inplace: relinearise first (an encryption of zero decrypts "
        "under f, a degree-2 ciphertext under f^2)");
  }
  if (flooding_width_log2 <= 0) {
    const Ciphertext zero = encrypt_zero(prng);
    ct.parts[0] += zero.parts[0];
    ct.noise_log2 = NoiseModel::add(ct.noise_log2, zero.noise_log2);
    ct.transparent = false;
    return;
  }
  if (!(flooding_width_log2 < ctx.parameters().log2_q() - 1)) {
    throw std::invalid_argument("Encryptor::rerandomize_inplace: a flooding width of 2^" +
                                std::to_string(flooding_width_log2) + " does not fit below q/2");
  }
  const int bits = static_cast<int>(std::ceil(flooding_width_log2));
  RnsPoly s = sample_wide_uniform(ctx, bits, prng);
  s.to_evaluation();
  s *= public_key_.h;
  s.to_coefficient();
  s += sample_wide_uniform(ctx, bits, prng);
  ct.parts[0] += s;
  ct.noise_log2 = NoiseModel::add(ct.noise_log2, noise_model_.flooding_noise(bits));
  ct.transparent = false;
}

bool readable_without_secret_key(const Context& context, const Ciphertext& ct) {
  return ct.transparent || rlwe::rounds_to_message_without_key(context.rns(), ct.parts[0]);
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
  if (ct.transparent) {
    throw std::invalid_argument(
        "Decryptor: the ciphertext is transparent (no encryption randomness: readable without "
        "the secret key); it has no noise budget");
  }
  return rlwe::invariant_noise_budget(context_->rns(), key_product(ct));
}

}  // namespace cryptonets::yashe
