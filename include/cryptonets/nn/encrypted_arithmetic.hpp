// The ciphertext policy of the layer code path (layers.hpp): the same network evaluator, run on
// YASHE' ciphertexts whose slots hold one image each.
//
// Linear layers use a fused multiply-accumulate: every output Σ_j w_j·c_j + b is accumulated in
// 128-bit words per coefficient, with no temporary ciphertext per term and a single modular
// reduction per output coefficient. The loops run over (prime, block of coefficients) tasks so
// that the inputs' blocks stay in cache while all outputs are formed; OpenMP spreads the tasks
// over threads. Squares run one ciphertext per thread.
//
// Relinearisation is deferred: a square leaves its result of degree 2 (decrypting under f²), a
// linear layer combines degree-2 ciphertexts as it does degree-1 ones (both are linear in the
// ciphertext) and relinearises each of its outputs before adding the bias. A value is also
// relinearised before it is squared again or given a constant. infer relinearises whatever is
// still of degree 2 at the end. parameter_selection's noise prediction follows the same order.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "cryptonets/nn/layers.hpp"
#include "cryptonets/yashe/evaluator.hpp"

namespace cryptonets {

// Which implementation of the fused kernel: the portable 128-bit accumulation, the AVX2 or AVX-512
// path for weights below 2^20 in magnitude (linear_kernel_avx2.cpp, linear_kernel_avx512.cpp),
// or the best one that simd_path() (arith/simd.hpp) and the map allow. All give the same words.
enum class LinearKernel { scalar, avx2, avx512, best };

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
  // Brings degree-2 values back to degree 1 (no-op for degree 1).
  void relinearize_all(std::vector<Value>& values);

  // Called as work completes, from any worker thread (the callee must be thread-safe): `done` of
  // `total` units of the current layer (ciphertexts squared, or blocks of a linear layer).
  using ProgressCallback = std::function<void(size_t done, size_t total)>;
  void set_progress(ProgressCallback progress) { progress_ = std::move(progress); }

 private:
  const yashe::Evaluator& evaluator_;
  int threads_;
  ProgressCallback progress_;
};

// The fused kernel on its own: out[o] = Σ_{k in row o} weight_k · inputs[input_k] (no bias).
// Reference twin: weighted_sum_reference (one multiply_scalar and add per term).
std::vector<yashe::Ciphertext> fused_linear_combinations(
    const yashe::Evaluator& evaluator, const LinearMap& map,
    std::span<const yashe::Ciphertext> inputs, int threads,
    const EncryptedArithmetic::ProgressCallback& progress = {},
    LinearKernel kernel = LinearKernel::best);
// Whether `kernel` can run `map` on this CPU (avx2, avx512: the CPU has the instructions and
// every |w| < 2^20).
bool linear_kernel_applies(LinearKernel kernel, const LinearMap& map);
yashe::Ciphertext weighted_sum_reference(const yashe::Evaluator& evaluator,
                                         std::span<const yashe::Ciphertext> inputs,
                                         std::span<const LinearTerm> terms);

}  // namespace cryptonets
