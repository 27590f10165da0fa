// Everything YASHE' precomputes once for a parameter set, shared by keys, encryptor, decryptor
// and evaluator (all of which hold a std::shared_ptr<const Context>).
#pragma once

#include <gmpxx.h>

#include <memory>
#include <vector>

#include "cryptonets/ring/base_converter.hpp"
#include "cryptonets/ring/poly.hpp"
#include "cryptonets/rlwe/rns_context.hpp"
#include "cryptonets/yashe/parameters.hpp"

namespace cryptonets::yashe {

class Context {
 public:
  // Validates the parameters (std::invalid_argument) and builds every table.
  static std::shared_ptr<const Context> create(const Parameters& params);

  const Parameters& parameters() const { return params_; }
  // The RLWE precomputation shared with every scale-invariant scheme (rlwe/rns_context.hpp).
  const rlwe::RnsContext& rns() const { return *rns_; }
  size_t n() const { return params_.n; }
  const Modulus& t() const { return rns_->t(); }

  // The accessors below forward to rns(), where each is documented.
  const std::shared_ptr<const RingContext>& ring() const { return rns_->ring(); }
  const RnsBase& q_base() const { return rns_->q_base(); }
  const mpz_class& q() const { return rns_->q(); }
  const std::shared_ptr<const RingContext>& product_ring() const { return rns_->product_ring(); }
  const RnsBase& b_base() const { return rns_->b_base(); }
  const BaseConverter& q_to_b() const { return rns_->q_to_b(); }
  const BaseConverter& b_to_q() const { return rns_->b_to_q(); }
  const BaseConverter& q_to_t() const { return rns_->q_to_t(); }
  const mpz_class& delta() const { return rns_->delta(); }
  uint64_t delta_mod_q(size_t i) const { return rns_->delta_mod_q(i); }
  uint64_t q_mod_t() const { return rns_->q_mod_t(); }
  const ShoupMultiplier& t_mod_q(size_t i) const { return rns_->t_mod_q(i); }
  const ShoupMultiplier& t_mod_b(size_t j) const { return rns_->t_mod_b(j); }
  const ShoupMultiplier& q_inverse_mod_b(size_t j) const { return rns_->q_inverse_mod_b(j); }
  const ShoupMultiplier& minus_q_inverse_mod_t() const { return rns_->minus_q_inverse_mod_t(); }
  // Key switching digits: digit (i, l) is bits [l·w, (l+1)·w) of [c·q̂_i^-1]_{q_i}.
  size_t digits_per_prime(size_t i) const { return rns_->digits_per_prime(i); }
  size_t digit_count() const { return rns_->digit_count(); }
  int digit_bits() const { return rns_->digit_bits(); }  // w

 private:
  explicit Context(const Parameters& params);

  Parameters params_;
  std::shared_ptr<const rlwe::RnsContext> rns_;
};

}  // namespace cryptonets::yashe
