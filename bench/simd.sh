#!/usr/bin/env bash
# The SIMD paths side by side (issue 16): NTT, scheme operations, the layer set and the shipped
# network, each path measured in the same process. Writes bench/results/simd-run.md (raw tables;
# bench/results/simd.md holds the summary and the reading of them).
#
#   bash bench/simd.sh [build-dir] [images]     (defaults: build, 8192 = one full batch)
# A failed or interrupted run leaves bench/results as it was (bench/common.sh).
set -euo pipefail
bench_caller=$PWD  # paths given relative to it are the caller's (bench_from_caller)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
bench_usage="bash bench/simd.sh [build-dir] [images 1-8192]"
bench_help "$@"
[ $# -le 2 ] || bench_usage_error "at most 2 arguments, got $#"
build=$(bench_from_caller "${1:-}" build)
images=${2:-8192}
bench_count images "$images" 1 8192
for program in bench_ring bench_simd cryptonets-simd-network; do
  bench_program "$build/bench/$program" "$build"
done
out=bench/results/simd-run.md
bench_work_dir
load() { cut -d' ' -f1-3 /proc/loadavg; }
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512[a-z_]*|bmi2|adx)$' | tr '\n' ' ')
{
  echo "# SIMD paths: raw measurements"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
    "CPU flags: $flags"
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown);" \
    "$(c++ --version | head -1); release build."
  echo "Times are CPU time unless marked wall (the machine is shared: wall time includes waiting)."
  echo
  echo "## NTT, one prime, 1 thread (bench_ring, min over 10 repetitions, µs)"
  echo
  echo "Load before: $(load)"
  echo
  echo '```'
  OMP_NUM_THREADS=1 "$build/bench/bench_ring" --benchmark_filter='NTT/.*/n:(8192|16384)/' \
    --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true 2>/dev/null | grep -E '_(min|median) '
  echo '```'
  echo
  echo "## Operations and the layer set, 1 thread (bench_simd, median of 3, µs)"
  echo
  echo "Load before: $(load)"
  echo
  echo '```'
  OMP_NUM_THREADS=1 "$build/bench/bench_simd" --benchmark_repetitions=3 \
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.2 2>/dev/null | grep -E '_median '
  echo '```'
  echo
  echo "## The shipped network, default preset, 1 thread, every path"
  echo
  echo "Load before: $(load)"
  echo
  OMP_NUM_THREADS=1 "$build/bench/cryptonets-simd-network" "$images" default 1
  echo
  echo "Load after: $(load)"
  echo
  echo "## 8 primes of 50 bits (IFMA range), widest path, 1 thread (compare with the default above)"
  echo
  OMP_NUM_THREADS=1 "$build/bench/cryptonets-simd-network" "$images" 8x50 1 widest
  echo
  echo "Load after: $(load)"
  echo
  echo "## 2 threads, default preset, widest path"
  echo
  OMP_NUM_THREADS=2 "$build/bench/cryptonets-simd-network" "$images" default 2 widest
  echo
  echo "Load after: $(load)"
} >"$bench_work/simd-run.md"
bench_publish "$bench_work/simd-run.md" "$out"
echo "wrote $out"
