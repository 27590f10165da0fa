#!/usr/bin/env bash
# Issue 17, item (a): the quantiser on a sigmoid fit of the activation study. The fit's x² term is
# small (|a2| about 3e-4), so its integer form has a large constant; folding it into the last
# layer used to pass 2^60 at every grid point but the coarsest, and the table showed only that
# point, saying nothing of the others. On a small grid (input scale 4, 4..5 weight bits: 8 points)
# at least 2 points must now be measured, the rest listed with the parameter that stops them,
# and a model with polynomial layers written. Which points fail depends on the model alone, so
# the images are a small set (make_idx_set: 500 test images) to keep the test quick, of ten
# classes as the model's ten outputs (a model of another data set is refused).
#
# usage: quantise_sigmoid.sh QUANTISE MAKE_IDX_SET DATA_DIR
set -uo pipefail

quantise=$(realpath "$1")
make_set=$(realpath "$2")
data=$(realpath "$3")
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
cd "$work" || exit 1

step make_idx_set "$make_set" "$data/mnist" set 100 500 10
step quantise "$quantise" --sequential "$data/activation-study/sigmoid-lsq-finetuned.txt" \
  --data set --out model.txt --results table.md --input-scales 4 --min-bits 4 \
  --max-bits 5 --min-accuracy 0 --threads 1

# Rows of the 'Best choices' table (the grid points measured there).
measured=$(awk '/^## Best choices/ { on = 1; next } /^## / { on = 0 } on && /^\| (\*\*)?I=/' table.md | wc -l)
[ "$measured" -ge 2 ] || fail "the table lists $measured measured grid points, expected at least 2"
grep -q "^## Grid points without a measurement" table.md ||
  fail "the table does not list the grid points without a measurement"
unmeasured=$(awk -F'|' '/^## Grid points without a measurement/ { on = 1; next } on && /^\| [^-w]/ { n += $3 } END { print n + 0 }' table.md)
[ "$unmeasured" -le 4 ] || fail "$unmeasured of 8 grid points have no measurement, expected at most 4"
[ "$unmeasured" -ge 1 ] || fail "no grid point is listed without a measurement"
grep -q "dense2 bias .* beyond the 2^60 limit of model parameters" table.md ||
  fail "the unmeasured points do not name the parameter that stops them"
grep -q "folded bias" table.md && fail "a folded bias still stops a grid point"
grep -q "^# quantised from .*sigmoid-lsq-finetuned.txt" model.txt || fail "no model written"
[ "$(grep -c "^poly " model.txt)" -eq 2 ] || fail "the model does not hold two polynomial layers"

# One plaintext modulus is "1 plaintext modulus" (a trial read "1 plaintext moduli"): a one-point
# grid of 2-bit weights at I=1 needs one.
"$quantise" --sequential "$data/activation-study/relu-lsq-finetuned.txt" --data set \
  --out one-modulus.txt --results one-modulus.md --input-scales 1 --min-bits 2 --max-bits 2 \
  --min-accuracy 0 --threads 1 >one-modulus.log 2>&1 || fail "quantise, one modulus: $(cat one-modulus.log)"
grep -qE "^wrote one-modulus.txt: I=1 w=2/2/2, .* 1 plaintext modulus$" one-modulus.log ||
  fail "quantise, one modulus: not '1 plaintext modulus': $(tail -1 one-modulus.log)"
grep -q "1 plaintext moduli" one-modulus.txt one-modulus.md &&
  fail "quantise, one modulus: the model or the table says '1 plaintext moduli'"

# No grid point reaches the floor (found by a trial: exit 1 without a word): an error naming the
# floor, the best accuracy found and what to try, and no model (a one-point grid: quick).
"$quantise" --sequential "$data/activation-study/sigmoid-lsq-finetuned.txt" --data set \
  --out never.txt --results floor.md --input-scales 4 --min-bits 4 --max-bits 4 \
  --min-accuracy 1 --threads 1 >floor.log 2>&1
status=$?
[ "$status" -eq 1 ] || fail "quantise --min-accuracy 1: exit $status, expected 1"
grep -qE "^cryptonets-quantise: no grid point reaches the accuracy floor 100\.00% \(--min-accuracy\): the best found is [0-9.]+% \(I=4 " floor.log ||
  fail "quantise --min-accuracy 1: no error naming the floor and the best accuracy: $(cat floor.log)"
grep -qF "never.txt not written (floor.md lists the grid). Try a lower --min-accuracy, or a wider grid (--max-bits" floor.log ||
  fail "quantise --min-accuracy 1: the error does not say what to try: $(cat floor.log)"
[ -e never.txt ] && fail "quantise --min-accuracy 1 wrote a model"

# --help: an option's help of several lines goes on under its first line (column 27).
"$quantise" --help >help.txt 2>&1 || fail "quantise --help exited with an error"
misaligned=$(awk '/^options:/ { on = 1; next } /^$/ { on = 0 }
  on && !/^  --/ && !(substr($0, 1, 26) ~ /^ *$/ && substr($0, 27, 1) != " ")' help.txt)
[ -z "$misaligned" ] || fail "quantise --help: lines not under their option's help: $misaligned"
grep -qE "^ {26}5-layer shape whose activations" help.txt || fail "quantise --help: --sequential's text"

[ "$failures" -eq 0 ] || cat table.md >&2
finish "quantise sigmoid fit: $measured measured, $unmeasured listed without a measurement; model written"
