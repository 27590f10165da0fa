#!/usr/bin/env bash
# The command-line tools' own options, quick cases that need no training:
# - every --help (cryptonets, each of its commands and client verbs, cryptonets-quantise, -train
#   and -reproduce) fits in 100 columns and shows no empty default "[]" (a trial found lines of
#   up to 308 columns, and "[]" in cryptonets-train --help);
# - an output left at its default never replaces an existing file (a trial: a bare
#   cryptonets-quantise run from the repository rewrote the shipped data/model.txt): exit 2, a
#   message naming the file and the option, the file unchanged; named, it is replaced;
# - cryptonets-reproduce --seed takes 0 to 2^63 - 1, and says so (a trial: --seed 0 got "expects
#   positive integers separated by commas").
#
# usage: tools.sh CRYPTONETS TRAIN QUANTISE REPRODUCE
set -uo pipefail

exe=$(realpath "$1")
train=$(realpath "$2")
quantise=$(realpath "$3")
reproduce=$(realpath "$4")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# ---- --help: at most 100 columns (characters, not bytes), no "[]". The shipped data directory
# that the defaults name is fixed, so that the check does not depend on where the tree lies.
export CRYPTONETS_DATA=/usr/share/cryptonets/data
check_help() {  # NAME COMMAND...
  local name=$1
  shift
  checks=$((checks + 1))
  if ! "$@" --help >help.txt 2>&1; then
    fail "$name --help: non-zero exit"
    return
  fi
  grep -q "usage: " help.txt || fail "$name --help: no usage line"
  local long
  long=$(perl -CSD -ne 'chomp; printf("    %d columns: %s\n", length, $_) if length > 100' help.txt)
  [ -z "$long" ] || fail "$name --help: lines over 100 columns:"$'\n'"$long"
  grep -qF "[]" help.txt && fail "$name --help shows an empty default: $(grep -F "[]" help.txt)"
}
check_help cryptonets "$exe"
commands=$("$exe" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$commands")" -ge 8 ] || fail "cryptonets --help lists only: $commands"
for command in $commands; do
  check_help "cryptonets $command" "$exe" "$command"
done
if grep -qw client <<<"$commands"; then
  verbs=$("$exe" client --help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
  [ -n "$verbs" ] || fail "cryptonets client --help lists no verbs"
  for verb in $verbs; do
    check_help "cryptonets client $verb" "$exe" client "$verb"
  done
fi
check_help cryptonets-quantise "$quantise"
check_help cryptonets-train "$train"
check_help cryptonets-reproduce "$reproduce"
unset CRYPTONETS_DATA

# expect CODE PHRASE -- COMMAND...: COMMAND exits with CODE and prints PHRASE.
expect() {
  local code=$1 phrase=$2
  shift 3
  checks=$((checks + 1))
  "$@" >message.txt 2>&1
  local status=$?
  if [ "$status" -ne "$code" ]; then
    fail "exit code $status, expected $code: $*"
    sed 's/^/    /' message.txt >&2
  elif ! grep -qF -- "$phrase" message.txt; then
    fail "message lacks '$phrase': $*"
    sed 's/^/    /' message.txt >&2
  fi
}
# unchanged FILE...: each still holds "shipped FILE".
unchanged() {
  for file in "$@"; do
    [ "$(cat "$file")" = "shipped $file" ] || fail "$file was replaced"
  done
}

# ---- Default outputs over existing files: a directory laid out as the repository.
mkdir -p repo/data repo/bench/results/reproduction repo/bench/results/activation-study/encrypted
cd repo || exit 1
for file in data/model.txt data/model-float.txt bench/results/quantisation.md \
  bench/results/reproduction.md bench/results/activation-study/encrypted.md; do
  echo "shipped $file" >"$file"
done
# cryptonets-quantise, bare: both defaults named; then one of them named.
expect 2 "refusing to replace 'data/model.txt' (the default of --out, not given) and 'bench/results/quantisation.md' (the default of --results, not given)" -- \
  "$quantise"
grep -qF "name the outputs with --out FILE and --results FILE" message.txt ||
  fail "quantise: the refusal does not say how to name the outputs: $(cat message.txt)"
expect 2 "refusing to replace 'bench/results/quantisation.md' (the default of --results, not given):" -- \
  "$quantise" --out new-model.txt
expect 2 "refusing to replace 'data/model.txt' (the default of --out, not given):" -- \
  "$quantise" --results new-table.md --float data/model-float.txt
[ -e new-model.txt ] || [ -e new-table.md ] && fail "quantise wrote a file before refusing"
unchanged data/model.txt bench/results/quantisation.md
# Named, an existing file is the user's choice: the run goes on (to the float model, which this
# one is not).
expect 1 "data/model-float.txt" -- "$quantise" --out data/model.txt --results bench/results/quantisation.md
grep -q "refusing" message.txt && fail "quantise refused outputs named on the command line"
# cryptonets-train, bare.
expect 2 "refusing to replace 'data/model-float.txt' (the default of --out, not given)" -- "$train"
unchanged data/model-float.txt
# cryptonets-reproduce, bare and --study-only; named outputs go on (to the paper's values, absent
# here).
expect 2 "refusing to replace 'bench/results/reproduction.md' (the default of --report, not given) and 'bench/results/reproduction' (the default of --out, not given)" -- \
  "$reproduce" --mode test
expect 2 "refusing to replace 'bench/results/activation-study/encrypted.md' (the default of --report, not given) and 'bench/results/activation-study/encrypted' (the default of --out, not given)" -- \
  "$reproduce" --study-only
expect 2 "refusing to replace 'bench/results/reproduction' (the default of --out, not given):" -- \
  "$reproduce" --report bench/results/reproduction.md
unchanged bench/results/reproduction.md bench/results/activation-study/encrypted.md
expect 2 "cannot read the paper's values from bench/paper_values.csv" -- \
  "$reproduce" --mode test --out bench/results/reproduction --report bench/results/reproduction.md
cd .. || exit 1

# ---- cryptonets-reproduce --seed: 0 to 2^63 - 1; anything else names the range and why.
expect 2 "cannot read the paper's values from none.csv" -- \
  "$reproduce" --seed 0 --paper-values none.csv --out r --report r.md
expect 2 "cannot read the paper's values from none.csv" -- \
  "$reproduce" --seed 9223372036854775807 --paper-values none.csv --out r --report r.md
for seed in -1 x 1,2 9223372036854775808 99999999999999999999 ""; do
  expect 2 "--seed expects one integer from 0 to 9223372036854775807 (2^63 - 1, as cryptonets keygen --seed): it keys the INSECURE deterministic generator; got '$seed'" -- \
    "$reproduce" --seed "$seed" --out r --report r.md
done
[ -e r ] || [ -e r.md ] && fail "cryptonets-reproduce wrote its outputs before refusing"

# ---- A closed stdout is refused before any work (the next file opened would take its
# descriptor); a report that cannot be written (/dev/full) is an error.
for tool in "$train" "$quantise" "$reproduce"; do
  name=$(basename "$tool")
  expect 2 "$name: standard output is closed; redirect it instead" -- sh -c '"$1" --help >&-' sh "$tool"
  expect 1 "$name: error: its report could not be written to standard output" -- \
    sh -c '"$1" --help >/dev/full' sh "$tool"
done

echo "$checks cases checked, $failures failure(s)"
[ "$failures" -eq 0 ]
