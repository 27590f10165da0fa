#!/usr/bin/env bash
# Per-layer times of the encrypted network for one full batch (issue: network runtime): YASHE' at
# n = 8192 (preset default) and n = 16384 (preset table-bound, called rlwe128 in results before
# 2026-11-30), and BFV at n = 8192 (log2 q = 218, the HE standard's 128-bit bound), with 1 and 2
# threads. Writes bench/results/network.md and bench/results/network.csv.
#
#   bash bench/network_layers.sh [build-dir] [images]     (defaults: build, 8192 = one full batch)
# A failed or interrupted run leaves bench/results as it was (bench/common.sh).
set -euo pipefail
bench_caller=$PWD  # paths given relative to it are the caller's (bench_from_caller)
cd "$(dirname "$0")/.."
# shellcheck source=bench/common.sh
source bench/common.sh
bench_usage="bash bench/network_layers.sh [build-dir] [images 1-8192]"
bench_help "$@"
[ $# -le 2 ] || bench_usage_error "at most 2 arguments, got $#"
build=$(bench_from_caller "${1:-}" build)
images=${2:-8192}
bench_count images "$images" 1 8192
bench_program "$build/cryptonets" "$build"
out=bench/results
mkdir -p "$out"
bench_work_dir
csv=$bench_work/network.csv
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for run in "yashe default" "yashe table-bound" "bfv"; do
  read -r scheme preset <<<"$run"
  # BFV has one parameter set: mnist refuses --preset with --scheme bfv (a usage error).
  preset_option=()
  [ "$scheme" = bfv ] || preset_option=(--preset "$preset")
  for threads in 1 2; do
    part=$bench_work/part.csv
    # --batch keeps one batch whatever the ring degree; --no-noise: the diagnostics take time.
    "$build/cryptonets" mnist --scheme "$scheme" "${preset_option[@]}" --threads "$threads" \
      --images "$images" --batch "$images" --no-noise --csv "$part" >/dev/null
    if [ -s "$csv" ]; then tail -n +2 "$part" >>"$csv"; else cat "$part" >"$csv"; fi
    rm -f "$part"
  done
done

{
  echo "# Encrypted network: time per layer for one batch"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;"
  echo "CPU flags used by the kernels: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
    grep -E '^(avx2|avx512f|avx512ifma|bmi2|adx)$' | tr '\n' ' ' | sed 's/ $//');"
  echo "date: $(date -u +%Y-%m-%d); images per batch: $images; command: \`bash bench/network_layers.sh $*\`."
  echo "Load average (1/5/15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "(other jobs share this machine: every time is an upper bound)."
  echo "Times are wall-clock seconds summed over the plaintext moduli (two CRT moduli of 39 bits);"
  echo "at n = 16384 the batch fills half of the slots, which costs the same as a full one."
  echo "Target (issue): at most 3 s per plaintext modulus for layers 1-5 at n = 8192 with 2 threads."
  echo
  echo "Parameters: the YASHE' preset, or bfv (BFV's one parameter set)."
  echo
  echo "| parameters | n | log2 q | threads | encrypt | 1. conv | 2. square | 3. dense | 4. square | 5. dense | layers 1-5 | per modulus | decrypt |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  # Columns: preset,n,log2_q,moduli,threads,images,batch,stage,layer,modulus,seconds,...
  awk -F, 'NR > 1 {
      key = $1 "," $2 "," $3 "," $5; keys[key] = 1; moduli[key] = $4
      name = ($9 == "") ? $8 : $9
      sum[key, name] += $11
    }
    END {
      for (key in keys) {
        split(key, k, ",")
        layers = 0
        for (l = 1; l <= 5; ++l) layers += sum[key, l]
        printf "| %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
          k[1], k[2], k[3], k[4], sum[key, "encode+encrypt"], sum[key, 1], sum[key, 2],
          sum[key, 3], sum[key, 4], sum[key, 5], layers, layers / moduli[key],
          sum[key, "decrypt+decode"]
      }
    }' "$csv" | sort -t'|' -k3,3n -k5,5n
} >"$bench_work/network.md"
bench_publish "$csv" "$out/network.csv"
bench_publish "$bench_work/network.md" "$out/network.md"
echo "wrote $out/network.md and $out/network.csv"
