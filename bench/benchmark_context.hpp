// What every micro-benchmark's report says about the machine beyond Google Benchmark's own lines
// (CPU count and MHz, caches, load): the CPU flags the kernels choose their path by
// (tool_support.hpp's kernel_cpu_flags, which the measurement tools print too), the SIMD path
// a benchmark runs on unless its name forces one (path:X; CRYPTONETS_SIMD or the widest supported)
// and OpenMP's thread limit, in the console header and in the JSON output's "context" object.
#pragma once

#include <benchmark/benchmark.h>
#include <omp.h>

#include <string>

#include "cryptonets/arith/simd.hpp"
#include "tool_support.hpp"

namespace cryptonets::bench {

inline void add_machine_context() {
  benchmark::AddCustomContext("cpu_flags", kernel_cpu_flags());
  benchmark::AddCustomContext("default_simd_path", to_string(simd_path()));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
}

// Google Benchmark's main with that context; an unknown flag is a usage error (exit 2).
inline int benchmark_main(int argc, char** argv) {
  add_machine_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace cryptonets::bench
