// BFV operation timings at the sizes the network uses (the HE standard's 128-bit bound for ternary
// secrets). Names: BFV/<operation>/n:<n>. Compare with bench_yashe in the same run.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/bfv/encryptor.hpp"
#include "cryptonets/bfv/evaluator.hpp"
#include "cryptonets/bfv/key_generator.hpp"
#include "cryptonets/random/samplers.hpp"

using namespace cryptonets;
using namespace cryptonets::bfv;

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
  Ciphertext product;  // a·b before relinearisation
};

// n = 8192: primes of 55, 55, 54, 54 bits (log2 q < 218); n = 16384: six of 55 and two of 54 bits
// (< 438); t a 39-bit prime, as for the network's two plaintext moduli.
Setup& setup(size_t n) {
  static std::map<size_t, std::unique_ptr<Setup>> cache;
  auto& entry = cache[n];
  if (!entry) {
    entry = std::make_unique<Setup>();
    Setup& s = *entry;
    Parameters params;
    params.n = n;
    params.q_primes = generate_ntt_primes(55, n == 8192 ? 2 : 6, 2 * n);
    for (uint64_t q : generate_ntt_primes(54, 2, 2 * n))
      params.q_primes.push_back(q);
    params.t = generate_ntt_primes(39, 1, 2 * n)[0];
    s.context = Context::create(params);
    s.keys = generate_keys(s.context, s.prng);
    s.encryptor = std::make_unique<Encryptor>(s.context, s.keys.public_key);
    s.decryptor = std::make_unique<Decryptor>(s.context, s.keys.secret_key);
    s.evaluator = std::make_unique<Evaluator>(s.context, s.keys.relinearization_key);
    for (size_t j = 0; j < n; ++j)
      s.message.coeffs.push_back(sample_uniform_below(s.prng, s.context->parameters().t));
    s.a = s.encryptor->encrypt(s.message, s.prng);
    s.b = s.encryptor->encrypt(s.message, s.prng);
    s.product = s.evaluator->multiply_without_relinearization(s.a, s.b);
  }
  return *entry;
}

void label(benchmark::State& state, const Setup& s) {
  state.SetLabel("log2 q = " + std::to_string(static_cast<int>(s.context->parameters().log2_q())));
}

// Registers BFV/<name> at n = 8192 and n = 16384.
template <typename Run>
void register_at_paper_sizes(const std::string& name, benchmark::TimeUnit unit, Run run) {
  benchmark::RegisterBenchmark(("BFV/" + name).c_str(), run)
      ->ArgName("n")
      ->Arg(8192)
      ->Arg(16384)
      ->Unit(unit);
}

// Times `operation(setup)`, whose result is kept.
template <typename Operation>
void add_operation(const std::string& name, benchmark::TimeUnit unit, Operation operation) {
  register_at_paper_sizes(name, unit, [operation](benchmark::State& state) {
    Setup& s = setup(static_cast<size_t>(state.range(0)));
    for (auto _ : state)
      benchmark::DoNotOptimize(operation(s));
    label(state, s);
  });
}

// Times an in-place operation applied again and again to one ciphertext that starts as a.
template <typename Operation>
void add_in_place_operation(const std::string& name, benchmark::TimeUnit unit,
                            Operation operation) {
  register_at_paper_sizes(name, unit, [operation](benchmark::State& state) {
    Setup& s = setup(static_cast<size_t>(state.range(0)));
    Ciphertext c = s.a;
    for (auto _ : state)
      operation(s, c);
    label(state, s);
  });
}

// In the order they run.
[[maybe_unused]] const bool kRegistered = [] {
  using benchmark::kMicrosecond;
  using benchmark::kMillisecond;
  add_operation("keygen", kMillisecond, [](Setup& s) { return generate_keys(s.context, s.prng); });
  add_operation("encrypt", kMillisecond,
                [](Setup& s) { return s.encryptor->encrypt(s.message, s.prng); });
  add_operation("decrypt", kMillisecond, [](Setup& s) { return s.decryptor->decrypt(s.a); });
  add_in_place_operation("add", kMicrosecond,
                         [](Setup& s, Ciphertext& c) { s.evaluator->add_inplace(c, s.b); });
  add_in_place_operation("multiply_scalar", kMicrosecond, [](Setup& s, Ciphertext& c) {
    s.evaluator->multiply_scalar_inplace(c, -3);
  });
  add_operation("multiply_without_relinearization", kMillisecond,
                [](Setup& s) { return s.evaluator->multiply_without_relinearization(s.a, s.b); });
  // The copy of the unrelinearised product is part of each iteration.
  add_operation("relinearize", kMillisecond, [](Setup& s) {
    Ciphertext c = s.product;
    s.evaluator->relinearize_inplace(c);
    return c;
  });
  add_operation("multiply_relinearize", kMillisecond,
                [](Setup& s) { return s.evaluator->multiply(s.a, s.b); });
  add_operation("square_relinearize", kMillisecond,
                [](Setup& s) { return s.evaluator->square(s.a); });
  return true;
}();

}  // namespace
