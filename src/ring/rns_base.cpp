#include "cryptonets/ring/rns_base.hpp"

#include <cassert>
#include <numeric>
#include <stdexcept>
#include <string>

namespace cryptonets {

// GMP's word routines (mpz_fdiv_ui, mpz_addmul_ui) take unsigned long; residues are 64-bit.
static_assert(sizeof(unsigned long) == sizeof(uint64_t), "LP64 platform required");

namespace {

// Every check the constructor promises, with a message naming the offending prime(s).
std::vector<Modulus> validated_moduli(const std::vector<uint64_t>& primes) {
  if (primes.empty()) throw std::invalid_argument("RnsBase: the list of primes is empty");
  std::vector<Modulus> moduli;
  moduli.reserve(primes.size());
  for (uint64_t q : primes)
    moduli.emplace_back(q);  // throws for q outside [2, 2^62)
  for (size_t i = 0; i < primes.size(); ++i) {
    for (size_t j = i + 1; j < primes.size(); ++j) {
      if (primes[i] == primes[j]) {
        throw std::invalid_argument("RnsBase: prime " + std::to_string(primes[i]) +
                                    " appears more than once; the moduli must be distinct");
      }
      // The CRT needs pairwise coprime moduli; a cheap safeguard even though callers pass primes.
      if (std::gcd(primes[i], primes[j]) != 1) {
        throw std::invalid_argument("RnsBase: moduli " + std::to_string(primes[i]) + " and " +
                                    std::to_string(primes[j]) +
                                    " share a factor; the moduli must be pairwise coprime");
      }
    }
  }
  return moduli;
}

}  // namespace

RnsBase::RnsBase(const std::vector<uint64_t>& primes) : moduli_(validated_moduli(primes)) {
  product_ = 1;
  for (uint64_t q : primes)
    product_ *= q;
  half_product_ = product_ / 2;
  punctured_product_.reserve(size());
  punctured_inverse_.reserve(size());
  for (size_t i = 0; i < size(); ++i) {
    const Modulus& q = moduli_[i];
    mpz_class punctured = product_ / q.value();
    uint64_t punctured_mod_q = mpz_fdiv_ui(punctured.get_mpz_t(), q.value());
    punctured_product_.push_back(std::move(punctured));
    punctured_inverse_.emplace_back(inv_mod(punctured_mod_q, q), q);
  }
}

void RnsBase::decompose(const mpz_class& x, uint64_t* residues, size_t stride) const {
  // Floor division: the remainder has the sign of the divisor, so it is in [0, q) for any x.
  for (size_t i = 0; i < size(); ++i) {
    residues[i * stride] = mpz_fdiv_ui(x.get_mpz_t(), moduli_[i].value());
  }
}

void RnsBase::compose(const uint64_t* residues, size_t stride, mpz_class& out) const {
  // CRT (Gauss's formula): x ≡ Σ_i [x_i · q̂_i^-1]_{q_i} · q̂_i (mod Q). Each term is below Q, so
  // the sum is below k·Q and one final reduction brings it into [0, Q).
  out = 0;
  for (size_t i = 0; i < size(); ++i) {
    const uint64_t q = moduli_[i].value();
    assert(residues[i * stride] < q);
    uint64_t y = mul_shoup(residues[i * stride], punctured_inverse_[i], q);
    mpz_addmul_ui(out.get_mpz_t(), punctured_product_[i].get_mpz_t(), y);
  }
  mpz_tdiv_r(out.get_mpz_t(), out.get_mpz_t(), product_.get_mpz_t());  // sum >= 0
}

void RnsBase::compose_centered(const uint64_t* residues, size_t stride, mpz_class& out) const {
  compose(residues, stride, out);
  if (out > half_product_) out -= product_;  // (floor(Q/2), Q) maps to (-Q/2, 0)
}

mpz_class RnsBase::compose(const uint64_t* residues, size_t stride) const {
  mpz_class x;
  compose(residues, stride, x);
  return x;
}

mpz_class RnsBase::compose_centered(const uint64_t* residues, size_t stride) const {
  mpz_class x;
  compose_centered(residues, stride, x);
  return x;
}

}  // namespace cryptonets
