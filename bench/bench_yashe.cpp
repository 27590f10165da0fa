// YASHE' operation timings at the paper's sizes. Names: YASHE/<operation>/n:<n>/logq:<bits>.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/random/samplers.hpp"
#include "cryptonets/yashe/encryptor.hpp"
#include "cryptonets/yashe/evaluator.hpp"
#include "cryptonets/yashe/key_generator.hpp"

using namespace cryptonets;
using namespace cryptonets::yashe;

namespace {

struct Setup {
  std::shared_ptr<const Context> context;
  Prng prng = Prng::insecure_seeded(1);
  KeySet keys;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> evaluator;
  Plaintext message;
  Ciphertext a, b;
};

// n = 8192: 7 primes of 55 bits (≈ 385 bits); n = 16384: 8 primes of 55 bits (≈ 440 bits).
Setup& setup(size_t n) {
  static std::map<size_t, std::unique_ptr<Setup>> cache;
  auto& entry = cache[n];
  if (!entry) {
    entry = std::make_unique<Setup>();
    Setup& s = *entry;
    const size_t primes = n == 8192 ? 7 : 8;
    s.context =
        Context::create(Parameters::create(n, primes, 55, generate_ntt_primes(40, 1, 2 * n)[0]));
    s.keys = generate_keys(s.context, s.prng);
    s.encryptor = std::make_unique<Encryptor>(s.context, s.keys.public_key);
    s.decryptor = std::make_unique<Decryptor>(s.context, s.keys.secret_key);
    s.evaluator = std::make_unique<Evaluator>(s.context, s.keys.evaluation_key);
    for (size_t j = 0; j < n; ++j)
      s.message.coeffs.push_back(sample_uniform_below(s.prng, s.context->parameters().t));
    s.a = s.encryptor->encrypt(s.message, s.prng);
    s.b = s.encryptor->encrypt(s.message, s.prng);
  }
  return *entry;
}

void label(benchmark::State& state, const Setup& s) {
  state.SetLabel("log2 q = " + std::to_string(static_cast<int>(s.context->parameters().log2_q())));
}

void keygen(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(generate_keys(s.context, s.prng));
  label(state, s);
}
void encrypt(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(s.encryptor->encrypt(s.message, s.prng));
  label(state, s);
}
void decrypt(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(s.decryptor->decrypt(s.a));
  label(state, s);
}
void add(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  Ciphertext c = s.a;
  for (auto _ : state)
    s.evaluator->add_inplace(c, s.b);
  label(state, s);
}
void multiply_scalar(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  Ciphertext c = s.a;
  for (auto _ : state)
    s.evaluator->multiply_scalar_inplace(c, -3);
  label(state, s);
}
void multiply_relinearize(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(s.evaluator->multiply(s.a, s.b));
  label(state, s);
}
void square_relinearize(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(s.evaluator->square(s.a));
  label(state, s);
}
void multiply_only(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(s.evaluator->multiply_without_relinearization(s.a, s.b));
  label(state, s);
}
void relinearize_only(benchmark::State& state) {
  Setup& s = setup(state.range(0));
  const Ciphertext product = s.evaluator->multiply_without_relinearization(s.a, s.b);
  for (auto _ : state) {
    Ciphertext c = product;
    s.evaluator->relinearize_inplace(c);
    benchmark::DoNotOptimize(c);
  }
  label(state, s);
}

}  // namespace

BENCHMARK(keygen)
    ->Name("YASHE/keygen")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(encrypt)
    ->Name("YASHE/encrypt")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(decrypt)
    ->Name("YASHE/decrypt")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(add)
    ->Name("YASHE/add")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(multiply_scalar)
    ->Name("YASHE/multiply_scalar")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(multiply_only)
    ->Name("YASHE/multiply_without_relinearization")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(relinearize_only)
    ->Name("YASHE/relinearize")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(multiply_relinearize)
    ->Name("YASHE/multiply_relinearize")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(square_relinearize)
    ->Name("YASHE/square_relinearize")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond);
