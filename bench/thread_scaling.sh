#!/usr/bin/env bash
# Thread scaling of the shipped network, layer by layer (issue 16: "2 threads at least 1.9x faster
# than 1 on every layer"; layers 1-5 <= 3.5 s on 1 thread and <= 1.9 s on 2). Runs
# cryptonets-simd-network (one full batch, default preset, the widest SIMD path) with 1 and 2
# threads, alternating, RUNS times each, for two kinds of batch:
#   warm: a second batch in the same process (what a server's later batches and the main job's
#         second batch see: the memory of the first is reused);
#   cold: the first batch of a fresh process, whose first-touch page faults are included (on a
#         virtual machine each can cost several microseconds).
# Writes bench/results/threads.md: the median wall time per stage for each thread count, the
# ratio, and every run's numbers. Wall time is what scaling is about, so the machine must be
# otherwise idle: the load average is recorded before and after, and the report says so when it
# was above 0.5 per core before. On a shared virtual machine the host's other tenants still move
# single runs by 10-30 %: compare the runs in the second table before trusting a median.
#
#   bash bench/thread_scaling.sh [build-dir] [runs]      (defaults: build, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-3}
exe=$build/bench/cryptonets-simd-network
[ -x "$exe" ] || { echo "no $exe: build first (meson compile -C $build)" >&2; exit 1; }
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ceiling=$build/bench/cryptonets-thread-ceiling
[ -x "$ceiling" ] && "$ceiling" 5 >"$raw/ceiling.md"
for run in $(seq 1 "$runs"); do
  for batch in warm cold; do
    for threads in 1 2; do
      OMP_NUM_THREADS=$threads "$exe" 8192 default "$threads" widest "$batch" \
        >"$raw/$batch-t$threads-$run.md"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$raw" "$runs" "$load_before" "$load_after" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "$(grep -m1 -E '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')" \
  "$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512ifma)$' | tr '\n' ' ')" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >bench/results/threads.md <<'PY'
import statistics, sys
raw, runs, load_before, load_after, cores, cpu, family, flags, commit = sys.argv[1:]
runs = int(runs)

def table(path):
    """stage -> (wall s, CPU s, page faults) from the program's markdown table."""
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 3 and cells[0] not in ('stage', '') and not cells[0].startswith('---'):
            rows[cells[0]] = (float(cells[1]), float(cells[2]), int(cells[3]))
    return rows

header = open(f"{raw}/warm-t1-1.md").read().splitlines()
parameters = next((l for l in header if l.startswith('parameters:')), '')
# The load after includes this script's own 2-thread runs, so only the load before tells whether
# something else was running.
busy = float(load_before.split()[0]) > 0.5 * int(cores)
print("# Thread scaling of the shipped network, layer by layer")
print()
print(f"Machine: {cpu} (CPU family {family}), {cores} cores; CPU flags used: {flags.strip()}; "
      f"commit {commit}.")
print(f"Command: `bash bench/thread_scaling.sh` ({runs} runs per thread count and batch kind, 1 and "
      "2 threads alternating), `cryptonets-simd-network 8192 default T widest warm|cold`: one full "
      "batch of 8192 MNIST test images, the widest SIMD path this CPU has.")
print(f"{parameters}")
print(f"Load average (1/5/15 min) before: {load_before}; after (including these runs): "
      f"{load_after}."
      + (" **The machine was busy: wall-clock ratios below are not reliable.**" if busy else ""))
print()
import os
if os.path.exists(f"{raw}/ceiling.md"):
    print("What 2 threads can gain at all on this machine, measured just before (bench/"
          "thread_ceiling.cpp: the same loop on 1 thread, then on 2 at once; median of 5). "
          "No layer can scale better than the loop it resembles:")
    print()
    print(open(f"{raw}/ceiling.md").read().rstrip())
    print()
print("- **warm**: a second batch in the same process (an untimed batch first), as a server's "
      "later batches and the main job's second batch run: memory is reused.")
print("- **cold**: the first batch of a fresh process; the first touch of each page (about 1.2 GB "
      "at the peak) is a page fault, which on a virtual machine can cost several microseconds.")
for batch in ("warm", "cold"):
    by_threads = {t: [table(f"{raw}/{batch}-t{t}-{r}.md") for r in range(1, runs + 1)]
                  for t in (1, 2)}
    stages = list(by_threads[1][0].keys())
    print()
    print(f"## {batch.capitalize()} batch")
    print()
    print("Median wall-clock seconds per stage (each plaintext modulus is its own row: t1, t2):")
    print()
    print("| stage | 1 thread | 2 threads | 1 / 2 | page faults, 1 / 2 threads (median) |")
    print("|---|---|---|---|---|")
    for stage in stages:
        one = statistics.median(r[stage][0] for r in by_threads[1])
        two = statistics.median(r[stage][0] for r in by_threads[2])
        ratio = f"{one / two:.2f}" if two > 0 else "-"
        faults = " / ".join(f"{statistics.median(r[stage][2] for r in by_threads[t]):.0f}"
                            for t in (1, 2))
        print(f"| {stage} | {one:.3f} | {two:.3f} | {ratio} | {faults} |")
    print()
    print("Every run (wall s / CPU s / page faults of the process):")
    print()
    print("| stage | " + " | ".join(f"{t} thr run {r}" for t in (1, 2)
                                    for r in range(1, runs + 1)) + " |")
    print("|---|" + "---|" * (2 * runs))
    for stage in stages:
        cells = [f"{r[stage][0]:.3f} / {r[stage][1]:.3f} / {r[stage][2]}" for t in (1, 2)
                 for r in by_threads[t]]
        print(f"| {stage} | " + " | ".join(cells) + " |")
PY
echo "wrote bench/results/threads.md"
