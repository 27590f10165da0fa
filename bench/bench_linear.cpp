// The fused linear kernel on CryptoNets' two linear shapes at n = 8192 with q = 7 primes of 55
// bits: layer 3, a dense 845 → 100 map with weights below 2^20 in magnitude, and layer 1, the
// shipped model's convolution (841 → 845 outputs, 25 terms each). Memory is reused from one
// iteration to the next, so these are warm timings: no first-touch page faults.
// The shipped model's output layer, a dense 100 → 10 map, is timed too: with few outputs per
// input it is bound by reading its inputs, not by the products.
// Names: LinearLayer/fused/inputs:845/outputs:100/n:8192/threads:<threads>,
// LinearLayer/conv/inputs:841/outputs:845/n:8192/threads:<threads>,
// LinearLayer/output/inputs:100/outputs:10/n:8192/threads:<threads> and
// LinearLayer/fused-twice-at-once/inputs:845/outputs:100/n:8192/shared-inputs:<0|1> (below).
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include "benchmark_context.hpp"
#include "cryptonets/arith/primes.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/io/model_file.hpp"
#include "cryptonets/model/model.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/ring/memory_policy.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/key_generator.hpp"

using cryptonets::inference::fused_linear_combinations;
using cryptonets::model::LinearMap;

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

constexpr size_t kInputs = 845, kOutputs = 100, kN = 8192;

struct Setup {
  std::shared_ptr<const Context> context;
  std::unique_ptr<Evaluator> evaluator;
  std::vector<Ciphertext> inputs;
  LinearMap map;
  LinearMap conv;                   // the shipped model's first step
  LinearMap output;                 // and its last
  std::vector<Ciphertext> squares;  // its 100 inputs as the network has them: unrelinearised
};

// Inputs are one encryption whose residues are replaced by uniform ones (the kernel's cost does not
// depend on them; 845 encryptions would dominate the start-up). About 3 % of the weights are zero
// and dropped, as in a trained dense layer.
Setup& setup() {
  static std::unique_ptr<Setup> cached;
  if (cached) return *cached;
  cached = std::make_unique<Setup>();
  Setup& s = *cached;
  Prng prng = Prng::insecure_seeded(7);
  s.context = Context::create(Parameters::create(kN, 7, 55, generate_ntt_primes(40, 1, 2 * kN)[0]));
  const KeySet keys = generate_keys(s.context, prng);
  s.evaluator = std::make_unique<Evaluator>(s.context, keys.evaluation_key);
  Encryptor encryptor(s.context, keys.public_key);
  Plaintext zero;
  zero.coeffs.assign(kN, 0);
  const Ciphertext encrypted = encryptor.encrypt(zero, prng);
  const RnsBase& base = s.context->q_base();
  s.inputs.assign(kInputs, encrypted);  // the dense layer's 845; the convolution reads 841
  for (Ciphertext& input : s.inputs) {
    for (size_t i = 0; i < base.size(); ++i) {
      for (size_t x = 0; x < kN; ++x)
        input.parts[0].residues(i)[x] = sample_uniform_below(prng, base[i].value());
    }
  }
  const int64_t limit = (int64_t{1} << 20) - 1;
  const model::CompiledModel shipped =
      model::compile_model(load_model(std::string(CRYPTONETS_SOURCE_DATA_DIR) + "/model.txt"));
  s.conv = shipped.steps.front().map;
  s.output = shipped.steps.back().map;
  s.squares.assign(s.inputs.begin(), s.inputs.begin() + static_cast<ptrdiff_t>(s.output.inputs));
  for (Ciphertext& square : s.squares)
    square.degree = 2;  // relinearised after the weights (deferred relinearisation)
  s.map.inputs = kInputs;
  s.map.outputs = kOutputs;
  s.map.row_begin = {0};
  for (size_t o = 0; o < kOutputs; ++o) {
    for (size_t j = 0; j < kInputs; ++j) {
      if (sample_uniform_below(prng, 100) < 3) continue;
      const int64_t weight =
          static_cast<int64_t>(sample_uniform_below(prng, 2 * limit + 1)) - limit;
      if (weight != 0) s.map.terms.push_back({static_cast<uint32_t>(j), weight});
    }
    s.map.row_begin.push_back(s.map.terms.size());
    s.map.bias.push_back(0);
  }
  return s;
}

void fused_dense_layer(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.map, s.inputs, threads));
  // Multiply-adds per second: terms × primes × coefficients.
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(s.map.terms.size() * 7 * kN) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

BENCHMARK(fused_dense_layer)
    ->Name("LinearLayer/fused/inputs:845/outputs:100/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Two dense layers at once in one process, each on 1 thread (std::threads), on the same inputs
// (arg 1) or on two copies (arg 0). Time per iteration is for both layers: against
// LinearLayer/fused on 1 thread it shows what two threads lose to each other when they share
// nothing but the process (the allocator, the pages): with the kernels' scratch as heap vectors
// side by side, 386-409 ms here against 333-381 ms for two separate processes (PageBuffer
// removed the difference).
void fused_twice_at_once(benchmark::State& state) {
  Setup& s = setup();
  static std::vector<Ciphertext> copy;
  const bool shared = state.range(0) == 1;
  if (!shared && copy.empty()) copy = s.inputs;
  const std::vector<Ciphertext>& other_inputs = shared ? s.inputs : copy;
  for (auto _ : state) {
    std::thread other([&] {
      benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.map, other_inputs, 1));
    });
    benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.map, s.inputs, 1));
    other.join();
  }
}

BENCHMARK(fused_twice_at_once)
    ->Name("LinearLayer/fused-twice-at-once/inputs:845/outputs:100/n:8192")
    ->ArgName("shared-inputs")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void fused_conv_layer(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  const std::span<const Ciphertext> inputs(s.inputs.data(), s.conv.inputs);
  for (auto _ : state)
    benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.conv, inputs, threads));
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(s.conv.terms.size() * 7 * kN) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

BENCHMARK(fused_conv_layer)
    ->Name("LinearLayer/conv/inputs:841/outputs:845/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void fused_output_layer(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  const std::span<const Ciphertext> inputs(s.inputs.data(), s.output.inputs);
  for (auto _ : state)
    benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.output, inputs, threads));
  state.counters["MAC/s"] = benchmark::Counter(
      static_cast<double>(s.output.terms.size() * 7 * kN) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

BENCHMARK(fused_output_layer)
    ->Name("LinearLayer/output/inputs:100/outputs:10/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The output layer on inputs not in any cache, as in the network, where they are the previous
// layer's fresh squares (45.9 MB): eight disjoint sets of 100 inputs, one per iteration in turn.
void fused_output_layer_cold(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  size_t set = 0;
  for (auto _ : state) {
    const std::span<const Ciphertext> inputs(s.inputs.data() + s.output.inputs * set,
                                             s.output.inputs);
    set = (set + 1) % (s.inputs.size() / s.output.inputs);
    benchmark::DoNotOptimize(fused_linear_combinations(*s.evaluator, s.output, inputs, threads));
  }
}

BENCHMARK(fused_output_layer_cold)
    ->Name("LinearLayer/output-cold-inputs/inputs:100/outputs:10/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The whole output step as the network runs it: the linear map over the 100 unrelinearised squares,
// then one relinearisation per output (BasicEncryptedArithmetic::apply_linear).
void output_step(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  inference::BasicEncryptedArithmetic<Evaluator> arithmetic(*s.evaluator, threads);
  for (auto _ : state)
    benchmark::DoNotOptimize(arithmetic.apply_linear(s.output, s.squares));
}

BENCHMARK(output_step)
    ->Name("LinearLayer/output+relinearisation/inputs:100/outputs:10/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Its relinearisations alone: one per output, one ciphertext per thread (relinearize_all).
void output_relinearisations(benchmark::State& state) {
  Setup& s = setup();
  const int threads = static_cast<int>(state.range(0));
  inference::BasicEncryptedArithmetic<Evaluator> arithmetic(*s.evaluator, threads);
  const std::vector<Ciphertext> squares(
      s.squares.begin(), s.squares.begin() + static_cast<ptrdiff_t>(s.output.outputs));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Ciphertext> values = squares;
    state.ResumeTiming();
    arithmetic.relinearize_all(values);
    benchmark::DoNotOptimize(values);
  }
}

BENCHMARK(output_relinearisations)
    ->Name("LinearLayer/relinearisations/outputs:10/n:8192")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

// As the network programs do: freed polynomials stay in the process, so every iteration after the
// first reuses warm memory (without this, glibc unmaps or trims the outputs after each iteration).
int main(int argc, char** argv) {
  cryptonets::keep_freed_memory_for_reuse();
  return cryptonets::bench::benchmark_main(argc, argv);
}
