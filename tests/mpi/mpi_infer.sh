#!/usr/bin/env bash
# Distributed infer (issue 20) at a test-only small ring, on this machine's cores (oversubscribed):
#  1. 1, 2 and 4 ranks give, for a file of one batch and one of several, scores equal byte for
#     byte to one process's (--seed: the same re-randomisation; same_ciphertexts.py ignores only
#     the file's own id and what depends on it) and decrypting to the same CSV (on several
#     batches: 2 ranks as 2 groups, whole units per rank; 4 ranks with --split outputs, the other
#     split of the dense layers); the same under BFV on 1 and 2 ranks (one batch);
#  2. bad input (a BFV file given with YASHE' keys among it, images of another model profile) is
#     refused on rank 0 before any work, with one message and no output;
#     so is --out naming an input (the images, the model, a key file), which stays untouched;
#  3. a rank killed mid-run ends the job with an error and no output file;
#  4. a stalled rank (SIGSTOP) trips the watchdog of the others: a clear error, no output file.
#
# usage: mpi_infer.sh CRYPTONETS DATA_DIR PYTHON3 SAME_CIPHERTEXTS_PY MPIRUN
set -euo pipefail

exe=$(realpath "$1")
data=$(realpath "$2")
python=$3
same=$(realpath "$4")
mpirun_exe=$5
images=$data/mnist/t10k-images-idx3-ubyte.gz

# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
pids=()  # mpirun jobs still running, killed at the end
kill_jobs() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
at_exit kill_jobs

launcher=("$mpirun_exe" --oversubscribe)
# Open MPI refuses root unless told; CI runs as root.
[ "$(id -u)" = 0 ] && launcher+=(--allow-run-as-root)
export OMP_WAIT_POLICY=passive

# step NAME COMMAND... (support.sh): stops the test if the command fails.

step keygen "$exe" keygen --out-dir "$work/client" --profile "$data/model.profile" --seed 1 \
  --insecure-ring-degree 128
mkdir "$work/server"
cp "$work/client/params" "$work/client/evaluation.key" "$work/client/public.key" "$work/server/"
# 128 slots: 100 images are one batch, 300 are three.
step encrypt_one "$exe" encrypt --keys "$work/client" --images "$images" --count 100 \
  --out "$work/one.ct" --threads 1 --seed 2
step encrypt_several "$exe" encrypt --keys "$work/client" --images "$images" --first 7 --count 300 \
  --out "$work/several.ct" --threads 1 --seed 3

# 1. The same scores on 1, 2 and 4 ranks as in one process.
for file in one several; do
  step "single_$file" "$exe" infer --keys "$work/server" --in "$work/$file.ct" \
    --out "$work/$file.single.ct" --threads 1 --seed 5
  step "decrypt_single_$file" "$exe" decrypt --keys "$work/client" --in "$work/$file.single.ct" \
    --scores "$work/$file.single.csv"
  for ranks in 1 2 4; do
    out=$work/$file.$ranks.ct
    options=()
    [ "$file.$ranks" = several.2 ] && options=(--groups 2)
    [ "$file.$ranks" = several.4 ] && options=(--split outputs)
    step "mpi_${file}_$ranks" "${launcher[@]}" -n "$ranks" "$exe" infer --keys "$work/server" \
      --in "$work/$file.ct" --out "$out" --threads 1 --seed 5 "${options[@]}"
    grep -qE "on $ranks ranks?:" "$work/mpi_${file}_$ranks.log" ||
      fail "$file, $ranks ranks: infer did not run distributed"
    "$python" "$same" "$work/$file.single.ct" "$out" >"$work/same.log" ||
      fail "$file, $ranks ranks: not the single-process ciphertexts: $(cat "$work/same.log")"
    step "decrypt_${file}_$ranks" "$exe" decrypt --keys "$work/client" --in "$out" \
      --scores "$work/$file.$ranks.csv"
    cmp -s "$work/$file.single.csv" "$work/$file.$ranks.csv" ||
      fail "$file, $ranks ranks: decrypted scores differ from one process's"
  done
done
grep -q "(dense): linear, partial sums" "$work/mpi_one_2.log" || fail "auto: no partial sums"
grep -q "in 2 groups" "$work/mpi_several_2.log" || fail "--groups 2 not used"
# One of a count is said in the singular (a review: "on 1 MPI ranks in 1 group(s)").
grep -q "on 1 MPI rank in 1 group, 1 thread each: 1 batch x " "$work/mpi_one_1.log" ||
  fail "one rank: $(grep -m1 'MPI rank' "$work/mpi_one_1.log")"
grep -q "(dense): linear, outputs" "$work/mpi_several_4.log" || fail "--split outputs not used"
# The check can fail: another seed gives other ciphertexts.
step single_other_seed "$exe" infer --keys "$work/server" --in "$work/one.ct" \
  --out "$work/other.ct" --threads 1 --seed 6
"$python" "$same" "$work/one.single.ct" "$work/other.ct" >/dev/null &&
  fail "same_ciphertexts.py finds two different seeds' scores equal"
# The README names the script: one file, a missing one and a key file are refused with a message
# and exit 2 (each was a Python traceback: an IndexError, a FileNotFoundError, a division by zero);
# so is a cut file, compared with itself (exit 1, as for two different files).
head -c -1 "$work/one.ct" >"$work/cut.ct"
for args in "$work/one.ct" "$work/one.ct|$work/missing.ct" "$work/server/public.key|$work/one.ct" \
  "$work/cut.ct|$work/cut.ct"; do
  IFS='|' read -r -a files <<<"$args"
  status=0
  "$python" "$same" "${files[@]}" >"$work/same.log" 2>&1 || status=$?
  { [ "$status" -eq 2 ] && grep -q "^usage: \|^same_ciphertexts.py: " "$work/same.log" &&
    ! grep -q Traceback "$work/same.log"; } ||
    fail "same_ciphertexts.py ${files[*]}: exit $status, expected 2 with a message: $(cat "$work/same.log")"
done

# 1b. BFV: the same on 1 and 2 ranks (one batch; the partial sums of the dense layers).
step keygen_bfv "$exe" keygen --scheme bfv --out-dir "$work/bfv_client" \
  --profile "$data/model.profile" --seed 1 --insecure-ring-degree 128
mkdir "$work/bfv_server"
cp "$work/bfv_client/params" "$work/bfv_client/evaluation.key" "$work/bfv_client/public.key" \
  "$work/bfv_server/"
step encrypt_bfv "$exe" encrypt --keys "$work/bfv_client" --images "$images" --count 100 \
  --out "$work/bfv.ct" --threads 1 --seed 2
step single_bfv "$exe" infer --keys "$work/bfv_server" --in "$work/bfv.ct" \
  --out "$work/bfv.single.ct" --threads 1 --seed 5
step decrypt_single_bfv "$exe" decrypt --keys "$work/bfv_client" --in "$work/bfv.single.ct" \
  --scores "$work/bfv.single.csv"
for ranks in 1 2; do
  out=$work/bfv.$ranks.ct
  step "mpi_bfv_$ranks" "${launcher[@]}" -n "$ranks" "$exe" infer --keys "$work/bfv_server" \
    --in "$work/bfv.ct" --out "$out" --threads 1 --seed 5
  grep -qE "under BFV on $ranks MPI ranks? in" "$work/mpi_bfv_$ranks.log" ||
    fail "BFV, $ranks ranks: infer did not run distributed under BFV"
  "$python" "$same" "$work/bfv.single.ct" "$out" >"$work/same.log" ||
    fail "BFV, $ranks ranks: not the single-process ciphertexts: $(cat "$work/same.log")"
  step "decrypt_bfv_$ranks" "$exe" decrypt --keys "$work/bfv_client" --in "$out" \
    --scores "$work/bfv.$ranks.csv"
  cmp -s "$work/bfv.single.csv" "$work/bfv.$ranks.csv" ||
    fail "BFV, $ranks ranks: decrypted scores differ from one process's"
done
grep -q "(dense): linear, partial sums" "$work/mpi_bfv_2.log" || fail "BFV: no partial sums"

# 1c. The other ranks hold the parameters and evaluation key they get from rank 0 in memory, not
# in a directory under TMPDIR: a worker whose TMPDIR does not exist ran the job to its end (it
# failed: "temp_directory_path: No such file or directory"), and a rank killed while loading
# left /tmp/cryptonets-rank-XXXXXX with the evaluation key (a trial).
step mpi_no_tmpdir "${launcher[@]}" -x TMPDIR="$work/no-such-tmp" -n 2 "$exe" infer \
  --keys "$work/server" --in "$work/one.ct" --out "$work/no-tmp.ct" --threads 1 --seed 5
"$python" "$same" "$work/one.single.ct" "$work/no-tmp.ct" >"$work/same.log" ||
  fail "TMPDIR missing on the workers: not the single-process ciphertexts: $(cat "$work/same.log")"

# 2. Bad input: refused by rank 0 before any work, said once, no output.
expect_refused() {  # NAME EXPECTED_TEXT ARGUMENTS...
  local name=$1 text=$2
  shift 2
  if "${launcher[@]}" -n 2 "$exe" infer "$@" --out "$work/$name.ct" >"$work/$name.log" 2>&1; then
    fail "$name: infer succeeded"
  fi
  [ "$(grep -c "$text" "$work/$name.log")" = 1 ] ||
    fail "$name: expected one message with '$text': $(cat "$work/$name.log")"
  [ -e "$work/$name.ct" ] && fail "$name: left an output file"
  return 0
}
expect_refused refused_public_key_as_images "not encrypted images\|holds\|kind" \
  --keys "$work/server" --in "$work/server/public.key"
expect_refused refused_bfv_images_yashe_keys "BFV.*YASHE'" --keys "$work/server" \
  --in "$work/bfv.ct"
expect_refused refused_groups "groups 3 needs at least as many ranks" --keys "$work/server" \
  --in "$work/one.ct" --groups 3
# Images encrypted with another model profile than the model's (here: another input scale).
sed 's/^\(input .* scale\) [0-9.e+]*$/\1 8/' "$data/model.txt" >"$work/scale-8.txt"
expect_refused refused_other_profile "was encrypted with another model profile" \
  --keys "$work/server" --in "$work/one.ct" --model "$work/scale-8.txt"

# 2b. --out naming one of the inputs (the images, the model, a key file): refused by rank 0 as one
# process refuses it, before any work, the input untouched and nothing written beside it.
cp "$work/one.ct" "$work/same.ct"
cp "$data/model.txt" "$work/same-model.txt"
cp -r "$work/server" "$work/same-keys"  # a copy: a regression must not spoil the later cases' keys
expect_kept() {  # NAME EXPECTED_TEXT FILE ARGUMENTS...: infer ... --out FILE is refused
  local name=$1 text=$2 file=$3
  shift 3
  local before listing
  before=$(sha256sum "$file" && stat -c '%s %Y' "$file")
  listing=$(ls -A "$work" "$work/same-keys")
  if "${launcher[@]}" -n 2 "$exe" infer "$@" --out "$file" --threads 1 >"$work/$name.log" 2>&1; then
    fail "$name: infer succeeded"
  fi
  [ "$(grep -c -- "$text" "$work/$name.log")" = 1 ] ||
    fail "$name: expected one message with '$text': $(cat "$work/$name.log")"
  [ "$(sha256sum "$file" && stat -c '%s %Y' "$file")" = "$before" ] || fail "$name: $file changed"
  [ "$(ls -A "$work" "$work/same-keys" | grep -v "^$name.log$")" = "$listing" ] ||
    fail "$name: files appeared or went"
  return 0
}
expect_kept out_is_in "--out '$work/same.ct' is the same file as --in" "$work/same.ct" \
  --keys "$work/server" --in "$work/same.ct"
expect_kept out_is_model "is the same file as --model" "$work/same-model.txt" \
  --keys "$work/server" --in "$work/one.ct" --model "$work/same-model.txt"
expect_kept out_is_key "refusing to write over .*evaluation.key.*: it is an evaluation key file" \
  "$work/same-keys/evaluation.key" --keys "$work/same-keys" --in "$work/one.ct"

# Starts infer on 2 ranks in the background, waits for rank 0 to say the work began, and sets
# mpirun_pid and rank1_pid.
start_two_ranks() {  # NAME WATCHDOG
  local name=$1
  "${launcher[@]}" -n 2 "$exe" infer --keys "$work/server" --in "$work/several.ct" \
    --out "$work/$name.ct" --threads 1 --watchdog "$2" >"$work/$name.log" 2>&1 &
  mpirun_pid=$!
  pids+=("$mpirun_pid")
  rank1_pid=
  for _ in $(seq 600); do
    for child in $(pgrep -P "$mpirun_pid" || true); do
      if tr '\0' '\n' <"/proc/$child/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then
        rank1_pid=$child
      fi
    done
    [ -n "$rank1_pid" ] && grep -q "MPI ranks" "$work/$name.log" && break
    sleep 0.05
  done
  [ -n "$rank1_pid" ] || { cat "$work/$name.log" >&2; echo "FAIL: no rank 1 found" >&2; exit 1; }
  pids+=("$rank1_pid")
}

# Sets status to mpirun's exit status, after 120 s at most. In this shell, not in $(...): a
# subshell cannot wait for its parent's job, and every status read so was -1.
wait_for_end() {
  status=0
  for _ in $(seq 1200); do
    kill -0 "$mpirun_pid" 2>/dev/null || break
    sleep 0.1
  done
  wait "$mpirun_pid" || status=$?
}

# 3. A rank killed mid-run.
start_two_ranks killed 600
kill -KILL "$rank1_pid"
wait_for_end
[ "$status" != 0 ] || fail "killed rank: infer exited 0"
grep -qi "signal 9\|killed" "$work/killed.log" ||
  fail "killed rank: no message naming the killed rank: $(cat "$work/killed.log")"
[ -e "$work/killed.ct" ] && fail "killed rank: left an output file"

# 4. A stalled rank: the watchdog (2 s) of rank 0 ends the job.
start_two_ranks stalled 2
kill -STOP "$rank1_pid"
wait_for_end
kill -KILL "$rank1_pid" 2>/dev/null || true
# Exit status 3, as infer --help says (it listed 0, 1 and 2 only).
[ "$status" = 3 ] || fail "stalled rank: infer exited $status, expected 3"
"${launcher[@]}" -n 1 "$exe" infer --help >"$work/help.txt" 2>&1 || true
grep -A 1 -- "--watchdog" "$work/help.txt" | grep -q "exit status 3" ||
  fail "infer --help under mpirun does not give the watchdog's exit status 3: $(cat "$work/help.txt")"
# The README section it points to exists (it said "README: running on several hosts").
tr -s ' \n' ' ' <"$work/help.txt" | grep -qF "(README: Inference on several machines (MPI))" &&
  grep -qxF "## Inference on several machines (MPI)" "$data/../README.md" ||
  fail "infer --help under mpirun does not point to the README's MPI section: $(cat "$work/help.txt")"
grep -q "rank 0 of 2 waited .* another rank died or stalled; ending the job, no output written" \
  "$work/stalled.log" || fail "stalled rank: no watchdog message: $(cat "$work/stalled.log")"
[ -e "$work/stalled.ct" ] && fail "stalled rank: left an output file"

finish "distributed infer: 1, 2, 4 ranks (YASHE') and 1, 2 (BFV) equal one process; refusals, a killed and a stalled rank"
