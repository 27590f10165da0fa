// The main of bench_ring, bench_yashe, bench_bfv, bench_encoding and bench_simd (in place of
// libbenchmark_main): the machine's CPU flags and SIMD path in every report.
#include "benchmark_context.hpp"

int main(int argc, char** argv) {
  return cryptonets::bench::benchmark_main(argc, argv);
}
