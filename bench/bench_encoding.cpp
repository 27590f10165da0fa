// Encoding timings: batch encode/decode (one NTT mod t) and CRT recombination of a full batch.
// Names: Encoding/<operation>/n:<n>.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>

#include "cryptonets/encoding/batch_encoder.hpp"
#include "cryptonets/encoding/plaintext_crt.hpp"
#include "cryptonets/random/samplers.hpp"

using namespace cryptonets;
using namespace cryptonets::encoding;

namespace {

// n = 8192: 7 primes of 55 bits for q; n = 16384: 8 primes (the tests' parameter sets).
std::shared_ptr<const yashe::Context> context(size_t n) {
  static std::map<size_t, std::shared_ptr<const yashe::Context>> cache;
  auto& entry = cache[n];
  if (!entry) {
    const size_t primes = n == 8192 ? 7 : 8;
    entry = yashe::Context::create(
        yashe::Parameters::create(n, primes, 55, select_plaintext_moduli(n, 40, 1).front()));
  }
  return entry;
}

std::vector<int64_t> random_slots(size_t n, uint64_t t) {
  Prng prng = Prng::insecure_seeded(1);
  std::vector<int64_t> values(n);
  for (int64_t& v : values) {
    v = static_cast<int64_t>(sample_uniform_below(prng, t)) - static_cast<int64_t>(t / 2);
  }
  return values;
}

void encode(benchmark::State& state) {
  const BatchEncoder encoder(context(state.range(0)));
  const std::vector<int64_t> values = random_slots(encoder.slot_count(), encoder.plain_modulus());
  for (auto _ : state)
    benchmark::DoNotOptimize(encoder.encode(values));
}

void decode(benchmark::State& state) {
  const BatchEncoder encoder(context(state.range(0)));
  const yashe::Plaintext plain =
      encoder.encode(random_slots(encoder.slot_count(), encoder.plain_modulus()));
  for (auto _ : state)
    benchmark::DoNotOptimize(encoder.decode(plain));
}

void encode_scalar(benchmark::State& state) {
  const BatchEncoder encoder(context(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(encoder.encode_scalar(-117));
}

// k = 2 moduli of 40 bits (T ≈ 2^80, the 128-bit Garner path), one value per slot.
void crt_recombine(benchmark::State& state) {
  const size_t n = state.range(0);
  const PlaintextCrt crt(select_plaintext_moduli(n, 40, 2));
  const mpz_class bound = (crt.product() - 1) / 2;
  Prng prng = Prng::insecure_seeded(2);
  std::vector<std::vector<uint64_t>> residues(crt.size(), std::vector<uint64_t>(n));
  for (size_t i = 0; i < crt.size(); ++i) {
    for (uint64_t& r : residues[i])
      r = sample_uniform_below(prng, crt.moduli()[i]);
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(crt.recombine_batch(residues, bound));
}

// The same values recombined one by one through GMP, for comparison with the word path.
void crt_recombine_gmp(benchmark::State& state) {
  const size_t n = state.range(0);
  const PlaintextCrt crt(select_plaintext_moduli(n, 40, 2));
  Prng prng = Prng::insecure_seeded(2);
  std::vector<std::vector<uint64_t>> residues(n, std::vector<uint64_t>(crt.size()));
  for (auto& slot : residues) {
    for (size_t i = 0; i < crt.size(); ++i)
      slot[i] = sample_uniform_below(prng, crt.moduli()[i]);
  }
  for (auto _ : state) {
    for (const auto& slot : residues)
      benchmark::DoNotOptimize(crt.recombine(slot));
  }
}

}  // namespace

BENCHMARK(encode)
    ->Name("Encoding/encode")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(decode)
    ->Name("Encoding/decode")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(encode_scalar)
    ->Name("Encoding/encode_scalar")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(crt_recombine)
    ->Name("Encoding/crt_recombine/k:2")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(crt_recombine_gmp)
    ->Name("Encoding/crt_recombine_gmp/k:2")
    ->ArgName("n")
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMicrosecond);
