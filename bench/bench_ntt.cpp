// Forward and inverse negacyclic NTT, one 60-bit or 50-bit prime (the IFMA kernels need
// q < 2^50), for each code path this CPU has. Names: NTT/forward/path:scalar/n:8192/bits:60.
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

enum class Direction { forward, inverse };

void run_ntt(benchmark::State& state, Direction direction, SimdPath path, size_t n, int bits) {
  const Modulus q(generate_ntt_primes(bits, 1, 2 * n)[0]);
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
  const std::pair<Direction, const char*> directions[] = {{Direction::forward, "forward"},
                                                          {Direction::inverse, "inverse"}};
  for (const auto& [direction, direction_name] : directions) {
    for (SimdPath path :
         {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::avx512ifma}) {
      if (!simd_path_supported(path)) continue;
      for (size_t n = 4096; n <= 32768; n *= 2) {
        for (int bits : {50, 60}) {
          if (path == SimdPath::avx512ifma && bits > 50) continue;  // runs the avx512 kernel
          const std::string name = std::string("NTT/") + direction_name +
                                   "/path:" + to_string(path) + "/n:" + std::to_string(n) +
                                   "/bits:" + std::to_string(bits);
          // The minimum over repetitions is reported next to the median: on a shared machine it is
          // the better estimate of what the code itself costs.
          benchmark::RegisterBenchmark(name.c_str(), run_ntt, direction, path, n, bits)
              ->Unit(benchmark::kMicrosecond)
              ->ComputeStatistics("min", [](const std::vector<double>& v) {
                return *std::min_element(v.begin(), v.end());
              });
        }
      }
    }
  }
  return true;
}();

}  // namespace
