#include "cryptonets/yashe/context.hpp"

namespace cryptonets::yashe {

std::shared_ptr<const Context> Context::create(const Parameters& params) {
  params.validate();
  return std::shared_ptr<const Context>(new Context(params));
}

Context::Context(const Parameters& params)
    : params_(params),
      rns_(rlwe::RnsContext::create(params.n, params.q_primes, params.t,
                                    params.decomposition_bits)) {}

}  // namespace cryptonets::yashe
