// Everything YASHE' precomputes once for a parameter set, shared by keys, encryptor, decryptor
// and evaluator (all of which hold a std::shared_ptr<const Context>).
#pragma once

#include <gmpxx.h>

#include <memory>
#include <vector>

#include "cryptonets/ring/base_converter.hpp"
#include "cryptonets/ring/poly.hpp"
#include "cryptonets/yashe/parameters.hpp"

namespace cryptonets::yashe {

class Context {
 public:
  // Validates the parameters (std::invalid_argument) and builds every table.
  static std::shared_ptr<const Context> create(const Parameters& params);

  const Parameters& parameters() const { return params_; }
  size_t n() const { return params_.n; }
  const Modulus& t() const { return t_; }

  // R_q, the ciphertext ring.
  const std::shared_ptr<const RingContext>& ring() const { return ring_q_; }
  const RnsBase& q_base() const { return ring_q_->base(); }
  const mpz_class& q() const { return ring_q_->base().product(); }

  // Multiplication works in the base q ∪ B, where the auxiliary base B is large enough to hold
  // the exact product of two centred lifts (|c1·c2| <= n·(q/2)^2 < q·B/2) and the rescaled
  // result round(t/q · c1·c2) with 2^20 to spare (see evaluator.cpp).
  const std::shared_ptr<const RingContext>& product_ring() const { return ring_qb_; }
  const RnsBase& b_base() const { return b_base_; }
  const BaseConverter& q_to_b() const { return *q_to_b_; }
  const BaseConverter& b_to_q() const { return *b_to_q_; }
  const BaseConverter& q_to_t() const { return *q_to_t_; }

  // Δ = floor(q / t) (BLLN13 §4), as a big integer and modulo each q_i.
  const mpz_class& delta() const { return delta_; }
  uint64_t delta_mod_q(size_t i) const { return delta_mod_q_[i]; }
  // r_t(q) = q mod t: the part of q that Δ·t misses.
  uint64_t q_mod_t() const { return q_mod_t_; }
  const ShoupMultiplier& t_mod_q(size_t i) const { return t_mod_q_[i]; }
  const ShoupMultiplier& t_mod_b(size_t j) const { return t_mod_b_[j]; }
  const ShoupMultiplier& q_inverse_mod_b(size_t j) const { return q_inverse_mod_b_[j]; }
  const ShoupMultiplier& minus_q_inverse_mod_t() const { return minus_q_inverse_mod_t_; }

  // Key switching digits: digit (i, l) is bits [l·w, (l+1)·w) of [c·q̂_i^-1]_{q_i}.
  size_t digits_per_prime(size_t i) const { return digits_per_prime_[i]; }
  size_t digit_count() const { return digit_count_; }
  int digit_bits() const { return digit_bits_; }  // w

 private:
  explicit Context(const Parameters& params);

  Parameters params_;
  Modulus t_;
  std::shared_ptr<const RingContext> ring_q_;
  std::shared_ptr<const RingContext> ring_qb_;
  RnsBase b_base_;
  std::unique_ptr<BaseConverter> q_to_b_, b_to_q_, q_to_t_;
  mpz_class delta_;
  std::vector<uint64_t> delta_mod_q_;
  uint64_t q_mod_t_ = 0;
  std::vector<ShoupMultiplier> t_mod_q_, t_mod_b_, q_inverse_mod_b_;
  ShoupMultiplier minus_q_inverse_mod_t_;
  std::vector<size_t> digits_per_prime_;
  size_t digit_count_ = 0;
  int digit_bits_ = 0;
};

}  // namespace cryptonets::yashe
