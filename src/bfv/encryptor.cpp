#include "cryptonets/bfv/encryptor.hpp"

#include <algorithm>
#include <stdexcept>

#include "cryptonets/random/samplers.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"

namespace cryptonets::bfv {

Encryptor::Encryptor(std::shared_ptr<const Context> context, PublicKey public_key)
    : context_(std::move(context)), public_key_(std::move(public_key)), noise_model_(*context_) {}

Ciphertext Encryptor::encrypt(const Plaintext& plain, Prng& prng) const {
  const Context& ctx = *context_;
  if (!has_public_key()) throw std::invalid_argument("BFV Encryptor::encrypt: no public key");
  rlwe::check_plaintext(ctx.rns(), plain);  // before any randomness is drawn
  const DiscreteGaussian chi(ctx.parameters().sigma);
  RnsPoly u = RnsPoly::from_signed(ctx.ring(), sample_ternary(prng, ctx.n()));
  u.to_evaluation();
  RnsPoly c0 = public_key_.p0, c1 = public_key_.p1;
  c0 *= u;
  c1 *= u;
  c0.to_coefficient();
  c1.to_coefficient();
  c0 += RnsPoly::from_signed(ctx.ring(), chi.sample_vector(prng, ctx.n()));
  c1 += RnsPoly::from_signed(ctx.ring(), chi.sample_vector(prng, ctx.n()));
  rlwe::add_rounded_scaled_message(ctx.rns(), c0, plain);
  Ciphertext ct;
  ct.parts.push_back(std::move(c0));
  ct.parts.push_back(std::move(c1));
  ct.degree = 1;
  ct.key_id = public_key_.key_id;
  ct.noise_log2 = noise_model_.fresh();
  return ct;
}

Ciphertext Encryptor::encrypt_zero(Prng& prng) const {
  return encrypt(Plaintext{std::vector<uint64_t>(context_->n(), 0)}, prng);
}

void Encryptor::rerandomize_inplace(Ciphertext& ct, Prng& prng) const {
  if (ct.key_id != public_key_.key_id) {
    throw std::invalid_argument(
        "BFV rerandomize_inplace: the ciphertext is under another key pair");
  }
  if (ct.parts.size() != 2 || ct.degree != 1) {
    throw std::invalid_argument(
        "BFV rerandomize_inplace: relinearise first (an encryption of zero has two parts, this "
        "ciphertext " +
        std::to_string(ct.parts.size()) + ")");
  }
  for (const RnsPoly& part : ct.parts) {
    if (part.empty() || !(part.ring().base() == context_->q_base()) || part.n() != context_->n() ||
        part.form() != PolyForm::coefficient) {
      throw std::invalid_argument(
          "BFV rerandomize_inplace: the ciphertext belongs to other parameters");
    }
  }
  const Ciphertext zero = encrypt_zero(prng);
  ct.parts[0] += zero.parts[0];
  ct.parts[1] += zero.parts[1];
  ct.noise_log2 = NoiseModel::add(ct.noise_log2, zero.noise_log2);
  ct.transparent = false;
}

bool readable_without_secret_key(const Context& context, const Ciphertext& ct) {
  if (ct.transparent) return true;
  if (ct.parts.size() < 2) return true;  // c_0 alone: nothing masks the message
  const auto c1 = ct.parts[1].data();
  if (std::all_of(c1.begin(), c1.end(), [](uint64_t value) { return value == 0; })) return true;
  // c_1 small (a public key whose p_1 is zero or small): c_0 alone rounds to the message.
  return rlwe::rounds_to_message_without_key(context.rns(), ct.parts[0]);
}

Decryptor::Decryptor(std::shared_ptr<const Context> context, SecretKey secret_key)
    : context_(std::move(context)), secret_key_(std::move(secret_key)) {
  s_squared_ = secret_key_.s;
  s_squared_ *= secret_key_.s;
}

RnsPoly Decryptor::key_product(const Ciphertext& ct) const {
  if (ct.key_id != secret_key_.key_id) {
    throw std::invalid_argument(
        "BFV Decryptor: the ciphertext was encrypted under another key pair");
  }
  if (ct.parts.size() != 2 && ct.parts.size() != 3) {
    throw std::invalid_argument(
        "BFV Decryptor: a ciphertext has 2 parts (3 before "
        "relinearisation), this one has " +
        std::to_string(ct.parts.size()));
  }
  for (const RnsPoly& part : ct.parts) {
    if (part.empty() || !(part.ring().base() == context_->q_base()) || part.n() != context_->n() ||
        part.form() != PolyForm::coefficient) {
      throw std::invalid_argument("BFV Decryptor: the ciphertext belongs to other parameters");
    }
  }
  // x = c_0 + c_1·s (+ c_2·s²).
  RnsPoly x = ct.parts[1];
  x.to_evaluation();
  x *= secret_key_.s;
  if (ct.parts.size() == 3) {
    RnsPoly c2 = ct.parts[2];
    c2.to_evaluation();
    c2 *= s_squared_;
    x += c2;
  }
  x.to_coefficient();
  x += ct.parts[0];
  return x;
}

// m = [round(t/q · [c_0 + c_1·s]_q)]_t (FV12 §3, Decrypt), rounded exactly by
// rlwe::round_to_plaintext.
Plaintext Decryptor::decrypt(const Ciphertext& ct) const {
  return rlwe::round_to_plaintext(context_->rns(), key_product(ct));
}

double Decryptor::invariant_noise_budget(const Ciphertext& ct) const {
  if (ct.transparent) {
    throw std::invalid_argument(
        "BFV Decryptor: the ciphertext is transparent (no encryption randomness: readable "
        "without the secret key); it has no noise budget");
  }
  return rlwe::invariant_noise_budget(context_->rns(), key_product(ct));
}

}  // namespace cryptonets::bfv
