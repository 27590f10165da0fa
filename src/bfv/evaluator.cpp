#include "cryptonets/bfv/evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cryptonets/ring/rns_kernels.hpp"
#include "cryptonets/rlwe/gadget.hpp"
#include "cryptonets/rlwe/scale_invariant.hpp"

namespace cryptonets::bfv {

Evaluator::Evaluator(std::shared_ptr<const Context> context, RelinearizationKey relinearization_key)
    : context_(std::move(context)),
      relinearization_key_(std::move(relinearization_key)),
      noise_model_(*context_) {}

void Evaluator::check_operand(const Ciphertext& a) const {
  if (a.parts.size() != static_cast<size_t>(a.degree) + 1 || (a.degree != 1 && a.degree != 2)) {
    throw std::invalid_argument(
        "BFV Evaluator: a ciphertext of degree " + std::to_string(a.degree) + " with " +
        std::to_string(a.parts.size()) + " parts (expected 2 parts, or 3 before relinearisation)");
  }
  for (const RnsPoly& part : a.parts) {
    if (part.empty() || !(part.ring().base() == context_->q_base()) || part.n() != context_->n()) {
      throw std::invalid_argument("BFV Evaluator: the ciphertext belongs to other parameters");
    }
    if (part.form() != PolyForm::coefficient) {
      throw std::logic_error("BFV Evaluator: ciphertexts are kept in coefficient form");
    }
  }
}

void Evaluator::check_pair(const Ciphertext& a, const Ciphertext& b) const {
  check_operand(a);
  check_operand(b);
  if (a.key_id != b.key_id) {
    throw std::invalid_argument(
        "BFV Evaluator: the two ciphertexts were encrypted under different keys");
  }
}

void Evaluator::add_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != b.degree)
    throw std::invalid_argument("BFV Evaluator: adding ciphertexts of different degrees");
  for (size_t i = 0; i < a.parts.size(); ++i)
    a.parts[i] += b.parts[i];
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != b.degree)
    throw std::invalid_argument("BFV Evaluator: subtracting ciphertexts of different degrees");
  for (size_t i = 0; i < a.parts.size(); ++i)
    a.parts[i] -= b.parts[i];
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check_operand(a);
  for (RnsPoly& part : a.parts)
    part.negate();
}

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& m) const {
  check_operand(a);
  rlwe::add_rounded_scaled_message(context_->rns(), a.parts[0], m);
}

void Evaluator::add_scalar_inplace(Ciphertext& a, int64_t w) const {
  check_operand(a);
  const rlwe::RnsContext& rns = context_->rns();
  const int64_t centred = to_centered(from_signed(w, rns.t()), rns.t());
  const std::vector<uint64_t> scaled = rlwe::rounded_scaled_value(rns, centred);
  for (size_t i = 0; i < rns.q_base().size(); ++i) {
    const Modulus& q = rns.q_base()[i];
    a.parts[0].residues(i)[0] = add_mod(a.parts[0].residues(i)[0], scaled[i], q);
  }
}

void Evaluator::multiply_scalar_inplace(Ciphertext& a, int64_t w) const {
  check_operand(a);
  for (RnsPoly& part : a.parts)
    part.multiply_scalar(w);
  const double abs_w = w < 0 ? -static_cast<double>(w) : static_cast<double>(w);
  a.noise_log2 = NoiseModel::multiply_scalar(a.noise_log2, abs_w);
  if (w == 0) a.transparent = true;  // an exact zero: no randomness left
}

void Evaluator::multiply_plain_inplace(Ciphertext& a, const Plaintext& p) const {
  check_operand(a);
  const Context& ctx = *context_;
  if (p.coeffs.size() != ctx.n())
    throw std::invalid_argument("BFV Evaluator: plaintext has the wrong degree");
  std::vector<int64_t> lift(ctx.n());
  double l1 = 0;
  for (size_t j = 0; j < ctx.n(); ++j) {
    if (p.coeffs[j] >= ctx.parameters().t)
      throw std::invalid_argument("BFV Evaluator: plaintext not reduced mod t");
    lift[j] = to_centered(p.coeffs[j], ctx.t());
    l1 += std::abs(static_cast<double>(lift[j]));
  }
  RnsPoly plain = RnsPoly::from_signed(ctx.ring(), lift);
  plain.to_evaluation();
  for (RnsPoly& part : a.parts) {
    part.to_evaluation();
    part *= plain;
    part.to_coefficient();
  }
  // ‖v·p‖∞ <= ‖v‖∞·‖p‖_1.
  a.noise_log2 = NoiseModel::multiply_scalar(a.noise_log2, l1);
  if (l1 == 0) a.transparent = true;  // a product with the zero polynomial
}

// FV12 §4 Mult in RNS: each part is lifted exactly to q ∪ B (centred), where the tensor product
// (c_0·d_0, c_0·d_1 + c_1·d_0, c_1·d_1) is exact (|.| <= n·q²/2 < q·B/2); each part is then
// rounded as round(t/q · x) back to q (rlwe::scale_and_round).
Ciphertext Evaluator::multiply_without_relinearization(const Ciphertext& a,
                                                       const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != 1 || b.degree != 1) {
    throw std::invalid_argument("BFV Evaluator: multiply needs relinearised (degree 1) operands");
  }
  const rlwe::RnsContext& rns = context_->rns();
  // Per-thread scratch (7 MiB at n = 8192 with 7 + 10 primes), reused across calls.
  thread_local RnsPoly a0, a1, b0, b1, e0, e1, e2;
  const bool square = &a == &b || a.parts == b.parts;
  rlwe::base_extend_coefficients(rns, a.parts[0], a0);
  rlwe::base_extend_coefficients(rns, a.parts[1], a1);
  if (!square) {
    rlwe::base_extend_coefficients(rns, b.parts[0], b0);
    rlwe::base_extend_coefficients(rns, b.parts[1], b1);
  }
  for (RnsPoly* e : {&e0, &e1, &e2})
    e->reset_uninitialized(rns.product_ring(), PolyForm::coefficient);  // every word written below
  // Row by row, as rlwe::exact_product: the operands' rows are transformed, multiplied and the
  // three products transformed back while they sit in the L2 cache. The same words as lifting in
  // evaluation form, multiplying whole polynomials and transforming back (the KAT vectors pin
  // them).
  const RingContext& ring = *rns.product_ring();
  const size_t n = rns.n();
  for (size_t i = 0; i < a0.rns_size(); ++i) {
    const NttTables& ntt = ring.ntt(i);
    const Modulus& q = ring.base()[i];
    uint64_t *x0 = a0.residues(i), *x1 = a1.residues(i);
    uint64_t *y0 = x0, *y1 = x1;
    ntt.forward(x0);
    ntt.forward(x1);
    if (!square) {
      y0 = b0.residues(i);
      y1 = b1.residues(i);
      ntt.forward(y0);
      ntt.forward(y1);
    }
    uint64_t *z0 = e0.residues(i), *z1 = e1.residues(i), *z2 = e2.residues(i);
    std::copy(x0, x0 + n, z0);
    multiply_rows_elementwise(z0, y0, n, q);  // c_0·d_0
    std::copy(x0, x0 + n, z1);
    multiply_rows_elementwise(z1, y1, n, q);
    if (square) {
      add_rows(z1, z1, n, q);  // 2·c_0·c_1
    } else {
      multiply_accumulate_rows(z1, x1, y0, n, q);  // c_0·d_1 + c_1·d_0
    }
    std::copy(x1, x1 + n, z2);
    multiply_rows_elementwise(z2, y1, n, q);  // c_1·d_1
    for (uint64_t* z : {z0, z1, z2})
      ntt.inverse(z);
  }
  Ciphertext result;
  for (RnsPoly* e : {&e0, &e1, &e2}) {
    result.parts.push_back(rlwe::scale_and_round(rns, *e));
  }
  result.degree = 2;
  result.key_id = a.key_id;
  result.noise_log2 = noise_model_.multiply(a.noise_log2, b.noise_log2);
  result.transparent = a.transparent && b.transparent;
  return result;
}

// FV12 §6.1, Relin version 1, with the RNS gadget: b_d + a_d·s = g_d·s² - e_d, so
//   (c_0 + Σ_d D_d(c_2)·b_d) + (c_1 + Σ_d D_d(c_2)·a_d)·s = c_0 + c_1·s + c_2·s² - Σ_d
//   D_d(c_2)·e_d,
// whose extra noise is small because every digit D_d is below 2^w.
void Evaluator::relinearize_inplace(Ciphertext& a) const {
  relinearize_all(std::span<Ciphertext>(&a, 1), 1);
}

void Evaluator::relinearize_all(std::span<Ciphertext> values, int threads) const {
  std::vector<RnsPoly*> sources, destinations;
  for (Ciphertext& a : values) {
    check_operand(a);
    if (a.degree == 1) continue;
    if (relinearization_key_.b.size() != context_->rns().digit_count() ||
        relinearization_key_.a.size() != context_->rns().digit_count()) {
      throw std::invalid_argument("BFV Evaluator: relinearisation needs the relinearisation key");
    }
    if (relinearization_key_.key_id != a.key_id) {
      throw std::invalid_argument(
          "BFV Evaluator: the relinearisation key belongs to another key pair");
    }
    sources.push_back(&a.parts[2]);
    destinations.push_back(&a.parts[0]);
    destinations.push_back(&a.parts[1]);
  }
  const std::vector<RnsPoly>* keys[] = {&relinearization_key_.b, &relinearization_key_.a};
  rlwe::gadget_products(context_->rns(), sources, keys, destinations, true, threads);
  for (Ciphertext& a : values) {
    if (a.degree == 1) continue;
    a.parts.pop_back();
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

}  // namespace cryptonets::bfv
