#!/usr/bin/env bash
# The measurement scripts in bench/ (network_layers.sh, bfv_vs_yashe.sh, simd.sh, thread_scaling.sh,
# distributed.sh, service_bench.sh, activation_study.sh's step names, reproduce.sh's --help) and cryptonets-simd-network's arguments. A bad argument (a
# count that is not one, a build directory without the programs, too many arguments, an OUT in a
# directory that does not exist) is a usage error (exit 2) before any work; --help exits 0. A run
# that fails or is interrupted leaves the committed results as they were and no file behind (a
# trial: network_layers.sh and bfv_vs_yashe.sh deleted network.csv and bfv.csv first, distributed.sh
# and simd.sh wrote their results file as they went (distributed.sh exited 0 when scores differed), thread_scaling.sh with runs 'abc' emptied
# threads.md, and each left temporary files). The scripts run from a copy of bench/ against stub
# programs (a few milliseconds each), never a measurement.
# Usage: test_scripts.sh SOURCE_ROOT SIMD_NETWORK
set -euo pipefail
root="$1"
simd_network="$2"
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"

# ---- cryptonets-simd-network: every argument checked before any work (std::stoul's exception
# ended the process: 'abc', '--help'; '0' and '-5' failed inside encrypt_batch).
"$simd_network" --help >"$work/help.out" 2>&1 || fail "cryptonets-simd-network --help exited $?"
grep -q "^usage: cryptonets-simd-network" "$work/help.out" ||
  fail "cryptonets-simd-network --help: $(cat "$work/help.out")"
for bad in "abc|images is an integer from 1 to 8192, got 'abc'" \
  "0|images is an integer from 1 to 8192, got '0'" \
  "-5|images is an integer from 1 to 8192, got '-5'" \
  "8193|images is an integer from 1 to 8192, got '8193'" \
  "1 9x|primes is default or COUNTxBITS" "1 8x50x|got '8x50x'" \
  "1 default 0|threads is an integer from 1 to 1024, got '0'" \
  "1 default 1x|threads is an integer from 1 to 1024, got '1x'" \
  "1 default 1 nope|unknown or unsupported path 'nope'" \
  "1 default 1 widest hot|the fifth argument is warm or cold, got 'hot'" \
  "1 2 3 4 5 6|at most 5 arguments, got 6"; do
  args=${bad%%|*}
  status=0
  # shellcheck disable=SC2086
  timeout 20 "$simd_network" $args >"$work/bad.out" 2>&1 || status=$?
  [ "$status" = 2 ] || fail "cryptonets-simd-network $args exited $status, expected 2: $(head -c 300 "$work/bad.out")"
  grep -qF -- "${bad#*|}" "$work/bad.out" ||
    fail "cryptonets-simd-network $args: expected '${bad#*|}': $(head -c 300 "$work/bad.out")"
  grep -q "^# SIMD paths" "$work/bad.out" && fail "cryptonets-simd-network $args printed its report first"
done

# ---- The scripts, from a copy of bench/ whose results are marked as shipped.
tree="$work/tree"
mkdir -p "$tree/bench/results" "$work/tmp" "$work/bin"
cp "$root"/bench/*.sh "$tree/bench/"
cp -r "$root/bench/plots" "$tree/bench/"
mkdir "$tree/bench/results/reproduction"
echo "shipped png" >"$tree/bench/results/reproduction/activation_study.png"
results=(network.csv network.md bfv.csv bfv.md distributed.log distributed-groups.log simd-run.md
  threads.md service.md)
for file in "${results[@]}"; do echo "shipped $file" >"$tree/bench/results/$file"; done
mkdir "$tree/bench/results/activation-study"
for file in relu.log commands.log; do
  echo "shipped $file" >"$tree/bench/results/activation-study/$file"
done
sums() { (cd "$tree/bench/results" && find . -type f -exec sha256sum {} + | sort; ls -A); }
sums >"$work/shipped.sums"
export TMPDIR="$work/tmp"

# The stub programs: one script under each name the scripts run. Each call is logged; FAKE_FAIL=N
# fails the Nth call, FAKE_SLEEP=N makes it wait (it becomes a sleeping perl) after writing
# $FAKE_LOG.sleeping. The marker is written by the process that then sleeps: written by this bash
# before an exec of sleep, a SIGINT that came while bash reaped touch was taken as handled by
# touch (bash's wait-and-cooperative-exit), the sleep ran its 30 s and the script went on, past the
# harness's 30 s (seen once under load).
fake="$work/fake-build"
mkdir -p "$fake/bench"
cat >"$work/stub" <<'STUB'
#!/usr/bin/env bash
set -eu
echo "$(basename "$0") $*" >>"$FAKE_LOG"
calls=$(wc -l <"$FAKE_LOG")
[ "$calls" = "${FAKE_FAIL:-0}" ] && { echo "stub: failing call $calls" >&2; exit 1; }
if [ "$calls" = "${FAKE_SLEEP:-0}" ]; then
  exec perl -e 'open(my $f, ">", $ARGV[0]) or die "$ARGV[0]: $!\n"; close $f; sleep 30' \
    "$FAKE_LOG.sleeping"
fi
case "$(basename "$0")" in
  cryptonets)  # mnist ... --threads T ... --csv PATH; keygen, encrypt, infer, decrypt
    command=$1 threads=1 csv=/dev/null out=/dev/null scores=/dev/null all="$*"
    while [ $# -gt 1 ]; do
      case "$1" in
        --csv) csv=$2 ;; --threads) threads=$2 ;; --out | --out-dir) out=$2 ;; --scores) scores=$2 ;;
        --port-file) port_file=$2 ;;
      esac
      shift
    done
    case "$command" in
      --activation | --fine-tune) echo "float model of: $(basename "$0") $all" >"$out" ;;  # train
      mnist)  # as the real one, --preset with --scheme bfv is a usage error
        if [[ " $all " == *" --scheme bfv "* && " $all " == *" --preset "* ]]; then
          echo "cryptonets mnist: --preset is for --scheme yashe; BFV has one parameter set" >&2
          exit 2
        fi
        printf '%s\n' "preset,n,log2_q,moduli,threads,images,batch,stage,layer,modulus,seconds" \
          "default,8192,385.0,2,$threads,1,0,encode+encrypt,,1,0.5" \
          "default,8192,385.0,2,$threads,1,0,conv,1,1,0.25" >"$csv" ;;
      keygen)
        mkdir -p "$out" && touch "$out/params" "$out/evaluation.key" "$out/public.key"
        echo "parameters: stub" && echo "security: stub" ;;
      serve)  # the log lines service_bench.sh quotes, the port file, then running until killed
        printf '%s\n' '{"path":"/v1/jobs"}' '{"event":"job done"}' >&2
        echo 1 >"$port_file"
        trap 'kill $! && exit 0' TERM  # as serve: SIGTERM ends it, exit 0
        sleep 30 &
        wait ;;
      client) [[ "$all" != "client infer "* ]] || echo scores >"$out" ;;
      encrypt) echo ciphertexts >"$out" ;;
      infer) echo ciphertexts >"$out" && echo "inferred 1 image in 1 batch, 2 moduli, 0.01 s: $out (1 B)" ;;
      decrypt) echo "scores${FAKE_DIFFER:+ $calls}" >"$scores" ;;  # FAKE_DIFFER: each call's own
    esac ;;
  bench_ring | bench_simd) echo "NTT/forward/n:8192_min 1 us" ; echo "NTT/forward/n:8192_median 1 us" ;;
  cryptonets-simd-network)
    printf '%s\n' "parameters: stub" "" "| stage | w wall s | w CPU s | page faults | CPU ratio |" \
      "|---|---|---|---|---|" "| encode+encrypt (t1) | 0.100 | 0.100 | 1 | 1.00 |" \
      "| 1. conv (t1) | 0.100 | 0.100 | 1 | 1.00 |" "| 1. conv (all moduli) | 0.200 | 0.200 | 2 | 1.00 |" ;;
  cryptonets-reproduce) [[ " $* " == *" --help "* ]] && echo "usage: cryptonets-reproduce [options]" ;;
  gnuplot) ;;
  mpirun)  # --version, or [options] -n K PROGRAM ARGS...
    [ "$1" = --version ] && { echo "mpirun (stub) 4.1"; exit 0; }
    while [ "$1" != -n ]; do shift; done
    shift 2
    exec "$@" ;;
esac
STUB
chmod +x "$work/stub"
for name in cryptonets bench/bench_ring bench/bench_simd bench/cryptonets-simd-network \
  bench/cryptonets-reproduce; do
  cp "$work/stub" "$fake/$name"
done
cp "$work/stub" "$work/bin/mpirun"
cp "$work/stub" "$work/bin/gnuplot"
export PATH="$work/bin:$PATH" FAKE_LOG="$work/calls"

# expect STATUS MESSAGE SCRIPT ARGS...: the exit status, a line of the output, no program run.
expect() {
  local want=$1 message=$2 script=$3 status=0
  shift 3
  rm -f "$FAKE_LOG"
  timeout 60 bash "$tree/bench/$script" "$@" >"$work/out" 2>&1 || status=$?
  [ "$status" = "$want" ] || fail "$script $*: exit $status, expected $want: $(head -c 400 "$work/out")"
  grep -qF -- "$message" "$work/out" || fail "$script $*: no '$message' in: $(head -c 400 "$work/out")"
  [ "$want" != 2 ] || [ ! -e "$FAKE_LOG" ] || fail "$script $*: ran $(head -n 1 "$FAKE_LOG") before its usage error"
}
unchanged() {  # what was run
  [ "$(sums)" = "$(cat "$work/shipped.sums")" ] || fail "$1 changed bench/results: $(diff <(sums) "$work/shipped.sums" | head -5)"
  [ -z "$(ls -A "$work/tmp")" ] || fail "$1 left $(ls -A "$work/tmp") in TMPDIR"
  rm -rf "${work:?}/tmp/"*
}

for script in network_layers.sh bfv_vs_yashe.sh distributed.sh simd.sh thread_scaling.sh \
  service_bench.sh; do
  expect 0 "usage: bash bench/$script" "$script" --help
  expect 2 "no program $work/none" "$script" "$work/none"
  expect 2 "at most" "$script" 1 2 3 4 5
  unchanged "$script with bad arguments"
done
for count in abc 0 01 -1 1x; do
  expect 2 "images is an integer from 1 to 8192, got '$count'" network_layers.sh "$fake" "$count"
  expect 2 "runs is an integer from 1 to 100, got '$count'" bfv_vs_yashe.sh "$fake/cryptonets" "$count"
  expect 2 "images is an integer from 1 to 8192, got '$count'" distributed.sh "$fake" "$count"
  expect 2 "images is an integer from 1 to 8192, got '$count'" simd.sh "$fake" "$count"
  expect 2 "runs is an integer from 1 to 100, got '$count'" thread_scaling.sh "$fake" "$count"
  expect 2 "IMAGES is an integer from 1 to 16384, got '$count'" service_bench.sh "$fake" "$count"
done
OUT="$work/none/service.md" expect 2 "OUT: cannot write '$work/none/service.md'" service_bench.sh "$fake" 1 1
CLIENTS="2 4" expect 2 "CLIENTS must include 1" service_bench.sh "$fake" 1 1
CLIENTS="1 5" expect 2 "a count in CLIENTS is an integer from 1 to 4, got '5'" service_bench.sh "$fake" 1 1
SCHEME=ckks expect 2 "SCHEME is yashe or bfv, got 'ckks'" service_bench.sh "$fake" 1 1
# Its progress lines count the clients in words (it said "1 concurrent client(s)..."): a whole run
# against the stubs, its report written outside bench/results.
OUT="$work/service.md" CLIENTS="1 2" expect 0 "1 concurrent client..." service_bench.sh "$fake" 1 1
grep -qF "2 concurrent clients..." "$work/out" && ! grep -qF "client(s)" "$work/out" ||
  fail "service_bench.sh's progress lines: $(grep concurrent "$work/out")"
rm -f "$work/service.md"
# activation_study.sh: every step name is checked before the first step trains (hours).
expect 0 "usage: bash bench/activation_study.sh" activation_study.sh --help
TRAIN="$fake/cryptonets" expect 2 "unknown step 'bogus'" activation_study.sh relu bogus
TRAIN="$fake/cryptonets" expect 2 "unknown step 'tanh-dropins'" activation_study.sh tanh-dropins
# A drop-in is made (by the trainer) before it is quantised: a missing trainer is said before any
# step, not after the quantisations before the drop-in's (a review).
for steps in quantise quantise-relu-lsq-dropin; do
  QUANTISE="$fake/cryptonets" TRAIN="$work/no-trainer" expect 2 "no program $work/no-trainer" \
    activation_study.sh $steps
done
[ ! -e "$tree/data" ] || fail "activation_study.sh with an unknown step wrote $(ls -R "$tree/data")"
unchanged "the scripts with bad counts"

# reproduce.sh --help: the driver's help and nothing else (the script went on to redraw the PNGs
# in bench/results); a test-mode run whose driver fails leaves no temporary directory.
export CRYPTONETS_REPRODUCE="$fake/bench/cryptonets-reproduce"
expect 0 "usage: cryptonets-reproduce" reproduce.sh --help
[ "$(cat "$FAKE_LOG")" = "cryptonets-reproduce --help" ] || fail "reproduce.sh --help ran: $(cat "$FAKE_LOG")"
expect 0 "usage: cryptonets-reproduce" reproduce.sh --mode test --help
unchanged "reproduce.sh --help"
FAKE_FAIL=1 expect 1 "stub: failing call 1" reproduce.sh --mode test
unchanged "reproduce.sh --mode test with its driver failing"
# Without gnuplot (a PATH of the commands the script and the stub use): refused before the driver.
mkdir "$work/no-gnuplot"
for tool in bash env dirname basename mktemp rmdir rm git stat head awk wc cat; do
  ln -s "$(command -v "$tool")" "$work/no-gnuplot/$tool"
done
rm -f "$FAKE_LOG"
status=0
"$(command -v env)" PATH="$work/no-gnuplot" "$(command -v bash)" "$tree/bench/reproduce.sh" \
  --mode test >"$work/out" 2>&1 || status=$?
[ "$status" = 1 ] && grep -q "gnuplot not found" "$work/out" ||
  fail "reproduce.sh without gnuplot: exit $status: $(cat "$work/out")"
[ ! -e "$FAKE_LOG" ] || fail "reproduce.sh without gnuplot ran $(cat "$FAKE_LOG")"
unchanged "reproduce.sh without gnuplot"
unset CRYPTONETS_REPRODUCE

# A program that fails in the middle of the run: the results stay as they were.
FAKE_FAIL=2 expect 1 "stub: failing call 2" network_layers.sh "$fake" 1
unchanged "network_layers.sh with its second run failing"
FAKE_FAIL=3 expect 1 "stub: failing call 3" bfv_vs_yashe.sh "$fake/cryptonets" 1 1
unchanged "bfv_vs_yashe.sh with its third run failing"
FAKE_FAIL=2 expect 1 "stub: failing call 2" distributed.sh "$fake" 1
unchanged "distributed.sh with keygen failing"
FAKE_DIFFER=1 expect 1 "runs decrypted to other scores than the single-process run" distributed.sh "$fake" 1
unchanged "distributed.sh with scores that differ"
# The count with its noun in the plural (it said "2 run(s)"): the two --groups runs differ.
FAKE_DIFFER=1 GROUPS_ONLY=1 expect 1 "distributed.sh: 2 runs decrypted to other scores than the single-process run" \
  distributed.sh "$fake" 1
unchanged "distributed.sh --groups runs with scores that differ"
FAKE_FAIL=3 expect 1 "stub: failing call 3" simd.sh "$fake" 1
unchanged "simd.sh with its third program failing"
# activation_study.sh: a failed step overwrote its committed log, and the steps before it had
# replaced theirs and their models (a review); now nothing is published, and the failed step's log
# ends on stderr.
TRAIN="$fake/cryptonets" FAKE_FAIL=2 expect 1 "stub: failing call 2" activation_study.sh relu sigmoid
grep -qF "step sigmoid failed; nothing was published" "$work/out" ||
  fail "activation_study.sh with its second step failing: $(head -c 400 "$work/out")"
unchanged "activation_study.sh with its second step failing"
[ ! -e "$tree/data" ] || fail "activation_study.sh with a step failing wrote $(ls -R "$tree/data")"
# A whole run publishes its logs and model, commands.log appended to.
TRAIN="$fake/cryptonets" expect 0 "done  relu" activation_study.sh relu
# What they record names the published paths, not the run's temporary directory, removed at its
# end (the quantised models' "# regenerate:" lines, the reports' commands and commands.log named
# TMPDIR/activation_study.XXXXXX/models/... when the run was first staged there).
grep -qF -- "--out data/activation-study/relu.txt" "$tree/bench/results/activation-study/commands.log" &&
  grep -qF -- "--out data/activation-study/relu.txt" "$tree/data/activation-study/relu.txt" &&
  ! grep -rqF -- "$work/tmp" "$tree/bench/results/activation-study" "$tree/data/activation-study" ||
  fail "activation_study.sh relu published its temporary paths: $(grep -rhF -- "--out" "$tree/bench/results/activation-study/commands.log" "$tree/data/activation-study" | head -c 400)"
[ -f "$tree/bench/results/activation-study/relu.log" ] && [ ! -s "$tree/bench/results/activation-study/relu.log" ] ||
  fail "activation_study.sh relu did not publish its (empty) log"
{ head -n 1 "$tree/bench/results/activation-study/commands.log" | grep -qx "shipped commands.log" &&
  grep -q "done  relu" "$tree/bench/results/activation-study/commands.log"; } ||
  fail "activation_study.sh relu: commands.log is $(cat "$tree/bench/results/activation-study/commands.log")"
[ -z "$(ls -A "$work/tmp")" ] || fail "activation_study.sh relu left $(ls -A "$work/tmp") in TMPDIR"
for file in relu.log commands.log; do
  echo "shipped $file" >"$tree/bench/results/activation-study/$file"
done
rm -rf "$tree/data"
# The drop-ins are made in the run's temporary directory, named WORK/dropins in what it records
# (a review: they went to build/activation-study and stayed); quantised alone, a drop-in is made
# first.
TRAIN="$fake/cryptonets" QUANTISE="$fake/cryptonets" expect 0 "done  relu-lsq-dropin-quantise" \
  activation_study.sh quantise-relu-lsq-dropin
grep -q "start relu-lsq-dropin: .* --out WORK/dropins/relu-lsq-dropin.txt" "$tree/bench/results/activation-study/commands.log" &&
  grep -q "start relu-lsq-dropin-quantise: .* --sequential WORK/dropins/relu-lsq-dropin.txt " "$tree/bench/results/activation-study/commands.log" ||
  fail "activation_study.sh quantise-relu-lsq-dropin: commands.log is $(cat "$tree/bench/results/activation-study/commands.log")"
[ ! -e "$tree/build" ] || fail "activation_study.sh left $(find "$tree/build") behind"
[ -z "$(ls -A "$work/tmp")" ] || fail "activation_study.sh quantise-relu-lsq-dropin left $(ls -A "$work/tmp") in TMPDIR"
for file in relu.log commands.log; do
  echo "shipped $file" >"$tree/bench/results/activation-study/$file"
done
rm -f "$tree/bench/results/activation-study/"relu-lsq-dropin*
rm -rf "$tree/data"
unchanged "activation_study.sh relu, its logs restored"

# Interrupted (SIGINT to the process group, as Ctrl-C sends it) while a stub runs.
interrupt() {  # script args...
  rm -f "$FAKE_LOG" "$FAKE_LOG.sleeping"
  python3 - "$FAKE_LOG.sleeping" bash "$tree/bench/$1" "${@:2}" <<'PY' || fail "$1 interrupted: $?"
import os, signal, subprocess, sys, time
marker, command = sys.argv[1], sys.argv[2:]
child = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
deadline = time.time() + 30
while not os.path.exists(marker) and time.time() < deadline and child.poll() is None:
    time.sleep(0.05)
assert os.path.exists(marker), "the stub never ran"
os.killpg(child.pid, signal.SIGINT)
status = child.wait(timeout=30)
assert status != 0, "exit 0 after SIGINT"
PY
  unchanged "$1 interrupted"
}
FAKE_SLEEP=2 interrupt network_layers.sh "$fake" 1
FAKE_SLEEP=2 interrupt bfv_vs_yashe.sh "$fake/cryptonets" 1 1
FAKE_SLEEP=2 interrupt simd.sh "$fake" 1
FAKE_SLEEP=3 interrupt thread_scaling.sh "$fake" 1

# Whole runs (stubs): each result replaced, nothing else left in bench/results or TMPDIR.
expect 0 "wrote bench/results/network.md" network_layers.sh "$fake" 1
grep -q "^| default | 8192 | 385.0 | 2 | " "$tree/bench/results/network.md" ||
  fail "network.md: $(cat "$tree/bench/results/network.md")"
grep -q "^default,8192" "$tree/bench/results/network.csv" || fail "network.csv not replaced"
expect 0 "wrote bench/results/bfv.md" bfv_vs_yashe.sh "$fake/cryptonets" 1 1
grep -q "^| 1 | YASHE' | 0.50 | 0.25 |" "$tree/bench/results/bfv.md" || fail "bfv.md: $(cat "$tree/bench/results/bfv.md")"
expect 0 "wrote bench/results/simd-run.md" simd.sh "$fake" 1
grep -q "^| 1. conv (all moduli) | 0.200 |" "$tree/bench/results/simd-run.md" || fail "simd-run.md not replaced"
expect 0 "wrote bench/results/threads.md" thread_scaling.sh "$fake" 1
expect 0 "## mpi-4-ranks-2-groups" distributed.sh "$fake" 1
grep -q "^## mpi-4-ranks-2-groups" "$tree/bench/results/distributed.log" ||
  fail "distributed.log: $(cat "$tree/bench/results/distributed.log")"
# The run's temporary directory is named WORK, not by its path (a review: /tmp/tmp.X/... was kept).
grep -qF "s: WORK/mpi-4-ranks-2-groups.ct (1 B)" "$tree/bench/results/distributed.log" ||
  fail "distributed.log does not name the output WORK/...: $(grep inferred "$tree/bench/results/distributed.log")"
! grep -qF -- "$work/tmp" "$tree/bench/results/distributed.log" ||
  fail "distributed.log names the run's temporary directory: $(grep -F -- "$work/tmp" "$tree/bench/results/distributed.log")"
grep -q "^| 1. conv (all moduli) | 0.200 | 0.200 | 1.00 |" "$tree/bench/results/threads.md" ||
  fail "threads.md: $(head -c 600 "$tree/bench/results/threads.md")"
[ "$(cd "$tree/bench/results" && ls -A | tr '\n' ' ')" = "$(printf '%s\n' "${results[@]}" reproduction activation-study | sort | tr '\n' ' ')" ] ||
  fail "bench/results holds other files: $(ls -A "$tree/bench/results")"
[ -z "$(ls -A "$work/tmp")" ] || fail "the whole runs left $(ls -A "$work/tmp") in TMPDIR"

# ---- A build directory, a binary or a program variable given relative to the caller's directory
# is the caller's, not the repository's, where the scripts work (a review: 'bash
# ~/cryptonets/bench/simd.sh mybuild' from another directory looked for the repository's mybuild).
# From $work, fake-build is $fake.
from_work() {  # script args...: run from $work, must succeed
  local status=0
  rm -f "$FAKE_LOG"
  (cd "$work" && timeout 60 bash "$tree/bench/$1" "${@:2}") >"$work/out" 2>&1 || status=$?
  [ "$status" = 0 ] || fail "$1 ${*:2}, run from $work: exit $status: $(head -c 400 "$work/out")"
}
from_work network_layers.sh fake-build 1
from_work bfv_vs_yashe.sh fake-build/cryptonets 1 1
from_work simd.sh fake-build 1
from_work thread_scaling.sh fake-build 1
from_work distributed.sh fake-build 1
TRAIN=fake-build/cryptonets from_work activation_study.sh relu
rm -rf "$tree/data"
CRYPTONETS_REPRODUCE=fake-build/bench/cryptonets-reproduce from_work reproduce.sh --help
grep -q "^usage: cryptonets-reproduce" "$work/out" || fail "reproduce.sh --help: $(cat "$work/out")"
# BUILD_DIR: the build (a meson that only logs) and the driver are the caller's.
cp "$work/stub" "$work/bin/meson"
BUILD_DIR=fake-build from_work reproduce.sh --help
grep -qx "meson compile -C $work/fake-build cryptonets-reproduce" "$FAKE_LOG" ||
  fail "reproduce.sh with BUILD_DIR=fake-build built $(cat "$FAKE_LOG")"
rm -f "$work/bin/meson"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "bench scripts: usage errors, failed and interrupted runs, whole runs: ok"
