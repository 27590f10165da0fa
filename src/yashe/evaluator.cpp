#include "cryptonets/yashe/evaluator.hpp"

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
  if (a.c.empty() || !(a.c.ring().base() == context_->q_base()) || a.c.n() != context_->n()) {
    throw std::invalid_argument("Evaluator: the ciphertext belongs to other parameters");
  }
  if (a.c.form() != PolyForm::coefficient) {
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
  a.c += b.c;
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::sub_inplace(Ciphertext& a, const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != b.degree)
    throw std::invalid_argument("Evaluator: subtracting ciphertexts of different degrees");
  a.c -= b.c;
  a.noise_log2 = NoiseModel::add(a.noise_log2, b.noise_log2);
  a.transparent = a.transparent && b.transparent;
}

void Evaluator::negate_inplace(Ciphertext& a) const {
  check_operand(a);
  a.c.negate();
}

void Evaluator::add_plain_inplace(Ciphertext& a, const Plaintext& m) const {
  check_operand(a);
  const Context& ctx = *context_;
  if (m.coeffs.size() != ctx.n())
    throw std::invalid_argument("Evaluator: plaintext has the wrong degree");
  if (a.degree != 1)
    throw std::invalid_argument("Evaluator: add_plain needs a relinearised ciphertext");
  for (size_t i = 0; i < ctx.q_base().size(); ++i) {
    const Modulus& q = ctx.q_base()[i];
    const ShoupMultiplier delta(ctx.delta_mod_q(i), q);
    uint64_t* row = a.c.residues(i);
    for (size_t j = 0; j < ctx.n(); ++j) {
      if (m.coeffs[j] >= ctx.parameters().t)
        throw std::invalid_argument("Evaluator: plaintext not reduced mod t");
      const uint64_t centred = from_signed(to_centered(m.coeffs[j], ctx.t()), q);
      row[j] = add_mod(row[j], mul_shoup(centred, delta, q.value()), q);
    }
  }
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
    a.c.residues(i)[0] = add_mod(a.c.residues(i)[0], delta_w, q);
  }
}

void Evaluator::multiply_scalar_inplace(Ciphertext& a, int64_t w) const {
  check_operand(a);
  a.c.multiply_scalar(w);
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
  a.c = cryptonets::multiply(a.c, plain);
  transform_rows(a.c, PolyForm::coefficient);
  // ‖v·p‖∞ <= ‖v‖∞·‖p‖_1.
  a.noise_log2 = NoiseModel::multiply_scalar(a.noise_log2, l1);
  if (l1 == 0) a.transparent = true;  // a product with the zero polynomial
}

RnsPoly Evaluator::lift_to_product_ring(const RnsPoly& c) const {
  const Context& ctx = *context_;
  const size_t n = ctx.n(), k = ctx.q_base().size();
  RnsPoly lifted(ctx.product_ring(), PolyForm::coefficient);
  std::copy(c.data().begin(), c.data().end(), lifted.data().begin());
  ctx.q_to_b().convert_centered(c.data().data(), lifted.residues(k), n);
  transform_rows(lifted, PolyForm::evaluation);
  return lifted;
}

// HPS-style scaling made exact (Halevi, Polyakov, Shoup 2019, §2.3 gives the approximate form):
// with r = [t·x]_q (centred), t·x - r is divisible by q and y = (t·x - r)/q = round(t·x/q).
//  1. r mod q_i = t·x_i mod q_i;
//  2. r mod b_j by exact base conversion q -> B;
//  3. y mod b_j = (t·x_j - r_j)·q^-1 mod b_j;
//  4. y mod q_i by exact base conversion B -> q, valid because |y| <= t·n·q/4 < B/2^21.
RnsPoly Evaluator::scale_and_round(const RnsPoly& x) const {
  const Context& ctx = *context_;
  const size_t n = ctx.n(), k = ctx.q_base().size(), kb = ctx.b_base().size();
  std::vector<uint64_t> t_mod_q(k), q_inverse_mod_b(kb);
  for (size_t i = 0; i < k; ++i)
    t_mod_q[i] = ctx.t_mod_q(i).operand;
  for (size_t j = 0; j < kb; ++j)
    q_inverse_mod_b[j] = ctx.q_inverse_mod_b(j).operand;
  // Steps 1-2 in one conversion: its first pass multiplies by t.
  auto diff = std::make_unique_for_overwrite<uint64_t[]>(kb * n);
  ctx.q_to_b().convert_centered_scaled(x.residues(0), t_mod_q.data(), diff.get(), n);
  // Step 3 without the factor q^-1, which the second conversion's first pass applies.
#pragma omp parallel for schedule(static)
  for (size_t j = 0; j < kb; ++j) {
    const Modulus& b = ctx.b_base()[j];
    const ShoupMultiplier t_mod_b = ctx.t_mod_b(j);
    const uint64_t* x_j = x.residues(k + j);
    uint64_t* d = diff.get() + j * n;
    // sub_mod without a branch: the operands are random, so a branch would be mispredicted.
    for (size_t col = 0; col < n; ++col) {
      const uint64_t tx = mul_shoup(x_j[col], t_mod_b, b.value());
      const uint64_t r = d[col];
      d[col] = tx - r + (b.value() & (uint64_t{0} - static_cast<uint64_t>(tx < r)));
    }
  }
  // Step 4.
  RnsPoly y(ctx.ring(), PolyForm::coefficient);
  ctx.b_to_q().convert_centered_scaled(diff.get(), q_inverse_mod_b.data(), y.residues(0), n);
  return y;
}

Ciphertext Evaluator::multiply_without_relinearization(const Ciphertext& a,
                                                       const Ciphertext& b) const {
  check_pair(a, b);
  if (a.degree != 1 || b.degree != 1) {
    throw std::invalid_argument("Evaluator: multiply needs relinearised (degree 1) operands");
  }
  RnsPoly product = lift_to_product_ring(a.c);
  if (&a == &b || a.c == b.c) {
    product *= product;
  } else {
    product *= lift_to_product_ring(b.c);
  }
  transform_rows(product, PolyForm::coefficient);
  Ciphertext result;
  result.c = scale_and_round(product);
  result.degree = 2;
  result.key_id = a.key_id;
  result.noise_log2 = noise_model_.multiply(a.noise_log2, b.noise_log2);
  result.transparent = a.transparent && b.transparent;
  return result;
}

// KeySwitch (BLLN13 §4) with RNS digits: c ≡ Σ_i [c·q̂_i^-1]_{q_i}·q̂_i (mod q), and each digit
// y_i = [c_i·q̂_i^-1]_{q_i} < 2^62 is split further into base-2^w pieces D_(i,l). Then
//   f·Σ D_(i,l)·γ_(i,l) = f²·c + Σ D_(i,l)·(f·e + t·g·s)  (mod q),
// a ciphertext under f whose extra noise is small because every D_(i,l) is below 2^w.
void Evaluator::relinearize_inplace(Ciphertext& a) const {
  check_operand(a);
  if (a.degree == 1) return;
  const Context& ctx = *context_;
  if (evaluation_key_.gamma.size() != ctx.digit_count()) {
    throw std::invalid_argument("Evaluator: relinearisation needs the evaluation key");
  }
  if (evaluation_key_.key_id != a.key_id) {
    throw std::invalid_argument("Evaluator: the evaluation key belongs to another key pair");
  }
  const size_t n = ctx.n(), k = ctx.q_base().size();
  const int w = ctx.digit_bits();
  const uint64_t mask = w >= 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;

  // Digit index d runs over (i, l) in the order the key was made.
  std::vector<std::pair<size_t, size_t>> digits;
  for (size_t i = 0; i < k; ++i) {
    for (size_t l = 0; l < ctx.digits_per_prime(i); ++l)
      digits.emplace_back(i, l);
  }
  // y_i = [c_i·q̂_i^-1]_{q_i}, computed once for all output rows.
  auto y = std::make_unique_for_overwrite<uint64_t[]>(k * n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < k; ++i) {
    const uint64_t q_i = ctx.q_base()[i].value();
    const uint64_t* c_i = a.c.residues(i);
    const ShoupMultiplier punctured_inverse = ctx.q_base().punctured_inverse(i);
    uint64_t* y_i = y.get() + i * n;
    for (size_t j = 0; j < n; ++j)
      y_i[j] = mul_shoup(c_i[j], punctured_inverse, q_i);
  }
  RnsPoly accumulator(ctx.ring(), PolyForm::evaluation);
  // Rows (primes of q) are independent: each thread owns one output row. Digits are taken in
  // groups whose NTTs are kept side by side; each group's Σ digit·γ is summed in 128 bits and
  // reduced once per coefficient. Products of b-bit residues are below 2^(2b) and the partial sum
  // carried between groups is below 2^62: a group of at most 2^(125 - 2b) digits (all of them
  // for b = 55, up to kMaxGroup) keeps the sum below 2^126, within the reduction's range.
  int largest_bits = 0;
  for (const Modulus& q : ctx.q_base().moduli())
    largest_bits = std::max(largest_bits, q.bits());
  constexpr size_t kMaxGroup = 4;
  const size_t chunk = size_t{1} << std::min(30, 125 - 2 * largest_bits);
  const size_t group = std::min({chunk, digits.size(), kMaxGroup});
#pragma omp parallel
  {
    auto digit_rows = std::make_unique_for_overwrite<uint64_t[]>(group * n);
    const uint64_t* gamma[kMaxGroup];
#pragma omp for schedule(static)
    for (size_t row = 0; row < k; ++row) {
      const Modulus& q_row = ctx.q_base()[row];
      uint64_t* acc = accumulator.residues(row);
      const WideReducer reducer(q_row.value());
      const uint64_t q = q_row.value();
      for (size_t first = 0; first < digits.size(); first += group) {
        const size_t count = std::min(group, digits.size() - first);
        for (size_t g = 0; g < count; ++g) {
          const auto [i, l] = digits[first + g];
          const int shift = w * static_cast<int>(l);
          uint64_t* digit = digit_rows.get() + g * n;
          const uint64_t* y_i = y.get() + i * n;
          // The digit is at most min(mask, (q_i - 1) >> shift): reduce only as far as needed.
          const uint64_t bound = std::min(mask, (ctx.q_base()[i].value() - 1) >> shift);
          if (bound < q) {
            for (size_t j = 0; j < n; ++j)
              digit[j] = (y_i[j] >> shift) & mask;
          } else if (bound / 2 < q) {
            for (size_t j = 0; j < n; ++j) {
              const uint64_t v = (y_i[j] >> shift) & mask;
              digit[j] = v - (q & (uint64_t{0} - static_cast<uint64_t>(v >= q)));
            }
          } else {
            for (size_t j = 0; j < n; ++j)
              digit[j] = q_row.reduce((y_i[j] >> shift) & mask);
          }
          ctx.ring()->ntt(row).forward(digit);
          gamma[g] = evaluation_key_.gamma[first + g].residues(row);
        }
        const bool carry = first > 0;
        for (size_t j = 0; j < n; ++j) {
          u128 sum = carry ? acc[j] : 0;
          for (size_t g = 0; g < count; ++g)
            sum += static_cast<u128>(digit_rows[g * n + j]) * gamma[g][j];
          acc[j] = reducer.reduce(sum);
        }
      }
    }
  }
  transform_rows(accumulator, PolyForm::coefficient);
  a.c = std::move(accumulator);
  a.degree = 1;
  a.noise_log2 = noise_model_.relinearize(a.noise_log2);
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
