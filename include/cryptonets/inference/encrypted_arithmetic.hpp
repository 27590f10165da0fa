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
// Relinearisation is deferred (deferred_relinearization.hpp, the schedule written once for
// ciphertexts and for the keyless noise prediction).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/inference/deferred_relinearization.hpp"
#include "cryptonets/model/layers.hpp"
#include "cryptonets/rlwe/types.hpp"
#include "cryptonets/yashe/evaluator.hpp"

namespace cryptonets::inference {

// Which implementation of the fused kernel: the portable 128-bit accumulation, the AVX2 or AVX-512
// path for weights below 2^20 in magnitude (linear_kernel_avx2.cpp, linear_kernel_avx512.cpp),
// or the best one that simd_path() (arith/simd.hpp) and the map allow. All give the same words.
enum class LinearKernel { scalar, avx2, avx512, best };

// Called as work completes, from any worker thread (the callee must be thread-safe): `done` of
// `total` units of the current layer (ciphertexts squared, or blocks of a linear layer).
using LayerProgress = std::function<void(size_t done, size_t total)>;

// The ciphertext steps of the schedule: the fused kernel, the scheme's relinearisation, add_scalar
// and unrelinearised squares, with OpenMP over ciphertexts.
template <class Evaluator>
class CiphertextOps {
 public:
  using Value = rlwe::Ciphertext;
  using ProgressCallback = LayerProgress;

  // threads: OpenMP threads for the layer kernels (>= 1).
  CiphertextOps(const Evaluator& evaluator, int threads);

  std::vector<Value> linear(const model::LinearMap& map, std::span<const Value> inputs);
  void relinearize(Value& value) const;
  // Brings degree-2 values back to degree 1 (no-op for degree 1), one ciphertext per thread.
  void relinearize_all(std::vector<Value>& values);
  void add_scalar(Value& value, int64_t constant) const;
  void square_unrelinearized(Value& value) const;
  template <class F>
  void for_each(std::vector<Value>& values, const F& f);

  void set_progress(ProgressCallback progress) { progress_ = std::move(progress); }

 private:
  const Evaluator& evaluator_;
  int threads_;
  ProgressCallback progress_;
};

template <class Evaluator>
template <class F>
void CiphertextOps<Evaluator>::for_each(std::vector<Value>& values, const F& f) {
  // One ciphertext per thread; the evaluator's own parallel loops then run single-threaded.
  std::atomic<size_t> finished{0};
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
  for (size_t j = 0; j < values.size(); ++j) {
    f(values[j]);
    if (progress_) progress_(++finished, values.size());
  }
}

template <class Evaluator>
using BasicEncryptedArithmetic = DeferredRelinearization<CiphertextOps<Evaluator>>;

using EncryptedArithmetic = BasicEncryptedArithmetic<yashe::Evaluator>;
using BfvEncryptedArithmetic = BasicEncryptedArithmetic<bfv::Evaluator>;

// The fused kernel on its own: out[o] = Σ_{k in row o} weight_k · inputs[input_k] (no bias),
// part by part (one part for YASHE', two or three for BFV).
// Reference twin: weighted_sum_reference (one multiply_scalar and add per term).
template <class Evaluator>
std::vector<rlwe::Ciphertext> fused_linear_combinations(const Evaluator& evaluator,
                                                        const model::LinearMap& map,
                                                        std::span<const rlwe::Ciphertext> inputs,
                                                        int threads,
                                                        const LayerProgress& progress = {},
                                                        LinearKernel kernel = LinearKernel::best);
// Whether `kernel` can run `map` on this CPU (avx2, avx512: the CPU has the instructions and
// every |w| < 2^20).
bool linear_kernel_applies(LinearKernel kernel, const model::LinearMap& map);
template <class Evaluator>
rlwe::Ciphertext weighted_sum_reference(const Evaluator& evaluator,
                                        std::span<const rlwe::Ciphertext> inputs,
                                        std::span<const model::LinearTerm> terms);

}  // namespace cryptonets::inference
