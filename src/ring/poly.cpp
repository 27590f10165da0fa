#include "cryptonets/ring/poly.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>

#include "cryptonets/ring/rns_kernels.hpp"

namespace cryptonets {

namespace {

size_t validated_degree(size_t n) {
  if (n < 2 || !std::has_single_bit(n)) {
    throw std::invalid_argument("RingContext: degree n = " + std::to_string(n) +
                                " is not a power of two >= 2");
  }
  return n;
}

// The negacyclic NTT of degree n needs a primitive 2n-th root of unity mod q, i.e. 2n | q - 1.
const std::vector<uint64_t>& validated_primes(size_t n, const std::vector<uint64_t>& primes) {
  for (uint64_t q : primes) {
    if (q % (2 * n) != 1) {
      throw std::invalid_argument("RingContext: prime " + std::to_string(q) +
                                  " is not ≡ 1 (mod 2n = " + std::to_string(2 * n) + ")");
    }
  }
  return primes;
}

void require_coefficient_count(size_t count, size_t n, const char* caller) {
  if (count != n) {
    throw std::invalid_argument(std::string(caller) + ": got " + std::to_string(count) +
                                " coefficients, expected n = " + std::to_string(n));
  }
}

// Same object, or separately built contexts with the same degree and primes.
bool same_ring(const RingContext& a, const RingContext& b) {
  return &a == &b || (a.n() == b.n() && a.base() == b.base());
}

// Multiplies each row i by the fixed residue w[i] (Shoup: one precomputed quotient per row).
void multiply_rows(RnsPoly& a, const std::vector<uint64_t>& w) {
  const RnsBase& base = a.ring().base();
  const size_t n = a.n();
  for (size_t i = 0; i < a.rns_size(); ++i) {
    multiply_row_shoup(a.residues(i), n, ShoupMultiplier(w[i], base[i]), base[i]);
  }
}

}  // namespace

RingContext::RingContext(size_t n, const std::vector<uint64_t>& primes)
    : n_(validated_degree(n)), base_(validated_primes(n, primes)) {
  ntt_.reserve(base_.size());
  for (const Modulus& q : base_.moduli())
    ntt_.emplace_back(n_, q);
}

RnsPoly::RnsPoly(std::shared_ptr<const RingContext> ring, PolyForm form)
    : ring_(std::move(ring)), form_(form) {
  assert(ring_ != nullptr);
  data_.assign(ring_->rns_size() * ring_->n(), 0);
}

RnsPoly RnsPoly::from_signed(std::shared_ptr<const RingContext> ring,
                             std::span<const int64_t> coeffs) {
  require_coefficient_count(coeffs.size(), ring->n(), "RnsPoly::from_signed");
  RnsPoly poly;
  poly.reset_uninitialized(std::move(ring), PolyForm::coefficient);  // every word written below
  const RnsBase& base = poly.ring().base();
  // Small coefficients (secrets, errors, plaintext lifts) take the branch-free lift.
  uint64_t largest = 0;
  for (const int64_t c : coeffs)
    largest = std::max(largest, c < 0 ? uint64_t{0} - static_cast<uint64_t>(c) : uint64_t(c));
  for (size_t i = 0; i < poly.rns_size(); ++i) {
    uint64_t* row = poly.residues(i);
    if (largest < base[i].value()) {
      for (size_t j = 0; j < coeffs.size(); ++j)
        row[j] = lift_small(coeffs[j], base[i]);
    } else {
      for (size_t j = 0; j < coeffs.size(); ++j)
        row[j] = cryptonets::from_signed(coeffs[j], base[i]);
    }
  }
  return poly;
}

RnsPoly RnsPoly::from_bigint(std::shared_ptr<const RingContext> ring,
                             std::span<const mpz_class> coeffs) {
  require_coefficient_count(coeffs.size(), ring->n(), "RnsPoly::from_bigint");
  RnsPoly poly;
  poly.reset_uninitialized(std::move(ring), PolyForm::coefficient);  // every word written below
  const size_t n = poly.n();
  // Coefficient j lives in column j: residues j, j + n, j + 2n, ...
  for (size_t j = 0; j < n; ++j)
    poly.ring().base().decompose(coeffs[j], poly.data_.data() + j, n);
  return poly;
}

std::vector<mpz_class> RnsPoly::to_bigint_centered() const {
  assert(!empty() && form_ == PolyForm::coefficient);
  const size_t n = this->n();
  std::vector<mpz_class> coeffs(n);
  for (size_t j = 0; j < n; ++j)
    coeffs[j] = ring_->base().compose_centered(data_.data() + j, n);
  return coeffs;
}

void RnsPoly::reset_uninitialized(std::shared_ptr<const RingContext> ring, PolyForm form) {
  assert(ring != nullptr);
  data_.resize(ring->rns_size() * ring->n());
  ring_ = std::move(ring);
  form_ = form;
}

void RnsPoly::to_evaluation() {
  if (form_ == PolyForm::evaluation) return;
  // One thread: with the vector NTT a ciphertext's 7 rows at n = 8192 take about 50 µs, less than
  // a parallel region's hand-off on a shared machine; callers parallelise over ciphertexts.
  for (size_t i = 0; i < rns_size(); ++i)
    ring_->ntt(i).forward(residues(i));
  form_ = PolyForm::evaluation;
}

void RnsPoly::to_coefficient() {
  if (form_ == PolyForm::coefficient) return;
  for (size_t i = 0; i < rns_size(); ++i)
    ring_->ntt(i).inverse(residues(i));
  form_ = PolyForm::coefficient;
}

RnsPoly& RnsPoly::operator+=(const RnsPoly& other) {
  assert(!empty() && !other.empty() && same_ring(ring(), other.ring()));
  assert(form_ == other.form_);
  const size_t n = this->n();
  for (size_t i = 0; i < rns_size(); ++i)
    add_rows(residues(i), other.residues(i), n, ring_->base()[i]);
  return *this;
}

RnsPoly& RnsPoly::operator-=(const RnsPoly& other) {
  assert(!empty() && !other.empty() && same_ring(ring(), other.ring()));
  assert(form_ == other.form_);
  const size_t n = this->n();
  for (size_t i = 0; i < rns_size(); ++i)
    subtract_rows(residues(i), other.residues(i), n, ring_->base()[i]);
  return *this;
}

RnsPoly& RnsPoly::operator*=(const RnsPoly& other) {
  assert(!empty() && !other.empty() && same_ring(ring(), other.ring()));
  // Pointwise products of NTT values are products in R_q (the NTT is a ring isomorphism onto
  // Z_q^n); coefficient-form rows would need a convolution instead.
  assert(form_ == PolyForm::evaluation && other.form_ == PolyForm::evaluation);
  const size_t n = this->n();
  for (size_t i = 0; i < rns_size(); ++i)
    multiply_rows_elementwise(residues(i), other.residues(i), n, ring_->base()[i]);
  return *this;
}

void RnsPoly::negate() {
  assert(!empty());
  const size_t n = this->n();
  for (size_t i = 0; i < rns_size(); ++i) {
    const Modulus& q = ring_->base()[i];
    uint64_t* row = residues(i);
    for (size_t j = 0; j < n; ++j)
      row[j] = neg_mod(row[j], q);
  }
}

// Both scalar products are linear maps, so they commute with the NTT and work in either form.
void RnsPoly::multiply_scalar(int64_t w) {
  assert(!empty());
  std::vector<uint64_t> w_mod_q(rns_size());
  for (size_t i = 0; i < rns_size(); ++i)
    w_mod_q[i] = cryptonets::from_signed(w, ring_->base()[i]);
  multiply_rows(*this, w_mod_q);
}

void RnsPoly::multiply_bigint(const mpz_class& w) {
  assert(!empty());
  std::vector<uint64_t> w_mod_q(rns_size());
  ring_->base().decompose(w, w_mod_q.data());  // w mod q_i in [0, q_i) for either sign
  multiply_rows(*this, w_mod_q);
}

bool RnsPoly::operator==(const RnsPoly& other) const {
  if (empty() || other.empty()) return empty() == other.empty();
  return same_ring(ring(), other.ring()) && form_ == other.form_ && data_ == other.data_;
}

RnsPoly operator+(RnsPoly a, const RnsPoly& b) {
  a += b;
  return a;
}

RnsPoly operator-(RnsPoly a, const RnsPoly& b) {
  a -= b;
  return a;
}

RnsPoly operator-(RnsPoly a) {
  a.negate();
  return a;
}

RnsPoly multiply(RnsPoly a, RnsPoly b) {
  a.to_evaluation();
  b.to_evaluation();
  a *= b;
  return a;
}

}  // namespace cryptonets
