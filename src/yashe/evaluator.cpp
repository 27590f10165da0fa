#include "cryptonets/yashe/evaluator.hpp"

#include "cryptonets/rlwe/gadget.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace cryptonets::yashe {

namespace {

void transform_rows(RnsPoly& p, PolyForm target) {
  if (target == PolyForm::evaluation) {
    p.to_evaluation();
  } else {
    p.to_coefficient();
  }
}

}  // namespace

Evaluator::Evaluator(std::shared_ptr<const Context> context, EvaluationKey evaluation_key)
    : context_(std::move(context)),
      evaluation_key_(std::move(evaluation_key)),
      noise_model_(*context_) {}

void Evaluator::check_operand(const Ciphertext& a) const {
  if (a.parts.size() != 1 || a.parts[0].empty() ||
      !(a.parts[0].ring().base() == context_->q_base()) || a.parts[0].n() != context_->n()) {
    throw std::invalid_argument("Evaluator: the ciphertext belongs to other parameters");
  }
  if (a.parts[0].form() != PolyForm::coefficient) {
    throw std::logic_error("Evaluator: ciphertexts are kept in coefficient form");
  }
}

void Evaluator::check_pair(const Ciphertext& a, const Ciphertext& b) const {
  check_operand(a);
  check_operand(b);
  if (a.key_id != b.key_id) {
    throw std::invalid_argument(
        "Evaluator: the two ciphertexts were encrypted under different keys");
  }
}

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != b.degree)
    throw std::invalid_argument("Evaluator: adding ciphertexts of different degrees");
  a.parts[0] += b.parts[0];
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != b.degree)
    throw std::invalid_argument("Evaluator: subtracting ciphertexts of different degrees");
  a.parts[0] -= b.parts[0];
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check_operand(a);
  a.parts[0].negate();
}

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& m) const {
  check_operand(a);
  const Context& ctx = *context_;
  if (m.coeffs.size() != ctx.n())
    throw std::invalid_argument("Evaluator: plaintext has the wrong degree");
  if (a.degree != 1)
    throw std::invalid_argument("Evaluator: add_plain needs a relinearised ciphertext");
  for (uint64_t x : m.coeffs) {
    if (x >= ctx.parameters().t)
      throw std::invalid_argument("Evaluator: plaintext not reduced mod t");
  }
  rlwe::add_scaled_message(ctx.rns(), a.parts[0], m);
  a.noise_log2 = NoiseModel::add(a.noise_log2, noise_model_.plain_addition());
}

void Evaluator::add_scalar_inplace(Ciphertext& a, int64_t w) const {
  check_operand(a);
  if (a.degree != 1)
    throw std::invalid_argument("Evaluator: add_scalar needs a relinearised ciphertext");
  const Context& ctx = *context_;
  const int64_t centred = to_centered(from_signed(w, ctx.t()), ctx.t());
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    const uint64_t delta_w = mul_mod(ctx.delta_mod_q(i), from_signed(centred, q), q);
    a.parts[0].residues(i)[0] = add_mod(a.parts[0].residues(i)[0], delta_w, q);
  }
}

void Evaluator::multiply_scalar_inplace(Ciphertext& a, int64_t w) const {
  check_operand(a);
  a.parts[0].multiply_scalar(w);
  const double abs_w = w < 0 ? -static_cast<double>(w) : static_cast<double>(w);
  a.noise_log2 = NoiseModel::multiply_scalar(a.noise_log2, abs_w);
  if (w == 0) a.transparent = true;  // an exact zero: no randomness left
}

void Evaluator::multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const {
  check_operand(a);
  const Context& ctx = *context_;
  if (p.coeffs.size() != ctx.n())
    throw std::invalid_argument("Evaluator: plaintext has the wrong degree");
  std::vector<int64_t> lift(ctx.n());
  double l1 = 0;
  for (size_t j = 0; j < ctx.n(); ++j) {
    if (p.coeffs[j] >= ctx.parameters().t)
      throw std::invalid_argument("Evaluator: plaintext not reduced mod t");
    lift[j] = to_centered(p.coeffs[j], ctx.t());
    l1 += std::abs(static_cast<double>(lift[j]));
  }
  RnsPoly plain = RnsPoly::from_signed(ctx.ring(), lift);
  a.parts[0] = cryptonets::multiply(a.parts[0], plain);
  transform_rows(a.parts[0], PolyForm::coefficient);
  // ‖v·p‖∞ <= ‖v‖∞·‖p‖_1.
  a.noise_log2 = NoiseModel::multiply_scalar(a.noise_log2, l1);
  if (l1 == 0) a.transparent = true;  // a product with the zero polynomial
}

Ciphertext Evaluator::multiply_without_relinearization(const Ciphertext& a,
                                                       const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != 1 || b.degree != 1) {
    throw std::invalid_argument("Evaluator: multiply needs relinearised (degree 1) operands");
  }
  // Base extension of the centred lifts to q ∪ B, exact product there, then round(t/q · c1·c2)
  // (rlwe/scale_invariant.hpp).
  const rlwe::RnsContext& rns = context_->rns();
  // Per-thread scratch (2 MiB at the default parameters), reused across calls.
  thread_local RnsPoly product, other;
  rlwe::exact_product(rns, a.parts[0], &a == &b ? a.parts[0] : b.parts[0], product, other);
  Ciphertext result;
  result.parts.push_back(rlwe::scale_and_round(rns, product));
  result.degree = 2;
  result.key_id = a.key_id;
  result.noise_log2 = noise_model_.multiply(a.noise_log2, b.noise_log2);
  result.transparent = a.transparent && b.transparent;
  return result;
}

// KeySwitch (BLLN13 §4): c ≡ Σ_d D_d(c)·g_d (mod q) with the RNS gadget digits of
// rlwe/gadget.hpp, and γ_d = [f·g_d + e_d + h·s_d]_q, so
//   f·Σ_d D_d(c)·γ_d = f²·c + Σ_d D_d(c)·(f·e_d + t·g·s_d)  (mod q),
// a ciphertext under f whose extra noise is small because every D_d is below 2^w.
void Evaluator::relinearize_inplace(Ciphertext& a) const {
  relinearize_all(std::span<Ciphertext>(&a, 1), 1);
}

void Evaluator::relinearize_all(std::span<Ciphertext> values, int threads) const {
  std::vector<RnsPoly*> sources;
  for (Ciphertext& a : values) {
    check_operand(a);
    if (a.degree == 1) continue;
    if (evaluation_key_.gamma.size() != context_->digit_count()) {
      throw std::invalid_argument("Evaluator: relinearisation needs the evaluation key");
    }
    if (evaluation_key_.key_id != a.key_id) {
      throw std::invalid_argument("Evaluator: the evaluation key belongs to another key pair");
    }
    sources.push_back(&a.parts[0]);
  }
  const std::vector<RnsPoly>* keys[] = {&evaluation_key_.gamma};
  // In place: each c is replaced by its own key switch (as relinearize_inplace).
  rlwe::gadget_products(context_->rns(), sources, keys, sources, false, threads);
  for (Ciphertext& a : values) {
    if (a.degree == 1) continue;
    a.degree = 1;
    a.noise_log2 = noise_model_.relinearize(a.noise_log2);
  }
}

Ciphertext Evaluator::multiply(const Ciphertext& a, const Ciphertext& b) const {
  Ciphertext product = multiply_without_relinearization(a, b);
  relinearize_inplace(product);
  return product;
}

Ciphertext Evaluator::square(const Ciphertext& a) const {
  return multiply(a, a);
}

}  // namespace cryptonets::yashe
