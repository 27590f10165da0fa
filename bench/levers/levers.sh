#!/usr/bin/env bash
# Reruns the measurements of bench/results/levers.md (issue 16, "evaluate the other levers").
# The two programs are not part of the meson build (they exist for this one report); this script
# compiles them against a release build's static library and runs them on one batch each.
#
#   bash bench/levers/levers.sh [build-dir]     (default: build; needs cryptonets-quantise built)
set -euo pipefail
# A build directory given relative to the caller's directory is the caller's (it was looked for in
# the repository, where the script works).
case "${1:-}" in "" | /*) build=${1:-build} ;; *) build=$PWD/$1 ;; esac
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cxx() {
  c++ -std=c++20 -O2 -fopenmp -Iinclude -DCRYPTONETS_SOURCE_DATA_DIR="\"$PWD/data\"" "$1" \
    "$build/libcryptonets.a" -lntl -lgmpxx -lgmp -lz -lpthread -o "$2"
}
cxx bench/levers/levers_noise.cpp "$tmp/levers_noise"
cxx bench/levers/levers_network.cpp "$tmp/levers_network"
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The 62-bit model: the quantiser's grid restricted to I = 4 and at most 4 weight bits per
# layer picks I=4 w=4/4/4 (99.22 %, worst case 62 bits).
"$build/cryptonets-quantise" --input-scales 4 --max-bits 4 --threads 1 \
  --out "$tmp/model62.txt" --results "$tmp/quantisation62.md"

echo "## predicted budgets (keyless)"
"$tmp/levers_noise" data/model.txt
"$tmp/levers_noise" data/model.txt 62 1
"$tmp/levers_noise" "$tmp/model62.txt" 62 1
"$tmp/levers_noise" "$tmp/model62.txt" 31 2

run() { echo "=== $* (load $(load))"; OMP_NUM_THREADS=1 "$tmp/levers_network" "$@"; }
for noise in no yes; do
  if [ "$noise" = yes ]; then export LEVERS_NOISE=1; else unset LEVERS_NOISE; fi
  run data/model.txt 39 2 7x55
  run data/model.txt 39 2 7x50
  run "$tmp/model62.txt" 62 1 10x55
  run "$tmp/model62.txt" 31 2 6x55
done
echo "=== relinearisation (load $(load))"
OMP_NUM_THREADS=1 "$build/bench/bench_simd" \
  --benchmark_filter='SIMD/(relinearize|square_without_relinearization)/primes:7x55/path:avx512ifma' \
  --benchmark_repetitions=3 --benchmark_min_time=0.2 --benchmark_report_aggregates_only=true
