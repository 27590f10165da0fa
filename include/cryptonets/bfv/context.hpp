// Everything BFV precomputes once for a parameter set: the shared RLWE tables (rlwe::RnsContext).
// Keys, encryptor, decryptor and evaluator hold a std::shared_ptr<const Context>.
#pragma once

#include <memory>

#include "cryptonets/bfv/parameters.hpp"
#include "cryptonets/rlwe/rns_context.hpp"

namespace cryptonets::bfv {

class Context {
 public:
  // Validates the parameters (std::invalid_argument) and builds every table.
  static std::shared_ptr<const Context> create(const Parameters& params);

  const Parameters& parameters() const { return params_; }
  const rlwe::RnsContext& rns() const { return *rns_; }
  size_t n() const { return params_.n; }
  const Modulus& t() const { return rns_->t(); }
  const std::shared_ptr<const RingContext>& ring() const { return rns_->ring(); }
  const RnsBase& q_base() const { return rns_->q_base(); }

 private:
  explicit Context(const Parameters& params);

  Parameters params_;
  std::shared_ptr<const rlwe::RnsContext> rns_;
};

}  // namespace cryptonets::bfv
