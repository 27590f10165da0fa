// The ciphertext policy of the layer code path (layers.hpp): the same network evaluator, run on
// YASHE' ciphertexts whose slots hold one image each.
//
// Linear layers use a fused multiply-accumulate: every output Σ_j w_j·c_j + b is accumulated in
// 128-bit words per coefficient, with no temporary ciphertext per term and a single modular
// reduction per output coefficient. The loops run over (prime, block of coefficients) tasks so
// that the inputs' blocks stay in cache while all outputs are formed; OpenMP spreads the tasks
// over threads. Squares run one ciphertext per thread.
#pragma once

#include <span>
#include <vector>

#include "cryptonets/nn/layers.hpp"
#include "cryptonets/yashe/evaluator.hpp"

namespace cryptonets {

class EncryptedArithmetic {
 public:
  using Value = yashe::Ciphertext;

  // threads: OpenMP threads for the layer kernels (>= 1).
  EncryptedArithmetic(const yashe::Evaluator& evaluator, int threads);

  Value multiply_accumulate(std::span<const Value> inputs, std::span<const LinearTerm> terms);
  void add_constant(Value& value, int64_t constant);
  void square(Value& value);

  std::vector<Value> apply_linear(const LinearMap& map, std::span<const Value> inputs);
  void square_all(std::vector<Value>& values);

 private:
  const yashe::Evaluator& evaluator_;
  int threads_;
};

// The fused kernel on its own: out[o] = Σ_{k in row o} weight_k · inputs[input_k] (no bias).
// Reference twin: weighted_sum_reference (one multiply_scalar and add per term).
std::vector<yashe::Ciphertext> fused_linear_combinations(const yashe::Evaluator& evaluator,
                                                         const LinearMap& map,
                                                         std::span<const yashe::Ciphertext> inputs,
                                                         int threads);
yashe::Ciphertext weighted_sum_reference(const yashe::Evaluator& evaluator,
                                         std::span<const yashe::Ciphertext> inputs,
                                         std::span<const LinearTerm> terms);

}  // namespace cryptonets
