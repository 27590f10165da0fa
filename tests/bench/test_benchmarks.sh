#!/usr/bin/env bash
# The micro-benchmarks (bench_ring, bench_yashe, bench_bfv, bench_encoding, bench_simd,
# bench_linear): each report names the CPU flags, the default SIMD path and OpenMP's thread limit
# (Google Benchmark's header gave CPU count, MHz, caches and load only), and an unknown flag is a
# usage error (exit 2; it was 1); the measurement programs' --help exits 0, and run directly they
# name the CPU model and flags first. One decode of a batch is run, for the JSON context; no time is
# checked.
# Usage: test_benchmarks.sh BENCH_BUILD_DIR
set -euo pipefail
dir="$1"
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
for program in bench_ring bench_yashe bench_bfv bench_encoding bench_simd bench_linear; do
  status=0
  "$dir/$program" --no-such-flag >/dev/null 2>&1 || status=$?
  [ "$status" = 2 ] || fail "$program --no-such-flag exited $status, expected 2"
done
# The measurement programs: --help prints the usage and exits 0 (it was a usage error, exit 2).
for program in cryptonets-layer-scaling cryptonets-thread-ceiling cryptonets-simd-network; do
  status=0
  out=$("$dir/$program" --help 2>/dev/null) || status=$?
  [ "$status" = 0 ] || fail "$program --help exited $status, expected 0"
  [[ $out == "usage: $program "* ]] || fail "$program --help printed '$out'"
  status=0
  "$dir/$program" abc >/dev/null 2>&1 || status=$?
  [ "$status" = 2 ] || fail "$program abc exited $status, expected 2"
done
# Run directly, the measurement tools name the CPU model and its kernel flags first, flushed before
# any measurement (a review: layer-scaling and thread-ceiling named neither). Stopped after 3 s.
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|avx512ifma|bmi2|adx' |
  sort -u | awk 'BEGIN { split("avx2 avx512f avx512ifma bmi2 adx", o) } { h[$0] = 1 }
    END { s = ""; for (i = 1; i <= 5; i++) if (o[i] in h) s = s (s ? " " : "") o[i]; print s }')
model=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
allowed=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
machine=$work/machine
for program in cryptonets-thread-ceiling cryptonets-layer-scaling; do
  [ "$program" = cryptonets-layer-scaling ] && [ "$allowed" -lt 2 ] && continue  # it needs two
  timeout 3 "$dir/$program" 1 >"$machine" 2>/dev/null || true
  grep -qxF "Machine: ${model:-unknown CPU model}; $allowed CPUs allowed; CPU flags: ${flags:-none of avx2 avx512f avx512ifma bmi2 adx}" \
    "$machine" || fail "$program printed no machine line: $(head -c 300 "$machine")"
done
json=$(CRYPTONETS_SIMD=scalar "$dir/bench_encoding" --benchmark_filter='^Encoding/decode/n:8192$' \
  --benchmark_min_time=0.001 --benchmark_format=json 2>/dev/null) || fail "bench_encoding exited $?"
python3 - "$json" <<'PY' || fail "bench_encoding's JSON context"
import json, sys
context = json.loads(sys.argv[1])["context"]
flags = [line for line in open("/proc/cpuinfo") if line.startswith("flags")][0].split()
expected = " ".join(f for f in ("avx2", "avx512f", "avx512ifma", "bmi2", "adx") if f in flags)
assert context.get("cpu_flags") == (expected or "none of avx2 avx512f avx512ifma bmi2 adx"), context
assert context.get("default_simd_path") == "scalar", context
assert int(context.get("omp_max_threads", "0")) >= 1, context
PY
finish "micro-benchmarks: machine context and usage errors: ok"
