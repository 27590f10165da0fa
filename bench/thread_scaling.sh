#!/usr/bin/env bash
# Thread scaling of the shipped network, layer by layer (issue 16: "2 threads at least 1.9x faster
# than 1 on every layer"; layers 1-5 <= 3.5 s on 1 thread and <= 1.9 s on 2). Runs
# cryptonets-simd-network (one full batch, default preset, the widest SIMD path) RUNS times each,
# alternating, in three configurations:
#   1 thread;
#   2 threads, the plaintext moduli one after another, each on both threads (infer's default);
#   2 threads, moduli at once: each plaintext modulus's network on a thread of its own, in step
#         layer by layer (InferenceOptions::moduli_at_once; CRYPTONETS_MODULI_AT_ONCE=1);
# for two kinds of batch:
#   warm: a second batch in the same process (what a server's later batches and the main job's
#         second batch see: the memory of the first is reused);
#   cold: the first batch of a fresh process, whose first-touch page faults are included (on a
#         virtual machine each can cost several microseconds).
# A layer's time is its wall time for all moduli (the rows "N. layer (all moduli)").
# The warm batch also runs on 1 thread pinned to each of the first two CPUs (taskset), alternating
# with the others: under a hypervisor one vCPU can be slower than the other for minutes (another
# tenant on its host core), and then no 2-thread run reaches 2x. From the two pinned times t_a and
# t_b of a layer, 1 / (1/t_a + 1/t_b) is the fastest a 2-thread run could be with the work split
# perfectly; the report gives each layer's 2-thread time against that bound.
# Writes bench/results/threads.md: the median wall time per stage for each configuration, the
# ratios, and every run's numbers. Wall time is what scaling is about, so the machine must be
# otherwise idle: the load average is recorded before and after, and the report says so when it
# was above 0.5 per core before. On a shared virtual machine the host's other tenants still move
# single runs by 10-30 %: compare the runs in the last table before trusting a median.
#
#   bash bench/thread_scaling.sh [build-dir] [runs]      (defaults: build, 3)
# A failed or interrupted run leaves bench/results as it was (bench/common.sh).
set -euo pipefail
bench_caller=$PWD  # paths given relative to it are the caller's (bench_from_caller)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
bench_usage="bash bench/thread_scaling.sh [build-dir] [runs 1-100]"
bench_help "$@"
[ $# -le 2 ] || bench_usage_error "at most 2 arguments, got $#"
build=$(bench_from_caller "${1:-}" build)
runs=${2:-3}
bench_count runs "$runs" 1 100
exe=$build/bench/cryptonets-simd-network
bench_program "$exe" "$build"
bench_work_dir
raw=$bench_work/raw
mkdir "$raw"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ceiling=$build/bench/cryptonets-thread-ceiling
[ -x "$ceiling" ] && "$ceiling" 5 >"$raw/ceiling.md"
cpus=($(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0))[:2])'))
# Configuration names: 1 (one thread), 2 (two, one modulus after another), 2a (two, moduli at once).
for run in $(seq 1 "$runs"); do
  for batch in warm cold; do
    for config in 1 2 2a; do
      threads=${config%a}
      at_once=0
      [ "$config" = 2a ] && at_once=1
      CRYPTONETS_MODULI_AT_ONCE=$at_once OMP_NUM_THREADS=$threads \
        "$exe" 8192 default "$threads" widest "$batch" >"$raw/$batch-t$config-$run.md"
    done
    if [ "$batch" = warm ] && [ ${#cpus[@]} = 2 ]; then
      for c in 0 1; do
        OMP_NUM_THREADS=1 taskset -c "${cpus[$c]}" \
          "$exe" 8192 default 1 widest warm >"$raw/warm-pin$c-$run.md"
      done
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$ceiling" ] && "$ceiling" 5 >"$raw/ceiling-after.md"

python3 - "$raw" "$runs" "$load_before" "$load_after" "$(nproc)" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "$(grep -m1 -E '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')" \
  "$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512ifma)$' | tr '\n' ' ')" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "${cpus[*]}" \
  >"$bench_work/threads.md" <<'PY'
import statistics, sys
raw, runs, load_before, load_after, cores, cpu, family, flags, commit, cpus = sys.argv[1:]
cpus = cpus.split()
runs = int(runs)

def number(cell):
    return None if cell == '-' else float(cell)

def table(path):
    """stage -> (wall s, CPU s or None, page faults or None) from the program's markdown table
    (a modulus's row has no CPU time or page faults of its own when the moduli ran at once)."""
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 3 and cells[0] not in ('stage', '') and not cells[0].startswith('---'):
            faults = number(cells[3])
            rows[cells[0]] = (float(cells[1]), number(cells[2]),
                              None if faults is None else int(faults))
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
print(f"Command: `bash bench/thread_scaling.sh` ({runs} runs per configuration and batch kind, the three "
      "configurations alternating), `cryptonets-simd-network 8192 default T widest warm|cold`: one full "
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
if os.path.exists(f"{raw}/ceiling-after.md"):
    print("The same, measured just after the runs:")
    print()
    print(open(f"{raw}/ceiling-after.md").read().rstrip())
    print()
print("- **warm**: a second batch in the same process (an untimed batch first), as a server's "
      "later batches and the main job's second batch run: memory is reused.")
print("- **cold**: the first batch of a fresh process; the first touch of each page (about 1.2 GB "
      "at the peak) is a page fault, which on a virtual machine can cost several microseconds.")
configs = ("1", "2", "2a")
names = {"1": "1 thread", "2": "2 threads, one modulus after another",
         "2a": "2 threads, moduli at once"}
print("- **one modulus after another** (infer's default): each plaintext modulus on both threads, "
      "every layer's work shared out ciphertext by ciphertext (or slice by slice).")
print("- **moduli at once** (`InferenceOptions::moduli_at_once`, `CRYPTONETS_MODULI_AT_ONCE=1`): "
      "each plaintext modulus's network on a thread of its own, the two in step layer by layer; "
      "a layer's time is then the slower modulus's.")

def median_cell(runs, stage, field):
    values = [r[stage][field] for r in runs if stage in r and r[stage][field] is not None]
    return statistics.median(values) if values else None

for batch in ("warm", "cold"):
    by_config = {c: [table(f"{raw}/{batch}-t{c}-{r}.md") for r in range(1, runs + 1)]
                 for c in configs}
    stages = [s for s in by_config["1"][0].keys() if not s[0].isdigit() or "all moduli" in s]
    own = [s for s in by_config["1"][0].keys() if s[0].isdigit() and "all moduli" not in s]
    print()
    print(f"## {batch.capitalize()} batch")
    print()
    print("Median wall-clock seconds per stage; a layer's row covers both plaintext moduli:")
    print()
    print("| stage | 1 thread | 2 threads, one after another | 1 / 2 | 2 threads, at once "
          "| 1 / 2 | page faults (median), 1 / 2 / 2 |")
    print("|---|---|---|---|---|---|---|")
    for stage in stages:
        one, two, seq = (median_cell(by_config[c], stage, 0) for c in configs)
        faults = " / ".join(f"{median_cell(by_config[c], stage, 2):.0f}" for c in configs)
        print(f"| {stage} | {one:.3f} | {two:.3f} | {one / two:.2f} | {seq:.3f} | "
              f"{one / seq:.2f} | {faults} |")
    pinned = [f"{raw}/warm-pin{c}-{r}.md" for c in (0, 1) for r in range(1, runs + 1)]
    if batch == "warm" and len(cpus) == 2 and all(os.path.exists(p) for p in pinned):
        on = [[table(f"{raw}/warm-pin{c}-{r}.md") for r in range(1, runs + 1)] for c in (0, 1)]
        print()
        print(f"1 thread pinned to CPU {cpus[0]} and to CPU {cpus[1]} (median wall s), the fastest "
              "a 2-thread run could be with the work split perfectly between two CPUs of those "
              "speeds (1 / (1/t_a + 1/t_b)), and the 2-thread time (one modulus after another) "
              "against that bound (1.00: our threads lose nothing beyond the CPUs' speeds):")
        print()
        print(f"| stage | CPU {cpus[0]} | CPU {cpus[1]} | CPU {cpus[1]} / CPU {cpus[0]} | "
              "bound for 2 threads | 2 threads | bound / 2 threads |")
        print("|---|---|---|---|---|---|---|")
        for stage in stages:
            a, b = (median_cell(on[c], stage, 0) for c in (0, 1))
            if a is None or b is None:
                continue
            bound = 1 / (1 / a + 1 / b)
            two = median_cell(by_config["2"], stage, 0)
            print(f"| {stage} | {a:.3f} | {b:.3f} | {b / a:.2f} | {bound:.3f} | {two:.3f} | "
                  f"{bound / two:.2f} |")
    print()
    print("Each modulus's own time per layer (median; at once, the two ran side by side, so the "
          "layer's time above is the larger of the two):")
    print()
    print("| layer, modulus | " + " | ".join(names[c] for c in configs) + " |")
    print("|---|---|---|---|")
    for stage in own:
        print(f"| {stage} | " + " | ".join(f"{median_cell(by_config[c], stage, 0):.3f}"
                                           for c in configs) + " |")
    print()
    print("Every run (wall s / CPU s / page faults of the process):")
    print()
    print("| stage | " + " | ".join(f"{names[c]}, run {r}" for c in configs
                                    for r in range(1, runs + 1)) + " |")
    print("|---|" + "---|" * (len(configs) * runs))
    for stage in stages:
        cells = [f"{r[stage][0]:.3f} / {r[stage][1]:.3f} / {r[stage][2]}" for c in configs
                 for r in by_config[c]]
        print(f"| {stage} | " + " | ".join(cells) + " |")
PY
bench_publish "$bench_work/threads.md" bench/results/threads.md
echo "wrote bench/results/threads.md"
