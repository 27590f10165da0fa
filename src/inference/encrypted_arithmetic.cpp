#include "cryptonets/inference/encrypted_arithmetic.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "cryptonets/arith/simd.hpp"
#include "cryptonets/inference/work_splitting.hpp"
#include "cryptonets/ring/page_buffer.hpp"
#include "linear_kernel_avx2.hpp"
#include "linear_kernel_avx512.hpp"

namespace cryptonets::inference {

using model::LinearMap;
using model::LinearTerm;

namespace {

constexpr int kSmallWeightBits = 20;

int weight_bits(const LinearMap& map) {
  uint64_t largest = 0;
  for (const LinearTerm& term : map.terms)
    largest = std::max(largest, static_cast<uint64_t>(std::abs(term.weight)));
  return static_cast<int>(std::bit_width(largest));
}

// Coefficients per task of the scalar path: 64 coefficients of every input (845 inputs · 64 · 8
// bytes ≈ 430 KiB) stay in the L2 cache while the layer's outputs are accumulated.
constexpr size_t kBlock = 64;

// Coefficients per task of the vector paths' one-output kernel (a convolution): see below.
constexpr size_t kSparseBlock = 1024;

// Coefficients per task of the vector paths' grouped kernel (dense layers): the block's inputs,
// split into 31-bit halves (16 bytes per coefficient), stay in the L2 cache while every output is
// accumulated: at most kSplitBytes of them, and 16 to kLongestVectorBlock coefficients (845 inputs:
// 16, 216 KiB; 100 inputs: 128, 200 KiB). Few inputs get long blocks because each input's slice
// is a separate stream from memory: 100 inputs read in 16-coefficient slices (two cache lines each)
// left the 100 → 10 layer waiting on memory latency, at a quarter of the 845 → 100 layer's rate.
constexpr size_t kSplitBytes = size_t{256} << 10;
constexpr size_t kShortestVectorBlock = 16, kLongestVectorBlock = 256;

size_t vector_block(size_t inputs, size_t n) {
  size_t width = kShortestVectorBlock;
  while (2 * width <= kLongestVectorBlock && 2 * width <= n &&
         inputs * 2 * width * 16 <= kSplitBytes) {
    width *= 2;
  }
  return width;
}

// Up to kGroupOutputs outputs computed together by the grouped AVX2 kernel: `members` is the
// sorted union of their rows' inputs, `weights` (members × kGroupOutputs) holds each row's weight
// for each member, 0 where the row lacks it or the group has fewer outputs.
struct OutputGroup {
  std::vector<size_t> outputs;
  std::vector<uint32_t> members;
  std::vector<int32_t> weights;
};

struct OutputPlan {
  std::vector<OutputGroup> groups;
  std::vector<size_t> single_outputs;  // outputs left to the one-output kernel
};

// The row's inputs, sorted; empty if an input appears twice (such rows stay single).
std::vector<uint32_t> sorted_inputs(std::span<const LinearTerm> row) {
  std::vector<uint32_t> inputs;
  for (const LinearTerm& term : row)
    inputs.push_back(term.input);
  std::sort(inputs.begin(), inputs.end());
  if (std::adjacent_find(inputs.begin(), inputs.end()) != inputs.end()) inputs.clear();
  return inputs;
}

OutputGroup make_group(const LinearMap& map, std::vector<size_t> outputs,
                       std::vector<uint32_t> members, std::vector<int64_t>& slot) {
  OutputGroup group{std::move(outputs), std::move(members), {}};
  for (size_t m = 0; m < group.members.size(); ++m)
    slot[group.members[m]] = static_cast<int64_t>(m);
  group.weights.assign(group.members.size() * linear_avx2::kGroupOutputs, 0);
  for (size_t g = 0; g < group.outputs.size(); ++g) {
    for (const LinearTerm& term : map.terms_of(group.outputs[g])) {
      const size_t m = static_cast<size_t>(slot[term.input]);
      group.weights[m * linear_avx2::kGroupOutputs + g] = static_cast<int32_t>(term.weight);
    }
  }
  return group;
}

// Groups runs of consecutive outputs whose union of inputs is at most 1.25 × their longest row, so
// that each input vector is loaded once per group (dense layers: the same inputs up to dropped
// zero weights; every union member costs a multiply per output). Sparse rows that differ (a
// convolution's neighbouring positions) stay single. (Grouping a convolution's channels, which
// share a window, gave no measurable gain: that layer is bound by memory, not multiplies.)
// Candidate groups are independent, so they are planned in parallel (a dense 845 → 100 layer's
// sorts took about 1 % of its time, serial before the kernel's threads started).
OutputPlan plan_output_groups(const LinearMap& map, int threads) {
  const size_t candidates =
      (map.outputs + linear_avx2::kGroupOutputs - 1) / linear_avx2::kGroupOutputs;
  std::vector<OutputGroup> built(candidates);
  std::vector<char> grouped(candidates, 0);
#pragma omp parallel num_threads(threads)
  {
    std::vector<int64_t> slot(map.inputs, -1);
#pragma omp for schedule(dynamic, 1)
    for (size_t c = 0; c < candidates; ++c) {
      const size_t first = c * linear_avx2::kGroupOutputs;
      const size_t last = std::min(map.outputs, first + linear_avx2::kGroupOutputs);
      std::vector<size_t> outputs;
      std::vector<uint32_t> members;
      size_t longest = 0;
      bool groupable = last - first > 1;
      for (size_t o = first; o < last; ++o) {
        const std::vector<uint32_t> row = sorted_inputs(map.terms_of(o));
        outputs.push_back(o);
        groupable = groupable && !row.empty();
        longest = std::max(longest, row.size());
        members.insert(members.end(), row.begin(), row.end());
      }
      std::sort(members.begin(), members.end());
      members.erase(std::unique(members.begin(), members.end()), members.end());
      if (groupable && 4 * members.size() <= 5 * longest) {
        built[c] = make_group(map, std::move(outputs), std::move(members), slot);
        grouped[c] = 1;
      }
    }
  }
  OutputPlan plan;
  for (size_t c = 0; c < candidates; ++c) {
    if (grouped[c] != 0) {
      plan.groups.push_back(std::move(built[c]));
      continue;
    }
    const size_t first = c * linear_avx2::kGroupOutputs;
    for (size_t o = first; o < std::min(map.outputs, first + linear_avx2::kGroupOutputs); ++o)
      plan.single_outputs.push_back(o);
  }
  return plan;
}

template <class Evaluator>
void check_inputs(const Evaluator& evaluator, std::span<const rlwe::Ciphertext> inputs) {
  if (inputs.empty()) throw std::invalid_argument("linear layer: no input ciphertexts");
  const auto& base = evaluator.context().q_base();
  for (const auto& c : inputs) {
    if (c.parts.empty() || c.parts.size() != inputs[0].parts.size()) {
      throw std::invalid_argument("linear layer: ciphertexts with different numbers of parts");
    }
    for (const RnsPoly& part : c.parts) {
      if (part.empty() || !(part.ring().base() == base) || part.form() != PolyForm::coefficient) {
        throw std::invalid_argument("linear layer: a ciphertext belongs to other parameters");
      }
    }
    if (c.key_id != inputs[0].key_id || c.degree != inputs[0].degree) {
      throw std::invalid_argument("linear layer: ciphertexts of different keys or degrees");
    }
  }
}

}  // namespace

double linear_output_noise_log2(const model::LinearMap& map, size_t o,
                                std::span<const double> input_noise) {
  double bound = 0;  // Σ |w|·2^noise, relative to the largest input noise
  double largest_noise = -1e300;
  for (const auto& term : map.terms_of(o))
    largest_noise = std::max(largest_noise, input_noise[term.input]);
  for (const auto& term : map.terms_of(o)) {
    bound += std::fabs(static_cast<double>(term.weight)) *
             std::exp2(input_noise[term.input] - largest_noise);
  }
  return bound > 0 ? largest_noise + std::log2(bound) : -1e9;
}

bool linear_output_transparent(const model::LinearMap& map, size_t o,
                               std::span<const char> input_transparent) {
  bool transparent = true;
  for (const auto& term : map.terms_of(o))
    transparent = transparent && input_transparent[term.input] != 0;
  return transparent;
}

template <class Evaluator>
std::vector<rlwe::Ciphertext> fused_linear_combinations(const Evaluator& evaluator,
                                                        const LinearMap& map,
                                                        std::span<const rlwe::Ciphertext> inputs,
                                                        int threads, const LayerProgress& progress,
                                                        LinearKernel kernel) {
  check_inputs(evaluator, inputs);
  if (inputs.size() != map.inputs) {
    throw std::invalid_argument("linear layer: expected " + std::to_string(map.inputs) +
                                " ciphertexts, got " + std::to_string(inputs.size()));
  }
  const auto& ctx = evaluator.context();
  const RnsBase& base = ctx.q_base();
  const size_t n = ctx.n(), k = base.size(), terms = map.terms.size();
  // Every part of a ciphertext is combined with the same weights: tasks run over
  // (part, prime, block), and "row" r = part·k + prime below.
  const size_t parts = inputs[0].parts.size(), rows = parts * k;

  std::vector<double> input_noise;
  std::vector<char> input_transparent;
  for (const rlwe::Ciphertext& c : inputs) {
    input_noise.push_back(c.noise_log2);
    input_transparent.push_back(c.transparent);
  }
  std::vector<rlwe::Ciphertext> outputs(map.outputs);
  // Allocated by the threads that run the layer: a convolution's 845 outputs are 387 MB at
  // n = 8192 and 7 primes, and their first-touch page faults, done serially, kept that layer from
  // scaling with threads (measured: 1.37x on 2 threads, against 1.9x for the dense layers).
#pragma omp parallel for schedule(static) num_threads(threads)
  for (size_t o = 0; o < map.outputs; ++o) {
    outputs[o].parts.resize(parts);
    for (RnsPoly& part : outputs[o].parts)
      part.reset_uninitialized(ctx.ring(), PolyForm::coefficient);  // every word written below
    outputs[o].degree = inputs[0].degree;
    outputs[o].key_id = inputs[0].key_id;
    outputs[o].noise_log2 = linear_output_noise_log2(map, o, input_noise);
    // No terms (an exact zero), or only transparent inputs: no encryption randomness.
    outputs[o].transparent = linear_output_transparent(map, o, input_transparent);
  }

  std::atomic<size_t> finished{0};
  if (kernel != LinearKernel::scalar && kernel != LinearKernel::best &&
      !linear_kernel_applies(kernel, map)) {
    throw std::invalid_argument(
        "linear layer: the AVX2 and AVX-512 kernels need the CPU's support and weights below 2^20");
  }
  // best follows the SIMD path selector (arith/simd.hpp): the widest vector kernel it allows.
  if (kernel == LinearKernel::best) {
    const SimdPath path = simd_path();
    kernel = path >= SimdPath::avx512 && linear_kernel_applies(LinearKernel::avx512, map)
                 ? LinearKernel::avx512
             : path >= SimdPath::avx2 && linear_kernel_applies(LinearKernel::avx2, map)
                 ? LinearKernel::avx2
                 : LinearKernel::scalar;
  }
  static_assert(linear_avx2::kGroupOutputs == linear_avx512::kGroupOutputs);
  const bool avx512 = kernel == LinearKernel::avx512;
  const auto split_block = avx512 ? linear_avx512::split_block : linear_avx2::split_block;
  const auto grouped_signed_weight_sum =
      avx512 ? linear_avx512::grouped_signed_weight_sum : linear_avx2::grouped_signed_weight_sum;
  const auto signed_small_weight_sum =
      avx512 ? linear_avx512::signed_small_weight_sum : linear_avx2::signed_small_weight_sum;
  if (kernel != LinearKernel::scalar && n % kBlock == 0) {
    const int bits = std::max(1, weight_bits(map));
    std::vector<uint32_t> magnitudes(terms);
    std::vector<uint8_t> negative(terms);
    for (size_t t = 0; t < terms; ++t) {
      magnitudes[t] = static_cast<uint32_t>(std::abs(map.terms[t].weight));
      negative[t] = map.terms[t].weight < 0;
    }
    const OutputPlan plan = plan_output_groups(map, threads);
    size_t longest_row = 0;
    for (size_t o = 0; o < map.outputs; ++o)
      longest_row = std::max(longest_row, map.row_begin[o + 1] - map.row_begin[o]);
    // Without groups (a convolution), the one-output kernel takes long blocks of a row: each
    // input's slice is then a long sequential read, and the outputs are visited in the order of
    // their first input, so that neighbouring windows (and a position's channels) reuse the
    // slices from the cache. Consecutive tasks are then different rows at the same offset, one
    // at a time: two threads never write neighbouring lines. (Measured on the shipped model's
    // convolution, warm, 2 threads against 1: 1.5x with 64-coefficient blocks in output order,
    // 1.8-1.9x this way; bench_linear LinearLayer/conv.) Dense layers keep short blocks, whose
    // split inputs stay in the L2 cache.
    const bool sparse = plan.groups.empty();
    const size_t width = sparse ? std::min(kSparseBlock, n) : vector_block(map.inputs, n);
    const size_t blocks = n / width;
    std::vector<size_t> order = plan.single_outputs;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const size_t first_a = map.row_begin[a], first_b = map.row_begin[b];
      const uint32_t input_a = first_a < map.row_begin[a + 1] ? map.terms[first_a].input : 0;
      const uint32_t input_b = first_b < map.row_begin[b + 1] ? map.terms[first_b].input : 0;
      return input_a < input_b;
    });
    // Row r of input j starts at row_starts[r·inputs + j]: the gathers below then cost one load.
    std::vector<const uint64_t*> row_starts(rows * map.inputs);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < map.inputs; ++j)
        row_starts[r * map.inputs + j] = inputs[j].parts[r / k].residues(r % k);
    }
    // Dense layers: one contiguous range of tasks per thread, split when a thread runs out
    // (work_splitting.hpp), so that the block each task prefetches is the one its thread takes
    // next. The convolution prefetches nothing: OpenMP's dynamic schedule, one task per claim.
    std::optional<WorkSplitter> splitter;
    if (!sparse) splitter.emplace(rows * blocks, threads);
#pragma omp parallel num_threads(threads)
    {
      // Each thread's scratch in pages of its own (ring/page_buffer.hpp: as heap vectors side
      // by side, the two threads' kernels ran 15-40 % slower per core). The packed slices then
      // start on a cache line: each input's 64-byte record of a slice is one line, and neither
      // of its two 32-byte loads splits across lines (measured: 20 % faster).
      PageBuffer<uint64_t> packed_storage(plan.groups.empty() ? 0 : 2 * map.inputs * width);
      PageBuffer<const uint64_t*> pointer_storage(std::max(map.inputs, longest_row));
      uint64_t* const packed = packed_storage.data();
      const uint64_t** const pointers = pointer_storage.data();
      uint64_t* group_outputs[linear_avx2::kGroupOutputs];
      const auto run_task = [&](size_t task, std::optional<size_t> next) {
        const size_t row = sparse ? task % rows : task / blocks;
        const size_t begin = (sparse ? task / rows : task % blocks) * width;
        const size_t p = row / k, i = row % k;
        const uint64_t* const* starts = row_starts.data() + row * map.inputs;
        if (!sparse) {
          for (size_t j = 0; j < map.inputs; ++j)
            pointers[j] = starts[j] + begin;
          split_block(pointers, map.inputs, width, packed);
          // Fetching the next task's slices into the L2 cache now overlaps their memory latency
          // with this block's products.
          if (next) {
            const uint64_t* const* next_starts = row_starts.data() + (*next / blocks) * map.inputs;
            const size_t next_begin = (*next % blocks) * width;
            for (size_t j = 0; j < map.inputs; ++j) {
              for (size_t x = 0; x < width; x += 8)
                __builtin_prefetch(next_starts[j] + next_begin + x, 0, 2);
            }
          }
          for (const OutputGroup& group : plan.groups) {
            for (size_t g = 0; g < linear_avx2::kGroupOutputs; ++g) {
              group_outputs[g] = g < group.outputs.size()
                                     ? outputs[group.outputs[g]].parts[p].residues(i) + begin
                                     : nullptr;
            }
            grouped_signed_weight_sum(packed, map.inputs, width, group.members.data(),
                                      group.members.size(), group.weights.data(), bits, base[i],
                                      group_outputs);
          }
        }
        for (size_t o : order) {
          const size_t first = map.row_begin[o], last = map.row_begin[o + 1];
          for (size_t t = first; t < last; ++t)
            pointers[t - first] = starts[map.terms[t].input] + begin;
          signed_small_weight_sum(pointers, magnitudes.data() + first, negative.data() + first,
                                  last - first, bits, base[i], width,
                                  outputs[o].parts[p].residues(i) + begin);
        }
        if (progress) progress(++finished, rows * blocks);
      };
      if (sparse) {
#pragma omp for schedule(dynamic, 1)
        for (size_t task = 0; task < rows * blocks; ++task)
          run_task(task, std::nullopt);
      } else {
        // A team smaller than asked for is fine: the missing threads' ranges are split off too.
        while (const auto claim = splitter->next(omp_get_thread_num()))
          run_task(claim->task, claim->next);
      }
    }
    return outputs;
  }
  // The scalar path. Weights as residues, per prime: w mod q_i in [0, q_i). (Only here: for a
  // dense layer this is 7 · 84,500 reductions, serial time the vector paths do not need.) A
  // product with a residue is below 2^(2b) for b-bit primes; Modulus::reduce takes values below
  // 2^126, so the accumulator is reduced every 2^(125 - 2b) terms (2^15 terms for 55-bit
  // primes: never, in practice).
  std::vector<uint64_t> weight_residues(k * terms);
  int largest_bits = 0;
  for (size_t i = 0; i < k; ++i) {
    largest_bits = std::max(largest_bits, base[i].bits());
    for (size_t t = 0; t < terms; ++t)
      weight_residues[i * terms + t] = from_signed(map.terms[t].weight, base[i]);
  }
  const size_t chunk = size_t{1} << std::min(30, 125 - 2 * largest_bits);
  const size_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (size_t task = 0; task < rows * blocks; ++task) {
    const size_t row = task / blocks, begin = (task % blocks) * kBlock;
    const size_t p = row / k, i = row % k;
    const size_t end = std::min(n, begin + kBlock), width = end - begin;
    const Modulus& q = base[i];
    const uint64_t* weights = weight_residues.data() + i * terms;
    u128 acc[kBlock];
    for (size_t o = 0; o < map.outputs; ++o) {
      for (size_t x = 0; x < width; ++x)
        acc[x] = 0;
      const size_t first = map.row_begin[o], last = map.row_begin[o + 1];
      for (size_t from = first; from < last; from += chunk) {
        const size_t to = std::min(last, from + chunk);
        for (size_t t = from; t < to; ++t) {
          const uint64_t* in = inputs[map.terms[t].input].parts[p].residues(i) + begin;
          const uint64_t w = weights[t];
          for (size_t x = 0; x < width; ++x)
            acc[x] += static_cast<u128>(in[x]) * w;
        }
        if (to < last) {
          for (size_t x = 0; x < width; ++x)
            acc[x] = q.reduce(acc[x]);
        }
      }
      uint64_t* out = outputs[o].parts[p].residues(i) + begin;
      for (size_t x = 0; x < width; ++x)
        out[x] = q.reduce(acc[x]);
    }
    if (progress) progress(++finished, rows * blocks);
  }
  return outputs;
}

bool linear_kernel_applies(LinearKernel kernel, const LinearMap& map) {
  switch (kernel) {
    case LinearKernel::scalar:
    case LinearKernel::best:
      return true;
    case LinearKernel::avx2:
      return linear_avx2::cpu_supported() && weight_bits(map) <= kSmallWeightBits &&
             map.terms.size() < (size_t{1} << 32);
    case LinearKernel::avx512:
      return linear_avx512::cpu_supported() && weight_bits(map) <= kSmallWeightBits &&
             map.terms.size() < (size_t{1} << 32);
  }
  return false;
}

template <class Evaluator>
rlwe::Ciphertext weighted_sum_reference(const Evaluator& evaluator,
                                        std::span<const rlwe::Ciphertext> inputs,
                                        std::span<const LinearTerm> terms) {
  check_inputs(evaluator, inputs);
  rlwe::Ciphertext sum = inputs[0];
  evaluator.multiply_scalar_inplace(sum, 0);
  sum.noise_log2 = -1e9;
  for (const LinearTerm& term : terms) {
    rlwe::Ciphertext product = inputs[term.input];
    evaluator.multiply_scalar_inplace(product, term.weight);
    evaluator.add_inplace(sum, product);
  }
  return sum;
}

template <class Evaluator>
CiphertextOps<Evaluator>::CiphertextOps(const Evaluator& evaluator, int threads)
    : evaluator_(evaluator), threads_(threads) {
  if (threads < 1) throw std::invalid_argument("EncryptedArithmetic: threads must be >= 1");
}

template <class Evaluator>
std::vector<rlwe::Ciphertext> CiphertextOps<Evaluator>::linear(
    const LinearMap& map, std::span<const rlwe::Ciphertext> inputs) {
  return fused_linear_combinations(evaluator_, map, inputs, threads_, progress_);
}

template <class Evaluator>
void CiphertextOps<Evaluator>::relinearize(rlwe::Ciphertext& value) const {
  evaluator_.relinearize_inplace(value);
}

template <class Evaluator>
void CiphertextOps<Evaluator>::relinearize_all(std::vector<rlwe::Ciphertext>& values) {
  // One ciphertext per task (rlwe::gadget_products), every argument checked before the threads
  // start: an exception must not escape an OpenMP region.
  evaluator_.relinearize_all(values, threads_);
}

template <class Evaluator>
void CiphertextOps<Evaluator>::add_scalar(rlwe::Ciphertext& value, int64_t constant) const {
  evaluator_.add_scalar_inplace(value, constant);
}

template <class Evaluator>
void CiphertextOps<Evaluator>::square_unrelinearized(rlwe::Ciphertext& value) const {
  value = evaluator_.multiply_without_relinearization(value, value);
}

template class CiphertextOps<yashe::Evaluator>;
template class CiphertextOps<bfv::Evaluator>;

#define CRYPTONETS_INSTANTIATE_LINEAR(EVALUATOR)                                  \
  template std::vector<rlwe::Ciphertext> fused_linear_combinations<EVALUATOR>(    \
      const EVALUATOR&, const LinearMap&, std::span<const rlwe::Ciphertext>, int, \
      const LayerProgress&, LinearKernel);                                        \
  template rlwe::Ciphertext weighted_sum_reference<EVALUATOR>(                    \
      const EVALUATOR&, std::span<const rlwe::Ciphertext>, std::span<const LinearTerm>);
CRYPTONETS_INSTANTIATE_LINEAR(yashe::Evaluator)
CRYPTONETS_INSTANTIATE_LINEAR(bfv::Evaluator)
#undef CRYPTONETS_INSTANTIATE_LINEAR

}  // namespace cryptonets::inference
