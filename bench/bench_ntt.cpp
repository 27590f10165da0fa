// Forward and inverse negacyclic NTT, one 60-bit prime, for each code path this CPU has.
// Names: NTT/forward/path:scalar/n:8192/bits:60.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cryptonets/arith/primes.hpp"
#include "cryptonets/ring/ntt.hpp"

using namespace cryptonets;

namespace {

constexpr int kPrimeBits = 60;

enum class Direction { forward, inverse };

void run_ntt(benchmark::State& state, Direction direction, NttPath path, size_t n) {
  const Modulus q(generate_ntt_primes(kPrimeBits, 1, 2 * n)[0]);
  const NttTables tables(n, q);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> residue(0, q.value() - 1);
  std::vector<uint64_t> a(n);
  for (auto& x : a)
    x = residue(rng);
  // Both transforms map [0, q) to [0, q), so repeating them in place keeps valid inputs.
  for (auto _ : state) {
    if (direction == Direction::forward) {
      tables.forward(a.data(), path);
    } else {
      tables.inverse(a.data(), path);
    }
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

const bool kRegistered = [] {
  const std::pair<NttPath, const char*> paths[] = {{NttPath::scalar, "scalar"},
                                                   {NttPath::avx2, "avx2"}};
  const std::pair<Direction, const char*> directions[] = {{Direction::forward, "forward"},
                                                          {Direction::inverse, "inverse"}};
  for (const auto& [direction, direction_name] : directions) {
    for (const auto& [path, path_name] : paths) {
      if (!ntt_path_available(path)) continue;
      for (size_t n = 4096; n <= 32768; n *= 2) {
        const std::string name = std::string("NTT/") + direction_name + "/path:" + path_name +
                                 "/n:" + std::to_string(n) + "/bits:" + std::to_string(kPrimeBits);
        // The minimum over repetitions is reported next to the median: on a shared machine it is
        // the better estimate of what the code itself costs.
        benchmark::RegisterBenchmark(name.c_str(), run_ntt, direction, path, n)
            ->Unit(benchmark::kMicrosecond)
            ->ComputeStatistics("min", [](const std::vector<double>& v) {
              return *std::min_element(v.begin(), v.end());
            });
      }
    }
  }
  return true;
}();

}  // namespace
