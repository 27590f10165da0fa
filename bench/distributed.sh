#!/usr/bin/env bash
# Distributed infer (issue 20) on this machine: one full batch of the shipped model at the default
# preset (YASHE', n = 8192, two plaintext moduli), in one process and under mpirun with 1, 2 and 4
# ranks of one thread each (auto split), with --split outputs on 2 and 4 ranks (the other split
# of the dense layers), and with --groups 2 on 2 and 4 ranks (whole units per group). Every run's
# scores must decrypt to the single-process run's: a run that does not fails the script (exit 1),
# its log shown and not written.
# Writes the runs' reports to bench/results/distributed.log; bench/results/distributed.md discusses
# them.
#
#   bash bench/distributed.sh [build-dir] [images]      (defaults: build, 8192 = one full batch)
# GROUPS_ONLY=1: the reference and the --groups runs only, written to
# bench/results/distributed-groups.log. A failed or interrupted run leaves bench/results as it was
# (bench/common.sh).
set -euo pipefail
bench_caller=$PWD  # paths given relative to it are the caller's (bench_from_caller)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
bench_usage="bash bench/distributed.sh [build-dir] [images 1-8192]"
bench_help "$@"
[ $# -le 2 ] || bench_usage_error "at most 2 arguments, got $#"
images=${2:-8192}
bench_count images "$images" 1 8192
build=$(bench_from_caller "${1:-}" build)
bench_program "$build/cryptonets" "$build"
build=$(realpath "$build")
command -v mpirun >/dev/null || { echo "$bench_name: mpirun not found (install Open MPI)" >&2; exit 1; }
published=bench/results/distributed.log
[ "${GROUPS_ONLY:-0}" = 1 ] && published=bench/results/distributed-groups.log
bench_work_dir
work=$bench_work
log=$work/report.log
launcher=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
export OMP_WAIT_POLICY=passive
exe=$build/cryptonets

{
  echo "# bash bench/distributed.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "# flags: $(grep -m1 flags /proc/cpuinfo | grep -o 'avx2\|avx512f\|avx512ifma' | sort -u | tr '\n' ' ')"
  echo "# $(mpirun --version | head -1); images: $images"
  echo "# WORK: the run's temporary directory (removed at its end)"
} >"$log"
"$exe" keygen --out-dir "$work/client" --profile data/model.profile >/dev/null
mkdir "$work/server"
cp "$work/client/params" "$work/client/evaluation.key" "$work/client/public.key" "$work/server/"
"$exe" encrypt --keys "$work/client" --images data/mnist/t10k-images-idx3-ubyte.gz \
  --count "$images" --out "$work/images.ct" --threads 2 >/dev/null

work_named() {  # stdin to stdout, each "$work/" as "WORK/" (no pattern: the path taken as it is)
  WORK_PREFIX="$work/" awk '{
    out = ""
    while ((i = index($0, ENVIRON["WORK_PREFIX"])) > 0) {
      out = out substr($0, 1, i - 1) "WORK/"
      $0 = substr($0, i + length(ENVIRON["WORK_PREFIX"]))
    }
    print out $0
  }'
}

run() {  # NAME COMMAND...
  local name=$1
  shift
  echo "## $name (load average before: $(cut -d' ' -f1-3 /proc/loadavg))" >>"$log"
  local start=$EPOCHREALTIME
  # The temporary directory named as WORK: its path (/tmp/tmp.XXXXXX) is the run's alone, and the
  # committed log carried it (a review).
  "$@" --keys "$work/server" --in "$work/images.ct" --out "$work/$name.ct" 2>&1 |
    grep -v "^WARNING\|^\[" | work_named >>"$log" || true
  echo "wall: $(echo "$EPOCHREALTIME - $start" | bc) s" >>"$log"
  "$exe" decrypt --keys "$work/client" --in "$work/$name.ct" --scores "$work/$name.csv" >/dev/null
  if [ "$name" != single-1-thread ]; then
    cmp -s "$work/single-1-thread.csv" "$work/$name.csv" || echo "SCORES DIFFER: $name" >>"$log"
  fi
}

run single-1-thread "$exe" infer --threads 1
if [ "${GROUPS_ONLY:-0}" != 1 ]; then  # GROUPS_ONLY=1: the reference and the --groups runs only
  run single-2-threads "$exe" infer --threads 2
  for ranks in 1 2 4; do
    run "mpi-$ranks-ranks" "${launcher[@]}" -n "$ranks" "$exe" infer --threads 1
  done
  for ranks in 2 4; do
    run "mpi-$ranks-ranks-split-outputs" "${launcher[@]}" -n "$ranks" "$exe" infer --threads 1 \
      --split outputs
  done
fi
for ranks in 2 4; do
  run "mpi-$ranks-ranks-2-groups" "${launcher[@]}" -n "$ranks" "$exe" infer --threads 1 --groups 2
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$log"
if grep -q "^SCORES DIFFER" "$log"; then  # a failed run: shown, not published
  cat "$log"
  differ=$(grep -c "^SCORES DIFFER" "$log")
  [ "$differ" -eq 1 ] && differ="1 run" || differ="$differ runs"
  echo "$bench_name: $differ decrypted to other scores than the single-process run; $published left as it was" >&2
  exit 1
fi
bench_publish "$log" "$published"
cat "$published"
