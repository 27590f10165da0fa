#!/usr/bin/env bash
# The service's throughput, latency and memory (issue 19): cryptonets serve with 1, 2 and 4
# concurrent `cryptonets client infer` runs on loopback, and its overhead over `cryptonets infer` on
# the same batch. Writes bench/results/service.md (or $OUT).
#
# usage: bench/service_bench.sh [BUILD_DIR [IMAGES [THREADS [RING_DEGREE]]]]
#   IMAGES: per batch (default 8192, one full batch at n = 8192); THREADS: inference threads of
#   both infer and serve (default 2); RING_DEGREE: "preset" (default parameters) or a test-only
#   keygen --insecure-ring-degree.
# Environment: SCHEME (yashe or bfv, keygen --scheme; default yashe), CLIENTS (the concurrent
# client counts to measure, default "1 2 4"), OUT (the report; default bench/results/service.md).
# Every client encrypts nothing itself: all use one key directory and one batch (each registers
# its own token), so that the measurement is the service's, not the client's encryption.
# Every argument is checked before any work (a usage error exits 2); the report replaces $OUT only
# when the whole run succeeded (bench/common.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_usage="bash bench/service_bench.sh [BUILD_DIR [IMAGES 1-16384 [THREADS 1-1024 [RING_DEGREE]]]]"
bench_help "$@"
[ $# -le 4 ] || bench_usage_error "at most 4 arguments, got $#"
images=${2:-8192}
threads=${3:-2}
ring=${4:-preset}
scheme=${SCHEME:-yashe}
client_counts=${CLIENTS:-1 2 4}
bench_count IMAGES "$images" 1 16384
bench_count THREADS "$threads" 1 1024
[ "$ring" = preset ] || bench_count RING_DEGREE "$ring" 1 65536
case "$scheme" in yashe | bfv) ;; *) bench_usage_error "SCHEME is yashe or bfv, got '$scheme'" ;; esac
# Four clients are registered; the single client's run gives the overhead.
for clients in $client_counts; do bench_count "a count in CLIENTS" "$clients" 1 4; done
[[ " $client_counts " == *" 1 "* ]] || bench_usage_error "CLIENTS must include 1 (the overhead is measured on one client), got '$client_counts'"
bench_program "${1:-build}/cryptonets" "${1:-build}"
build=$(realpath "${1:-build}")
# Absolute: the script works in a temporary directory (a relative OUT was written there, then removed).
out=$(realpath -m "${OUT:-$root/bench/results/service.md}")
[ -d "$(dirname "$out")" ] && [ -w "$(dirname "$out")" ] && [ ! -d "$out" ] ||
  bench_usage_error "OUT: cannot write '$out' (its directory must exist and be writable)"
exe=$build/cryptonets
data=$root/data
work=$(mktemp -d -p "${TMPDIR:-/tmp}" service-bench-XXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
cd "$work"
export OMP_WAIT_POLICY=passive
now() { date +%s.%N; }

ring_args=()
[ "$ring" = preset ] || ring_args=(--insecure-ring-degree "$ring")
echo "keygen, encrypt ($images images)..." >&2
"$exe" keygen --scheme "$scheme" --out-dir keys "${ring_args[@]}" >keygen.log
parameters_line=$(grep -m1 "^parameters" keygen.log | cut -d: -f2- | sed 's/^ //')
security_line=$(grep -m1 "^security" keygen.log | cut -d: -f2- | sed 's/^ //')
"$exe" encrypt --keys keys --images "$data/mnist/t10k-images-idx3-ubyte.gz" --count "$images" \
  --out batch.ct --threads "$threads" >/dev/null
mkdir server-keys && cp keys/params keys/evaluation.key keys/public.key server-keys/
batch_bytes=$(stat -c %s batch.ct)

# CPU seconds (user + system) of a process so far, from /proc/PID/stat.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

echo "cryptonets infer (baseline)..." >&2
start=$(now)
/usr/bin/time -f "%U %S" -o infer.cpu \
  "$exe" infer --keys server-keys --in batch.ct --out base.ct --threads "$threads" >/dev/null
baseline=$(echo "$(now) - $start" | bc -l)
baseline_cpu=$(awk '{ printf "%.2f", $1 + $2 }' infer.cpu)

"$exe" serve --listen 127.0.0.1:0 --port-file port --state-dir state --threads "$threads" \
  2>server.log &
server_pid=$!
for _ in $(seq 300); do [ -s port ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat port)
for c in 1 2 3 4; do
  "$exe" client register --server "$url" --keys keys --token-file "token$c" >/dev/null
done

# Peak resident memory of the server while a phase runs (sampled every 0.1 s).
sample_rss() {
  local peak=0 rss
  while [ -e "$work/sampling" ]; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss
    sleep 0.1
  done
  echo "$peak" >"$work/rss"
}

rows=()
single=
for clients in $client_counts; do
  noun=clients
  [ "$clients" != 1 ] || noun=client
  echo "$clients concurrent $noun..." >&2
  idle_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status")
  server_cpu_before=$(cpu_of "$server_pid")
  touch sampling
  sample_rss &
  sampler=$!
  start=$(now)
  pids=()
  for c in $(seq "$clients"); do
    (
      s=$(now)
      /usr/bin/time -f "%U %S" -o "client$c.cpu" \
        "$exe" client infer --server "$url" --keys keys --token-file "token$c" --in batch.ct \
        --out "scores$c.ct" >"client$c.log" 2>&1
      echo "$(now) - $s" | bc -l >"latency$c"
    ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  wall=$(echo "$(now) - $start" | bc -l)
  rm sampling
  wait "$sampler"
  for c in $(seq "$clients"); do cmp -s "scores$c.ct" base.ct && echo "identical?!" >&2; done
  latencies=$(for c in $(seq "$clients"); do cat "latency$c"; done | sort -n)
  mean=$(echo "$latencies" | awk '{ s += $1 } END { printf "%.1f", s / NR }')
  worst=$(echo "$latencies" | tail -1 | awk '{ printf "%.1f", $1 }')
  per_min=$(echo "$clients * 60 / $wall" | bc -l | awk '{ printf "%.2f", $1 }')
  rows+=("| $clients | $(printf %.1f "$wall") | $per_min | $mean | $worst | $((idle_rss / 1024)) | $(($(cat rss) / 1024)) |")
  if [ "$clients" = 1 ]; then
    single=$(cat latency1)
    single_cpu=$(echo "$(cpu_of "$server_pid") - $server_cpu_before + $(awk '{ print $1 + $2 }' client1.cpu)" | bc -l)
    grep -h '"path":"/v1/jobs"' server.log | tail -1 >upload.json
    grep -h '"event":"job done"' server.log | tail -1 >job.json
    grep -h "uploaded in" client1.log >first-client.txt || true
  fi
done
overhead=$(echo "($single - $baseline) / $baseline * 100" | bc -l | awk '{ printf "%.1f", $1 }')
overhead_cpu=$(echo "($single_cpu - $baseline_cpu) / $baseline_cpu * 100" | bc -l | awk '{ printf "%.1f", $1 }')

{
  echo "# Service: throughput, latency, memory (issue 19)"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "(shared with other jobs: load average before/after below; every time is an upper bound);"
  echo "date: $(date -u +%Y-%m-%d); command: \`SCHEME=$scheme CLIENTS=\"$client_counts\" bash bench/service_bench.sh $*\`;"
  echo "parameters: $([ "$ring" = preset ] && echo "the default $scheme preset, two 39-bit plaintext moduli: $parameters_line" || echo "INSECURE test ring n = $ring (not the default parameters)");"
  echo "security (keygen's line): $security_line;"
  echo "batch: $images images, $(numfmt --to=iec-i --suffix=B "$batch_bytes"); inference threads: $threads (serve --threads and infer --threads);"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "Each client runs \`cryptonets client infer\` (register is done before; upload, server-side"
  echo "verification and fsync, queue, inference, download with verification, delete) on the same"
  echo "batch; the server runs one job at a time with all its threads, so jobs queue."
  echo
  echo "| clients | wall (s) | jobs/min | mean latency (s) | worst latency (s) | server RSS idle (MiB) | server RSS peak (MiB) |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Overhead over \`cryptonets infer\` on the same batch (same threads, same machine, one run):"
  echo "infer $(printf %.2f "$baseline") s (read and verify the file, evaluate, write the scores);"
  echo "one \`client infer\` $(printf %.2f "$single") s from the upload's start to the scores written"
  echo "on the client: **$overhead %** of wall time (target: under 5 %). In CPU time (user + system;"
  echo "less exposed to the other jobs on the machine): infer $baseline_cpu s, the service run"
  echo "$(printf %.2f "$single_cpu") s (server and client together): **$overhead_cpu %**."
  echo
  echo "Server log lines of that run (upload: received, verified while it arrived, fsync'd; the job):"
  echo
  echo '```'
  cat upload.json job.json
  echo '```'
  echo
  echo "The client's own line for the single run: \`$(cat first-client.txt)\`."
  echo
  echo "Reading the table: the server computes one job at a time with all its threads; an upload is"
  echo "received, written, verified (on a thread of its own) and fsync'd while the running job computes,"
  echo "so with several clients uploads and inference share the machine's cores (here $(nproc)), and"
  echo "jobs/min cannot exceed one job per inference time. Server memory: the batch being computed"
  echo "(with its intermediate layers), one batch per upload being verified, and at most one verified"
  echo "batch waiting for the worker; malloc_trim returns it after each job. The overhead is upload"
  echo "(client read + send, server receive + write + fsync; the verification replaces infer's read of"
  echo "the file) and the download of the scores; the job itself takes no second read of the batch."
} >"$work/report.md"
bench_publish "$work/report.md" "$out"
cat "$out"
