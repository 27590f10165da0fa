// The same operations on every SIMD path this CPU supports, in one process, so that each path's
// gain is a ratio measured in one run (run with --benchmark_enable_random_interleaving=true and
// repetitions on a shared machine). Two parameter sets at n = 8192: 7 primes of 55 bits (the
// kernels' 64-bit AVX-512 arithmetic) and 8 primes of 50 bits (within IFMA's range), each with a
// 40-bit plaintext modulus. The layer set is CryptoNets' last dense layer (100 → 10, weights
// below 2^20, the fused kernel) and its squaring layer, relinearisation included.
// Names: SIMD/<operation>/primes:<count>x<bits>/path:<path>.
#include <benchmark/benchmark.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/arith/simd.hpp"
#include "cryptonets/inference/encrypted_arithmetic.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"

using cryptonets::inference::EncryptedArithmetic;
using cryptonets::inference::fused_linear_combinations;
using cryptonets::model::LinearMap;

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

constexpr size_t kN = 8192;
constexpr size_t kDenseInputs = 100, kDenseOutputs = 10, kSquares = 4;

struct Setup {
  std::shared_ptr<const Context> context;
  Prng prng = Prng::insecure_seeded(1);
  KeySet keys;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> evaluator;
  Plaintext message;
  Ciphertext a, b, product;
  std::vector<Ciphertext> dense_inputs;
  LinearMap dense;
};

Setup& setup(int primes, int bits) {
  static std::map<int, std::unique_ptr<Setup>> cache;
  auto& entry = cache[primes * 100 + bits];
  if (entry) return *entry;
  entry = std::make_unique<Setup>();
  Setup& s = *entry;
  s.context = Context::create(Parameters::create(kN, static_cast<size_t>(primes), bits,
                                                 generate_ntt_primes(40, 1, 2 * kN)[0]));
  s.keys = generate_keys(s.context, s.prng);
  s.encryptor = std::make_unique<Encryptor>(s.context, s.keys.public_key);
  s.decryptor = std::make_unique<Decryptor>(s.context, s.keys.secret_key);
  s.evaluator = std::make_unique<Evaluator>(s.context, s.keys.evaluation_key);
  for (size_t j = 0; j < kN; ++j)
    s.message.coeffs.push_back(sample_uniform_below(s.prng, 1 << 10));
  s.a = s.encryptor->encrypt(s.message, s.prng);
  s.b = s.encryptor->encrypt(s.message, s.prng);
  s.product = s.evaluator->multiply_without_relinearization(s.a, s.b);
  for (size_t j = 0; j < kDenseInputs; ++j)
    s.dense_inputs.push_back(s.encryptor->encrypt(s.message, s.prng));
  s.dense.inputs = kDenseInputs;
  s.dense.outputs = kDenseOutputs;
  s.dense.row_begin = {0};
  const int64_t limit = (int64_t{1} << 19) - 1;
  for (size_t o = 0; o < kDenseOutputs; ++o) {
    for (size_t j = 0; j < kDenseInputs; ++j) {
      const int64_t weight =
          static_cast<int64_t>(sample_uniform_below(s.prng, 2 * limit + 1)) - limit;
      if (weight != 0) s.dense.terms.push_back({static_cast<uint32_t>(j), weight});
    }
    s.dense.row_begin.push_back(s.dense.terms.size());
    s.dense.bias.push_back(0);
  }
  return s;
}

using Operation = void (*)(Setup&);

const std::array<std::pair<const char*, Operation>, 11> kOperations = {{
    {"ntt_forward_one_prime", nullptr},  // ntt_forward below
    {"encrypt",
     [](Setup& s) { benchmark::DoNotOptimize(s.encryptor->encrypt(s.message, s.prng)); }},
    {"decrypt", [](Setup& s) { benchmark::DoNotOptimize(s.decryptor->decrypt(s.a)); }},
    {"multiply_without_relinearization",
     [](Setup& s) {
       benchmark::DoNotOptimize(s.evaluator->multiply_without_relinearization(s.a, s.b));
     }},
    {"relinearize",
     [](Setup& s) {
       Ciphertext c = s.product;
       s.evaluator->relinearize_inplace(c);
       benchmark::DoNotOptimize(c);
     }},
    {"square_relinearize", [](Setup& s) { benchmark::DoNotOptimize(s.evaluator->square(s.a)); }},
    {"gaussian_samples_8192",
     [](Setup& s) { benchmark::DoNotOptimize(DiscreteGaussian(3.2).sample_vector(s.prng, kN)); }},
    {"prng_fill_64KiB",
     [](Setup& s) {
       std::vector<uint8_t> bytes(64 * 1024);
       s.prng.fill(bytes);
       benchmark::DoNotOptimize(bytes.data());
     }},
    {"polynomial_product_evaluation_form",
     [](Setup& s) {
       RnsPoly x = s.a.parts[0];
       x.to_evaluation();
       RnsPoly y = x;
       x *= y;
       benchmark::DoNotOptimize(x.data().data());
     }},
    {"layer_dense_100x10_fused",
     [](Setup& s) {
       benchmark::DoNotOptimize(
           fused_linear_combinations(*s.evaluator, s.dense, s.dense_inputs, 1));
     }},
    {"layer_square_4_ciphertexts",
     [](Setup& s) {
       EncryptedArithmetic arithmetic(*s.evaluator, 1);
       std::vector<Ciphertext> values(s.dense_inputs.begin(), s.dense_inputs.begin() + kSquares);
       arithmetic.square_all(values);
       arithmetic.relinearize_all(values);
       benchmark::DoNotOptimize(values);
     }},
}};

void run(benchmark::State& state, Operation operation, SimdPath path, int primes, int bits) {
  Setup& s = setup(primes, bits);
  const ScopedSimdPath forced(path);
  for (auto _ : state)
    operation(s);
  state.SetLabel(std::string("kernel ") + to_string(s.context->ring()->ntt(0).kernel(path)));
}

void ntt_forward(benchmark::State& state, SimdPath path, int primes, int bits) {
  Setup& s = setup(primes, bits);
  const NttTables& tables = s.context->ring()->ntt(0);
  std::vector<uint64_t> row(s.a.parts[0].residues(0), s.a.parts[0].residues(0) + kN);
  for (auto _ : state) {
    tables.forward(row.data(), path);  // [0, q) to [0, q): stays a valid input
    benchmark::DoNotOptimize(row.data());
  }
  state.SetLabel(std::string("kernel ") + to_string(tables.kernel(path)));
}

const bool kRegistered = [] {
  const std::pair<int, int> parameter_sets[] = {{7, 55}, {8, 50}};
  for (size_t o = 0; o < kOperations.size(); ++o) {
    for (const auto& [primes, bits] : parameter_sets) {
      for (SimdPath path :
           {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
        if (!simd_path_supported(path)) continue;
        const std::string name = std::string("SIMD/") + kOperations[o].first +
                                 "/primes:" + std::to_string(primes) + "x" + std::to_string(bits) +
                                 "/path:" + to_string(path);
        benchmark::internal::Benchmark* b =
            o == 0 ? benchmark::RegisterBenchmark(name.c_str(), ntt_forward, path, primes, bits)
                   : benchmark::RegisterBenchmark(name.c_str(), run, kOperations[o].second, path,
                                                  primes, bits);
        b->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}();

}  // namespace
