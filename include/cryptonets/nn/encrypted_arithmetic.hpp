// The ciphertext policy of the layer code path (layers.hpp): the same network evaluator, run on
// ciphertexts whose slots hold one image each, for any scheme whose evaluator offers the
// ciphertext arithmetic used below (yashe::Evaluator, bfv::Evaluator): add/multiply_scalar on
// ciphertexts of any number of parts, add_scalar, multiply_without_relinearization,
// relinearize_inplace, and context().q_base()/ring()/n(). Both are instantiated in the library.
//
// Linear layers use a fused multiply-accumulate: every output Σ_j w_j·c_j + b is accumulated in
// 128-bit words per coefficient, with no temporary ciphertext per term and a single modular
// reduction per output coefficient. The loops run over (prime, block of coefficients) tasks so
// that the inputs' blocks stay in cache while all outputs are formed; OpenMP spreads the tasks
// over threads. Squares run one ciphertext per thread.
//
// Relinearisation is deferred: a square leaves its result of degree 2 (decrypting under f²), a
// linear layer combines degree-2 ciphertexts as it does degree-1 ones (both are linear in the
// ciphertext, and for BFV loops over its three parts) and relinearises each of its outputs before
// adding the bias. A value is also
// relinearised before it is squared again or given a constant. infer relinearises whatever is
// still of degree 2 at the end. parameter_selection's noise prediction follows the same order.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/nn/layers.hpp"
#include "cryptonets/rlwe/types.hpp"
#include "cryptonets/yashe/evaluator.hpp"

namespace cryptonets {

// Which implementation of the fused kernel: the portable 128-bit accumulation, the AVX2 path for
// weights below 2^20 in magnitude (linear_kernel_avx2.cpp), or the best one this CPU and map allow.
enum class LinearKernel { scalar, avx2, best };

// Called as work completes, from any worker thread (the callee must be thread-safe): `done` of
// `total` units of the current layer (ciphertexts squared, or blocks of a linear layer).
using LayerProgress = std::function<void(size_t done, size_t total)>;

template <class Evaluator>
class BasicEncryptedArithmetic {
 public:
  using Value = rlwe::Ciphertext;

  // threads: OpenMP threads for the layer kernels (>= 1).
  BasicEncryptedArithmetic(const Evaluator& evaluator, int threads);

  Value multiply_accumulate(std::span<const Value> inputs, std::span<const LinearTerm> terms);
  void add_constant(Value& value, int64_t constant);
  void square(Value& value);

  std::vector<Value> apply_linear(const LinearMap& map, std::span<const Value> inputs);
  void square_all(std::vector<Value>& values);
  // Brings degree-2 values back to degree 1 (no-op for degree 1).
  void relinearize_all(std::vector<Value>& values);

  using ProgressCallback = LayerProgress;
  void set_progress(ProgressCallback progress) { progress_ = std::move(progress); }

 private:
  const Evaluator& evaluator_;
  int threads_;
  ProgressCallback progress_;
};

using EncryptedArithmetic = BasicEncryptedArithmetic<yashe::Evaluator>;
using BfvEncryptedArithmetic = BasicEncryptedArithmetic<bfv::Evaluator>;

// The fused kernel on its own: out[o] = Σ_{k in row o} weight_k · inputs[input_k] (no bias),
// part by part (one part for YASHE', two or three for BFV).
// Reference twin: weighted_sum_reference (one multiply_scalar and add per term).
template <class Evaluator>
std::vector<rlwe::Ciphertext> fused_linear_combinations(
    const Evaluator& evaluator, const LinearMap& map, std::span<const rlwe::Ciphertext> inputs,
    int threads, const LayerProgress& progress = {}, LinearKernel kernel = LinearKernel::best);
// Whether `kernel` can run `map` on this CPU (avx2: AVX2 present and every |w| < 2^20).
bool linear_kernel_applies(LinearKernel kernel, const LinearMap& map);
template <class Evaluator>
rlwe::Ciphertext weighted_sum_reference(const Evaluator& evaluator,
                                        std::span<const rlwe::Ciphertext> inputs,
                                        std::span<const LinearTerm> terms);

}  // namespace cryptonets
