#!/usr/bin/env bash
# Bring your own data (issue 21). Makes a second data set inside the test (make_idx_set: MNIST
# digits 0-3, transposed and relabelled 3 - digit, as plain IDX files, 4 classes), then runs the
# commands a user runs: cryptonets-train -> cryptonets-quantise -> keygen / encrypt / infer /
# decrypt and the main job `cryptonets mnist --data`, small (test-only ring degree, small network,
# few epochs, a small quantisation grid). The encrypted scores must equal the plain integer
# model's. Then the checksum rule on every command that reads IDX data: SHA256SUMS absent (one
# "unverified" line naming --no-verify, and the command works), present and matching (no line),
# present and wrong or without an entry for a file (exit 1, a message naming the file, no output
# file); a split of no images (exit 1); and the quantiser's refusal of a float model below the
# accuracy floor, before its sweep; a model of another data set (its outputs not the classes of the
# labels: exit 1).
#
# usage: own_data.sh CRYPTONETS TRAIN QUANTISE MAKE_IDX_SET REPRODUCE DATA_DIR
set -uo pipefail

exe=$(realpath "$1")
train=$(realpath "$2")
quantise=$(realpath "$3")
make_set=$(realpath "$4")
reproduce=$(realpath "$5")
data=$(realpath "$6")

# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
cd "$work" || exit 1
# step NAME COMMAND... (support.sh): must succeed; its output goes to NAME.log.
# expect CODE PHRASE OUTPUT -- COMMAND... (support.sh): COMMAND exits with CODE, prints PHRASE, and
# leaves no OUTPUT (a file or directory; "-": none expected) and no temporary file behind.

# notes LOG COUNT: LOG holds COUNT lines saying that the data are unverified, naming --no-verify.
notes() {
  local found
  found=$(grep -c "data are unverified" "$1")
  [ "$found" -eq "$2" ] || fail "$1: $found 'unverified' lines, expected $2"
  if [ "$2" -gt 0 ] && ! grep "data are unverified" "$1" | grep -qF -- "--no-verify"; then
    fail "$1: the 'unverified' line does not name --no-verify"
  fi
}

step make_idx_set "$make_set" "$data/mnist" set 600 200
images=set/t10k-images-idx3-ubyte
labels=set/t10k-labels-idx1-ubyte
small_network=(--hidden 20 --warmup 5 --shift 0 --threads 2)
small_grid=(--input-scales '1,4' --max-bits 5 --threads 2)

# ---- The flow on the new data set, which has no SHA256SUMS: each command says so once and works.
step train "$train" --data set "${small_network[@]}" --epochs 4 --out float.txt
notes train.log 1
grep -q "training on 600 images, testing on 200, 4 classes" train.log ||
  fail "cryptonets-train did not find 4 classes in the labels"
grep -q "^dense outputs 4 inputs 20$" float.txt || fail "the float model has not 4 outputs"

step quantise "$quantise" --float float.txt --data set --out model.txt --results table.md \
  "${small_grid[@]}"
notes quantise.log 1
grep -q "^dense in 20 out 4 " model.txt || fail "the integer model has not 4 outputs"
# The grid's summary gives no clause of count 0 (a trial's table said "0 are not representable").
grep -E "^The grid has 128 points" table.md | grep -qE "(^|[^0-9.,])0 (are|is|points?|need)" &&
  fail "the table's grid summary has a clause of count 0: $(grep "^The grid has" table.md)"
grep -qE "^The grid has 128 points: .*[0-9]+ points? needs? at most 3 plaintext moduli and (was|were) evaluated on the test set" table.md ||
  fail "the table's grid summary does not say how many points were evaluated: $(grep "^The grid has" table.md)"
grep -q "^# CryptoNets network for the 4 classes of set quantised from float.txt" model.txt ||
  fail "model.txt's comment does not name the data set and its 4 classes"
# The default floor follows the float model: its test accuracy less 0.1 point.
read -r float_accuracy floor < <(sed -n \
  's/^float network: 4 classes, test \([0-9.]*\)%.*accuracy floor \([0-9.]*\)% (float test.*/\1 \2/p' \
  quantise.log)
if [ -z "${floor:-}" ] || [ "$(awk -v a="$float_accuracy" -v f="$floor" \
  'BEGIN { print (a - f > 0.0999 && a - f < 0.1001) ? "yes" : "no" }')" != yes ]; then
  fail "the default floor ${floor:-?}% is not the float accuracy ${float_accuracy:-?}% less 0.1 point"
fi
# In a pipe the progress is whole lines, ending with the last grid point.
grep -qE "^sweep \(grid points\): 128 / 128 \(100.0%\), [0-9]+ s$" quantise.log ||
  fail "no progress line for the whole sweep in the quantiser's log"
grep -q $'\r' quantise.log && fail "the quantiser's log holds carriage returns"

step keygen "$exe" keygen --model model.txt --out-dir client --insecure-ring-degree 256
# The model file states the plaintext moduli that keygen really takes (computed, not written in).
keygen_moduli=$(sed -n 's/^plaintext moduli: \([0-9]*\) x \([0-9]*\) bits.*/\1 \2/p' keygen.log)
model_moduli=$(sed -n 's/.* -> \([0-9]*\) plaintext modul[a-z]* of \([0-9]*\) bits;.*/\1 \2/p' \
  model.txt)
if [ -z "$keygen_moduli" ] || [ "$keygen_moduli" != "$model_moduli" ]; then
  fail "model.txt says '$model_moduli' (count, bits) plaintext moduli, keygen took '$keygen_moduli'"
fi
mkdir server && cp client/params client/evaluation.key client/public.key server/
step encrypt "$exe" encrypt --keys client --model model.txt --images "$images" --out images.ct \
  --threads 2
notes encrypt.log 1
step infer "$exe" infer --keys server --model model.txt --in images.ct --out scores.ct --threads 2
step decrypt "$exe" decrypt --keys client --model model.txt --in scores.ct --labels "$labels" \
  --plain-images "$images" --out labels.txt
notes decrypt.log 1
grep -q "encrypted scores equal the plain integer model's on all 200 images" decrypt.log ||
  fail "decrypted scores differ from the plain integer model's"
[ "$(grep -cx '[0-3]' labels.txt)" -eq 200 ] || fail "labels.txt does not hold 200 labels in 0..3"
correct=$(sed -n 's/^accuracy: .*(\([0-9]*\)\/200)$/\1/p' decrypt.log)
# Four well-separated classes: a network of 4 short epochs gets far above chance (25%).
if [ -z "$correct" ] || [ "$correct" -lt 160 ]; then fail "accuracy ${correct:-?}/200 is below 80%"; fi

step mnist "$exe" mnist --data set --model model.txt --insecure-ring-degree 256 --threads 2
notes mnist.log 1
grep -q "images: 200 test images of set (4 classes)" mnist.log ||
  fail "the main job did not classify the 200 test images of set into 4 classes"
grep -q "encrypted scores equal the plain integer network's: yes, on every image" mnist.log ||
  fail "the main job's encrypted scores differ from the plain integer network's"

# ---- A model of another data set is refused, naming both counts (a trial: the shipped 10-class
# model, --model not given, classified the 4-class set at 40 %, exit 0; the quantiser took the
# shipped float model and wrote a model "for the 10 classes of set").
mismatch_classes="'set/train-labels-idx1-ubyte' has 4 classes (labels 0..3), but the model '$data/model.txt' (the default of --model) has 10 outputs: it is a model for another data set"
expect 1 "$mismatch_classes" - -- "$exe" mnist --data set --insecure-ring-degree 64 --images 5
cp "$data/model-float.txt" mnist-float.txt
expect 1 "'set/train-labels-idx1-ubyte' has 4 classes (labels 0..3), but the float model 'mnist-float.txt' has 10 outputs: it is a model for another data set" \
  other-model.txt -- "$quantise" --float mnist-float.txt --data set --out other-model.txt \
  --results other-table.md "${small_grid[@]}"
[ -e other-table.md ] && fail "cryptonets-quantise wrote a table for a float model of another data set"
expect 1 "'set/train-labels-idx1-ubyte' has 4 classes (labels 0..3), but the model '$data/model.txt' has 10 outputs" \
  reproduction-other -- timeout 60 "$reproduce" --mode test --data set \
  --model "$data/model.txt" --paper-values "$data/../bench/paper_values.csv" \
  --out reproduction-other --report report-other.md
[ -e report-other.md ] && fail "cryptonets-reproduce wrote a report for a model of another data set"

# The report's accuracy section names the data run (a trial: "## Accuracy on the MNIST test
# images" with --data mydata). The parts whose models default to MNIST's run on another data set
# only when named (a review: the MNIST float and 9-layer models and the activation study ran on
# this set, 20.8 % and 12.5 %): the 5-layer row with --float-model named runs; the 9-layer
# network and the study are skipped, the report says why.
step reproduce-own "$reproduce" --mode test --data set --model model.txt --float-model float.txt \
  --paper-values "$data/../bench/paper_values.csv" --out reproduction-own --report report-own.md
grep -qxF '## Accuracy on the test images of --data `set`' report-own.md ||
  fail "report-own.md: the accuracy section does not name --data set: $(grep '^## Accuracy' report-own.md)"
grep -qF "Not run (9-layer training network, merged): --data 'set' is not the shipped MNIST set and --paper9-model and --paper9-float-model are not both named" report-own.md ||
  fail "report-own.md does not say why the 9-layer network was not run: $(grep -A3 '^## Both' report-own.md)"
grep -qF "Not run: --data 'set' is not the shipped MNIST set and --study-manifest is left at its default" report-own.md ||
  fail "report-own.md does not say why the activation study was not run: $(grep -A3 '^## Activation' report-own.md)"
grep -q "model-paper9" reproduction-own/networks.csv &&
  fail "cryptonets-reproduce ran MNIST's 9-layer network on set: $(cat reproduction-own/networks.csv)"
[ "$(wc -l <reproduction-own/activation_study.csv)" -eq 1 ] ||
  fail "cryptonets-reproduce ran MNIST's activation study on set: $(cat reproduction-own/activation_study.csv)"
[ "$(grep -c ',model.txt,' reproduction-own/networks.csv)" -eq 3 ] ||
  fail "the 5-layer network with --float-model named was not run on set: $(cat reproduction-own/networks.csv)"
grep -q "Not run (5-layer" report-own.md && fail "report-own.md skipped the 5-layer network with --float-model named"
# The paper's figures are MNIST's: no 'paper' column beside this set's accuracies (a review: "99 %
# *" stood beside the 4-class set's), and the report says why.
# (The closing list of the paper's values, a section of its own, still names it.)
grep -qF "99 % *" report-own.md && fail "report-own.md gives the paper's MNIST accuracy: $(grep -F "99 % *" report-own.md)"
[ "$(grep -cF "No 'paper' column: the paper's accuracy figures are MNIST's, not this data set's." report-own.md)" -eq 2 ] ||
  fail "report-own.md does not say twice why its accuracy tables have no 'paper' column"
grep -qxF '| | this project |' report-own.md ||
  fail "report-own.md: the accuracy table's header: $(grep -F '| | this project' report-own.md)"
grep -qF '| time per batch (s) |' report-own.md && ! grep -qF 'paper accuracy' report-own.md ||
  fail "report-own.md: the networks table's header: $(grep -F '| network |' report-own.md)"
# Without --float-model the 5-layer row is skipped too; a named model of another data set is
# refused before any work, and so is --study-only without a manifest for this data set.
expect 1 "the float model '$data/model-float.txt' (--float-model) has 10 outputs: it is a model for another data set" \
  reproduction-other -- timeout 60 "$reproduce" --mode test --data set --model model.txt \
  --float-model "$data/model-float.txt" --paper-values "$data/../bench/paper_values.csv" \
  --out reproduction-other --report report-other.md
expect 2 "--study-only has nothing to run: --data 'set' is not the shipped MNIST set and --study-manifest is left at its default" \
  reproduction-other -- "$reproduce" --study-only --mode test --data set --model model.txt \
  --out reproduction-other --report report-other.md

# A test split without the top class (3): the classes are the training labels' (a review: the
# test labels were counted, 3 classes, and the 4-output model refused as another data set's).
cp -r set notop
perl -0777 -pi -e 'substr($_, 8) =~ tr/\x03/\x02/' notop/t10k-labels-idx1-ubyte
tail -c +9 notop/t10k-labels-idx1-ubyte | od -An -tu1 | grep -qw 3 && fail "notop still has label 3"
step mnist-notop "$exe" mnist --data notop --model model.txt --insecure-ring-degree 64 \
  --images 16 --threads 2 --no-verify
# (reproduce stops at the --timing-n refusal, after the data and the class check: quick.)
expect 1 "BFV: select_bfv_parameters chose n = " - -- timeout 60 "$reproduce" --mode reduced \
  --timing-n 1024 --data notop --model model.txt --paper-values "$data/../bench/paper_values.csv" \
  --out reproduction-notop --report report.md --no-verify

# cryptonets-reproduce reads the data first: it notes them as unverified, then (here) stops at a
# --timing-n below BFV's ring degree, refused once the model and data are read, which keeps the
# check short. (An --out it cannot create stopped it here before; that is now a usage error
# before the data are read.)
expect 1 "BFV: select_bfv_parameters chose n = " - -- timeout 60 "$reproduce" --mode reduced \
  --timing-n 1024 --data set --model model.txt --paper-values "$data/../bench/paper_values.csv" \
  --out reproduction-unverified --report report.md
notes message.txt 1
# A count lowered twice (--batch-images 5000 to the ring degree 1024, then to the 200 test images
# of set) is said once, with the value given (a review: the note gave 1024 as the value given).
expect 1 "[reproduce] --batch-images 5000: the test set of --data 'set' has 200 images; using 200" - -- \
  timeout 60 "$reproduce" --mode reduced --timing-n 1024 --batch-images 5000 --data set \
  --model model.txt --paper-values "$data/../bench/paper_values.csv" \
  --out reproduction-lowered --report report.md
[ "$(grep -c -- "--batch-images" message.txt)" -eq 1 ] ||
  fail "cryptonets-reproduce --batch-images 5000 lowered twice: $(grep -- "--batch-images" message.txt)"

# ---- SHA256SUMS present and matching: no note, the same commands work.
(cd set && sha256sum -- *-ubyte* >SHA256SUMS)
step train-verified "$train" --data set "${small_network[@]}" --epochs 1 --out float-1.txt
step quantise-verified "$quantise" --float float.txt --data set --out model-2.txt \
  --results table-2.md "${small_grid[@]}"
step encrypt-verified "$exe" encrypt --keys client --model model.txt --images "$images" \
  --count 4 --out few.ct --threads 2
step decrypt-verified "$exe" decrypt --keys client --model model.txt --in scores.ct \
  --labels "$labels" --plain-images "$images" --out labels-2.txt
step mnist-verified "$exe" mnist --data set --model model.txt --insecure-ring-degree 64 \
  --images 16 --threads 2
for log in train-verified quantise-verified encrypt-verified decrypt-verified mnist-verified; do
  notes "$log.log" 0
done
cmp -s <(grep -v '^# regenerate' model.txt) <(grep -v '^# regenerate' model-2.txt) ||
  fail "quantising the same float model again gave another model"

# A checksum file as sha256sum -c takes it, CR line ends and names after "./" (a trial: "no entry
# for 't10k-images-idx3-ubyte'" from a file that lists it): verified, no note.
cp -r set dotted
(cd dotted && sha256sum -- ./*-ubyte* | sed 's/$/\r/' >SHA256SUMS)
(cd dotted && sha256sum -c --quiet SHA256SUMS) || fail "sha256sum -c refuses the dotted checksum file"
step encrypt-dotted "$exe" encrypt --keys client --model model.txt \
  --images dotted/t10k-images-idx3-ubyte --count 4 --out dotted.ct --threads 2
notes encrypt-dotted.log 0

# ---- An output in a directory that does not exist: a usage error naming the option, before any
# training or sweep (a trial: found only after all the work, exit 1, no option named).
expect 2 "--out: cannot write file 'no-dir/f.txt': its directory 'no-dir' does not exist" - -- \
  "$train" --data set "${small_network[@]}" --epochs 1 --out no-dir/f.txt
expect 2 "--results: cannot write file 'no-dir/t.md': its directory 'no-dir' does not exist" - -- \
  "$quantise" --float float.txt --data set --out never.txt --results no-dir/t.md "${small_grid[@]}"
[ -e never.txt ] && fail "cryptonets-quantise wrote never.txt with a bad --results"
expect 2 "--out: cannot write file 'no-dir/m.txt': its directory 'no-dir' does not exist" - -- \
  "$quantise" --float float.txt --data set --out no-dir/m.txt --results never.md "${small_grid[@]}"
[ -e never.md ] && fail "cryptonets-quantise wrote never.md with a bad --out"

# ---- SHA256SUMS present and wrong: one flipped pixel. Every command refuses, writes nothing.
cp -r set bad
printf '\x7f' | dd of=bad/t10k-images-idx3-ubyte bs=1 seek=1000 conv=notrunc status=none
mismatch="data file 'bad/t10k-images-idx3-ubyte' does not match its checksum file"
expect 1 "$mismatch" float-bad.txt -- "$train" --data bad "${small_network[@]}" --epochs 1 --out float-bad.txt
expect 1 "$mismatch" model-bad.txt -- "$quantise" --float float.txt --data bad \
  --out model-bad.txt --results table-bad.md "${small_grid[@]}"
[ -e table-bad.md ] && fail "cryptonets-quantise wrote table-bad.md from a corrupted data set"
expect 1 "$mismatch" bad.ct -- "$exe" encrypt --keys client --model model.txt \
  --images bad/t10k-images-idx3-ubyte --out bad.ct
expect 1 "$mismatch" labels-bad.txt -- "$exe" decrypt --keys client --model model.txt \
  --in scores.ct --plain-images bad/t10k-images-idx3-ubyte --out labels-bad.txt
expect 1 "$mismatch" - -- "$exe" mnist --data bad --model model.txt --insecure-ring-degree 64
expect 1 "$mismatch" report-bad.md -- "$reproduce" --mode test --data bad --model model.txt \
  --paper-values "$data/../bench/paper_values.csv" --out reproduction-bad --report report-bad.md
[ -e reproduction-bad ] && fail "cryptonets-reproduce wrote reproduction-bad from corrupted data"
# The message also says how to proceed.
grep -qF -- "--no-verify" message.txt || fail "the mismatch message does not name --no-verify"
# --no-verify reads the same files without the check (and without a note).
step encrypt-unchecked "$exe" encrypt --keys client --model model.txt \
  --images bad/t10k-images-idx3-ubyte --count 1 --out unchecked.ct --no-verify
notes encrypt-unchecked.log 0

# ---- A --timing-n below BFV's ring degree is refused, outside --mode test, before any file is
# written (found by a trial: BFV was moved to it silently, its primes at that n with no security).
# Without the refusal the reduced run would go on for minutes: the timeout makes that a failure.
expect 1 "BFV: select_bfv_parameters chose n = " report-small-n.md -- timeout 60 "$reproduce" \
  --mode reduced --timing-n 1024 --data set --model model.txt \
  --paper-values "$data/../bench/paper_values.csv" --out reproduction-small-n --report report-small-n.md
grep -qF "above this run's ring degree n = 1024 (--timing-n); BFV is not moved to a smaller n outside --mode test" message.txt ||
  fail "cryptonets-reproduce --timing-n 1024: the refusal does not say why"
[ -e reproduction-small-n ] && fail "cryptonets-reproduce wrote reproduction-small-n before refusing"
# ---- SHA256SUMS present without an entry for a file that is read: refused as well.
cp -r set partial
sed -i '/t10k-labels/d' partial/SHA256SUMS
no_entry="checksum file 'partial/SHA256SUMS' has no entry for 't10k-labels-idx1-ubyte'"
expect 1 "$no_entry" float-partial.txt -- "$train" --data partial "${small_network[@]}" \
  --epochs 1 --out float-partial.txt
expect 1 "$no_entry" model-partial.txt -- "$quantise" --float float.txt --data partial \
  --out model-partial.txt --results table-partial.md "${small_grid[@]}"
expect 1 "$no_entry" labels-partial.txt -- "$exe" decrypt --keys client --model model.txt \
  --in scores.ct --labels partial/t10k-labels-idx1-ubyte --out labels-partial.txt
expect 1 "$no_entry" - -- "$exe" mnist --data partial --model model.txt \
  --insecure-ring-degree 64
expect 1 "$no_entry" report-partial.md -- "$reproduce" --mode test --data partial \
  --model model.txt --paper-values "$data/../bench/paper_values.csv" --out reproduction-partial \
  --report report-partial.md

# ---- A float model below the floor is refused before the sweep (no progress line, no files).
step train-untrained "$train" --data set --hidden 20 --epochs 1 --train-limit 1 --out untrained.txt
expect 1 "no quantisation is tried" untrained-model.txt -- "$quantise" --float untrained.txt \
  --data set --out untrained-model.txt --results untrained-table.md --min-accuracy 0.9
grep -q "sweep" message.txt && fail "cryptonets-quantise swept the grid for a float model below the floor"
[ -e untrained-table.md ] && fail "cryptonets-quantise wrote a table for a refused float model"

# ---- No grid point reaches the floor (a one-point grid of 1-bit weights, far below the float
# model): an error naming the floor, the best accuracy found and what to try; no model written.
expect 1 "no grid point reaches the accuracy floor" coarse-model.txt -- "$quantise" --float float.txt \
  --data set --out coarse-model.txt --results coarse-table.md --input-scales 1 --min-bits 1 \
  --max-bits 1 --threads 2
grep -qE "the best found is [0-9.]+% \(I=1 .*Try a lower --min-accuracy, or a wider grid" message.txt ||
  fail "cryptonets-quantise: the error does not give the best accuracy and what to try: $(cat message.txt)"
# ---- Grid points that are not representable (a quantised bias reaches 2^60): the error says
# which and why, gives no "worst case of 0 bits", and does not send the user to --max-moduli
# (a trial: "none of the 1 grid point(s) could be measured within --max-moduli"). A count of one
# is said in the singular (it was "1 point(s)").
# The shipped float model has 10 outputs: it is run on a 10-class set made as `set` is.
step make_idx_set_10 "$make_set" "$data/mnist" set10 600 200 10
expect 1 "the 1 grid point could not be measured; 1 point not representable: a quantised bias reaches 2^60 (I=16 w=8/8/8)" \
  wide-model.txt -- "$quantise" --float mnist-float.txt --data set10 --out wide-model.txt \
  --results wide-table.md --input-scales 16 --min-bits 8 --max-bits 8 --max-moduli 1 --threads 2
grep -qF "Try smaller --input-scales or --max-bits" message.txt ||
  fail "quantise, no point representable: the error does not say what to try: $(cat message.txt)"
grep -qF -- "--max-moduli" message.txt &&
  fail "quantise, no point representable: the error suggests --max-moduli: $(cat message.txt)"
grep -q "worst case of 0 bits" wide-table.md && fail "wide-table.md gives a worst case of 0 bits"
grep -qF "No point is representable" wide-table.md ||
  fail "wide-table.md does not say that no point is representable"
# The point's row gives its reason in a cell of its own: every row has the header's cells (the
# reason was a twelfth cell beyond an eleven-column header).
grep -qF "| not evaluated: a quantised bias reaches 2^60 |" wide-table.md ||
  fail "wide-table.md: no row gives the unrepresentable point's reason: $(cat wide-table.md)"
python3 - wide-table.md <<'PY' || fail "wide-table.md: a table row's cells differ from its header's"
import re, sys
header = None
for number, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if not line.startswith("|"):
        header = None
        continue
    cells = len(re.split(r"(?<!\\)\|", line.rstrip("\n"))) - 2
    if header is None:
        header = cells
    elif cells != header:
        sys.exit(f"line {number}: {cells} cells, the header has {header}: {line.strip()}")
PY
# Points skipped for needing more moduli than --max-moduli: the error says how many and suggests
# raising it (the old hint could not fire: it looked at points that are never measured).
# (The shipped I=16 w=4/5/9 needs 2.)
expect 1 "34 points need more than 1 plaintext modulus (--max-moduli) and were not measured" \
  wide-model.txt -- "$quantise" --float mnist-float.txt --data set10 --out wide-model.txt \
  --results wide-table.md --input-scales 16 --min-bits 4 --max-bits 9 --max-moduli 1 --threads 2
grep -qF "a larger --max-moduli" message.txt ||
  fail "quantise, a point needing 2 moduli: the error does not suggest --max-moduli: $(cat message.txt)"

# ---- Two of the quantiser's files that are the same file (a trial: --float X --out X replaced
# the float model, --out X --results X the table): a usage error before any work, nothing written.
cp float.txt same.txt
expect 2 "--out 'same.txt' is the same file as --float './same.txt'" - -- "$quantise" \
  --float ./same.txt --data set --out same.txt --results same-table.md "${small_grid[@]}"
cmp -s float.txt same.txt || fail "cryptonets-quantise --float X --out X replaced its input"
[ -e same-table.md ] && fail "cryptonets-quantise wrote same-table.md before refusing"
ln -s same.txt same-link.txt
expect 2 "--out 'same-link.txt' is the same file as --float 'same.txt'" - -- "$quantise" \
  --float same.txt --data set --out same-link.txt --results same-table.md "${small_grid[@]}"
cmp -s float.txt same.txt || fail "cryptonets-quantise --out LINK-TO-FLOAT replaced its input"
# A link to nothing yet is written through: --out through it would write --results (a trial).
ln -s dangling-target.md dangling-link.md
expect 2 "--results 'dangling-target.md' is the same file as --out 'dangling-link.md'" \
  dangling-target.md -- "$quantise" --float float.txt --data set --out dangling-link.md \
  --results dangling-target.md "${small_grid[@]}"
expect 2 "--results 'both.md' is the same file as --out 'both.md'" both.md -- "$quantise" \
  --float float.txt --data set --out both.md --results both.md "${small_grid[@]}"
expect 2 "--results './new.md' is the same file as --out 'new.md'" new.md -- "$quantise" \
  --float float.txt --data set --out new.md --results ./new.md "${small_grid[@]}"
expect 2 "--float and --sequential exclude each other" seq-model.txt -- "$quantise" \
  --float float.txt --sequential "$data/activation-study/relu.txt" --data set \
  --out seq-model.txt --results seq-table.md "${small_grid[@]}"
# A model of the other option's kind: a usage error naming the option to use (a trial: "found
# 'cryptonets-sequential-model', expected 'cryptonets-float-model'", exit 1).
expect 2 "--float '$data/activation-study/relu.txt' holds a sequential model (cryptonets-train --architecture paper, --activation or --fine-tune): give it as --sequential" \
  seq-model.txt -- "$quantise" --float "$data/activation-study/relu.txt" --data set \
  --out seq-model.txt --results seq-table.md "${small_grid[@]}"
expect 2 "--sequential 'float.txt' holds a float model of the 5-layer network: give it as --float" \
  seq-model.txt -- "$quantise" --sequential float.txt --data set --out seq-model.txt \
  --results seq-table.md "${small_grid[@]}"
[ -e seq-table.md ] && fail "cryptonets-quantise wrote seq-table.md for a model of the other option"
expect 2 "--fine-tune 'float.txt' holds a float model of the default network, which --fine-tune cannot continue" \
  seq-model.txt -- "$train" --fine-tune float.txt --data set --epochs 1 --out seq-model.txt
# The integer model, quantise's output, as an input of either (it was exit 1 after the data were
# read: "found 'cryptonets-model', expected 'cryptonets-sequential-model'").
expect 2 "--fine-tune 'model.txt' holds an integer model of cryptonets-quantise, which --fine-tune cannot continue" \
  seq-model.txt -- "$train" --fine-tune model.txt --data set --epochs 1 --out seq-model.txt
expect 2 "--float 'model.txt' holds an integer model, what cryptonets-quantise writes" seq-model.txt -- \
  "$quantise" --float model.txt --data set --out seq-model.txt --results seq-table.md \
  "${small_grid[@]}"
expect 2 "--sequential 'model.txt' holds an integer model, what cryptonets-quantise writes" \
  seq-model.txt -- "$quantise" --sequential model.txt --data set --out seq-model.txt \
  --results seq-table.md "${small_grid[@]}"
# --merged writes a float model, of square activations: others are refused before the training
# (a trial: trained, then "to_float_network: FloatNetwork's activations are squares", exit 1).
expect 2 "--merged writes a float model, whose activations are squares: not with --activation relu" \
  merged.txt -- "$train" --data set "${small_network[@]}" --architecture paper --activation relu \
  --epochs 1 --out seq-model.txt --merged merged.txt
expect 2 "--merged writes a float model, whose activations are squares: '$data/activation-study/relu.txt' has relu activations" \
  merged.txt -- "$train" --data set --fine-tune "$data/activation-study/relu.txt" --epochs 1 \
  --out seq-model.txt --merged merged.txt
# ... before the data are read (it was refused after them, "training on ..." printed).
grep -q "training on" message.txt && fail "--merged with a relu --fine-tune model read the data first"
expect 2 "--merged writes a float model, whose activations are squares: not with --approximate" \
  merged.txt -- "$train" --data set --fine-tune "$data/activation-study/relu.txt" \
  --approximate lsq --epochs 1 --out seq-model.txt --merged merged.txt
[ -e seq-model.txt ] && fail "cryptonets-train wrote seq-model.txt with a --merged it refused"
# The merged float model's comment says how its hidden layer was trained: as the 9-layer
# network's 4 linear layers, merged (a review: it said "trained as one dense layer", as the
# 5-layer network's does).
step train_merged "$train" --data set "${small_network[@]}" --architecture paper --epochs 1 \
  --out seq-model.txt --merged merged.txt
grep -qxF "# CryptoNets (Gilad-Bachrach et al., ICML 2016, Table 1); the hidden dense layer trained as 4 linear layers, then merged into one (as Table 1's layers 3-6)" merged.txt ||
  fail "the merged float model's comment: $(sed -n 2p merged.txt)"
grep -qxF "# CryptoNets (Gilad-Bachrach et al., ICML 2016, Table 1); Table 1's linear layers 3-6 trained as one dense layer" float.txt ||
  fail "the float model's comment: $(sed -n 2p float.txt)"
rm -f seq-model.txt merged.txt

# ---- An input scale twice, or a last empty item: usage errors (a trial: "I in {4, 4}", each point
# of the grid counted twice; "1," taken as "1").
expect 2 "--input-scales lists 4 twice, in '1,4.0,4'" twice-model.txt -- "$quantise" --float float.txt \
  --data set --out twice-model.txt --results twice-table.md --input-scales 1,4.0,4 --max-bits 3
expect 2 "--input-scales expects positive numbers separated by commas, got '1,'" twice-model.txt -- \
  "$quantise" --float float.txt --data set --out twice-model.txt --results twice-table.md \
  --input-scales 1, --max-bits 3
# A scale above 255 (a review: accepted, though I = 255 already feeds the raw pixel byte).
for scales in 256 1,510; do
  expect 2 "--input-scales takes scales I from above 0 to 255" twice-model.txt -- "$quantise" \
    --float float.txt --data set --out twice-model.txt --results twice-table.md \
    --input-scales "$scales" --max-bits 3
done
[ -e twice-table.md ] && fail "cryptonets-quantise wrote twice-table.md for a refused --input-scales"
# --max-bits below --min-bits names --min-bits (it was "expects an integer in [4, 16], got '3'").
expect 2 "--max-bits 3 is below --min-bits 4" twice-model.txt -- "$quantise" --float float.txt \
  --data set --out twice-model.txt --results twice-table.md --min-bits 4 --max-bits 3
expect 2 "--max-bits 1 is below --min-bits 2 (its default)" twice-model.txt -- "$quantise" \
  --float float.txt --data set --out twice-model.txt --results twice-table.md --max-bits 1

# ---- A step size or clip of 0, which the trainer refuses: a usage error naming the option, with
# the range that --help gives (a trial: --lr 0 passed the check of [0, 10], then exit 1).
expect 2 "--lr expects a number in (0, 10], got '0'" lr0.txt -- "$train" --data set \
  "${small_network[@]}" --epochs 1 --lr 0 --out lr0.txt
expect 2 "--clip expects a number in (0, 1e+09], got '0'" lr0.txt -- "$train" --data set \
  "${small_network[@]}" --epochs 1 --clip 0 --out lr0.txt
"$train" --help >train-help.txt 2>&1 || fail "cryptonets-train --help exited with an error"
grep -qF "Adam step size after warm-up, in (0, 10]" train-help.txt ||
  fail "cryptonets-train --help does not give --lr's range"

# ---- cryptonets-reproduce: an unreadable --study-manifest or --paper-values is refused before any
# directory is made (a trial: 27 s of measurements first, empty directories left), and a list
# where one value is expected is refused (--timing-n 1024,8192 ran at 1024).
expect 1 "cannot read the activation study's manifest no-such.csv" reproduction-nm -- \
  timeout 20 "$reproduce" --mode test --data set --model model.txt \
  --paper-values "$data/../bench/paper_values.csv" --study-manifest no-such.csv \
  --out reproduction-nm --report report-nm/report.md
[ -e report-nm ] && fail "cryptonets-reproduce made report-nm for a missing --study-manifest"
expect 1 "cannot read the paper's values from no-such.csv" reproduction-np -- \
  timeout 20 "$reproduce" --mode test --data set --model model.txt --paper-values no-such.csv \
  --out reproduction-np --report report-np/report.md
[ -e report-np ] && fail "cryptonets-reproduce made report-np for a missing --paper-values"
# (--seed, not a count, names its own range: tools.sh.)
for option in --timing-n --batch-images --accuracy-images --encrypted-images; do
  expect 2 "$option expects one positive integer, got the list '1024,8192'" reproduction-list -- \
    timeout 20 "$reproduce" --mode test --data set --model model.txt "$option" 1024,8192 \
    --paper-values "$data/../bench/paper_values.csv" --out reproduction-list --report r-list.md
done
# A sign is no digit: --threads -1 read as 2^64 - 1 ran 1024 threads (a trial), " 8" is refused too.
# A last empty item is refused too ("1," ran as "1"), and so is more than 1024 threads (5000 ran
# at 1024); a count where one value is expected says so (--timing-n 0 spoke of lists).
for value in -1 +2 " 8" 1,; do
  expect 2 "--threads expects positive integers separated by commas, got '$value'" reproduction-sign -- \
    timeout 20 "$reproduce" --mode test --data set --model model.txt --threads "$value" \
    --paper-values "$data/../bench/paper_values.csv" --out reproduction-sign --report r-sign.md
done
expect 2 "--threads takes thread counts from 1 to 1024, got '1,5000'" reproduction-many -- \
  timeout 20 "$reproduce" --mode test --data set --model model.txt --threads 1,5000 \
  --paper-values "$data/../bench/paper_values.csv" --out reproduction-many --report r-many.md
for value in 0 1024, x; do
  expect 2 "--timing-n expects one positive integer, got '$value'" reproduction-zero -- \
    timeout 20 "$reproduce" --mode test --data set --model model.txt --timing-n "$value" \
    --paper-values "$data/../bench/paper_values.csv" --out reproduction-zero --report r-zero.md
done

# ---- A split of no images (IDX headers of count 0): an error naming the file, no output (a
# trial: an empty test set trained to 'test 0.00%', and the main job printed an accuracy and a
# throughput of -nan, exit 0).
cp -r set empty-test
rm empty-test/SHA256SUMS
printf '\x00\x00\x08\x03\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x1c' \
  >empty-test/t10k-images-idx3-ubyte
printf '\x00\x00\x08\x01\x00\x00\x00\x00' >empty-test/t10k-labels-idx1-ubyte
no_test="IDX file 'empty-test/t10k-images-idx3-ubyte' holds no images (and its labels file no labels): the test set needs at least one image"
expect 1 "$no_test" float-empty.txt -- "$train" --data empty-test "${small_network[@]}" \
  --epochs 1 --out float-empty.txt --no-verify
expect 1 "$no_test" model-empty.txt -- "$quantise" --float float.txt --data empty-test \
  --out model-empty.txt --results table-empty.md "${small_grid[@]}" --no-verify
[ -e table-empty.md ] && fail "cryptonets-quantise wrote table-empty.md for an empty test set"
expect 1 "$no_test" - -- "$exe" mnist --data empty-test --model model.txt \
  --insecure-ring-degree 64 --no-verify
grep -q nan message.txt && fail "cryptonets mnist on an empty test set printed nan: $(cat message.txt)"
cp -r empty-test empty-train
cp set/t10k-* empty-train/
cp empty-test/t10k-images-idx3-ubyte empty-train/train-images-idx3-ubyte
cp empty-test/t10k-labels-idx1-ubyte empty-train/train-labels-idx1-ubyte
expect 1 "IDX file 'empty-train/train-images-idx3-ubyte' holds no images (and its labels file no labels): the training set needs at least one image" \
  float-empty.txt -- "$train" --data empty-train "${small_network[@]}" --epochs 1 \
  --out float-empty.txt --no-verify

# ---- A --data that is no directory: said so (a trial: 'missing train-images-idx3-ubyte' for both).
expect 1 "data set 'no-such-set': no such directory" - -- "$train" --data no-such-set \
  "${small_network[@]}" --epochs 1 --out never.txt
expect 1 "data set 'model.txt' is not a directory" - -- "$quantise" --float float.txt \
  --data model.txt --out never.txt --results never.md "${small_grid[@]}"
expect 1 "data set 'no-such-set': no such directory" - -- "$exe" mnist --data no-such-set \
  --model model.txt --insecure-ring-degree 64
ln -s loop-set loop-set
expect 1 "data set 'loop-set': cannot reach it: Too many levels of symbolic links" - -- \
  "$train" --data loop-set "${small_network[@]}" --epochs 1 --out never.txt
cp -r set loop-file
ln -sf train-images-idx3-ubyte loop-file/train-images-idx3-ubyte
expect 1 "IDX file 'loop-file/train-images-idx3-ubyte': cannot reach it: Too many levels of symbolic links" \
  - -- "$train" --data loop-file "${small_network[@]}" --epochs 1 --out never.txt --no-verify
[ -e never.txt ] || [ -e never.md ] && fail "a --data that is no directory left an output"

# A dangling symbolic link for an IDX file: said so, with where it points (a review: "missing
# 't10k-images-idx3-ubyte'", and "no such regular file" for the file itself). A dangling .gz link
# beside a plain file is the data set's fault too, not a reason to read the plain file.
cp -r set dangling
ln -sf ../nowhere/t10k dangling/t10k-images-idx3-ubyte
dangling_said="IDX file 'dangling/t10k-images-idx3-ubyte': it is a symbolic link to '../nowhere/t10k', which does not exist"
expect 1 "$dangling_said" - -- "$exe" mnist --data dangling --model model.txt --insecure-ring-degree 64
expect 1 "$dangling_said" never.ct -- "$exe" encrypt --keys client --model model.txt \
  --images dangling/t10k-images-idx3-ubyte --out never.ct
cp set/t10k-images-idx3-ubyte dangling/
ln -s gone.gz dangling/train-labels-idx1-ubyte.gz
expect 1 "IDX file 'dangling/train-labels-idx1-ubyte.gz': it is a symbolic link to 'gone.gz', which does not exist" \
  - -- "$train" --data dangling "${small_network[@]}" --epochs 1 --out never.txt
[ -e never.txt ] && fail "a data set with a dangling link left an output"
# A chain of links that ends in nothing names the last link's target (the first link's target
# exists, as a link: it was called absent; a review).
ln -sf gone.gz dangling/second.gz
ln -sf second.gz dangling/train-labels-idx1-ubyte.gz
expect 1 "it is a symbolic link to 'second.gz', a chain of links whose last points to 'gone.gz', which does not exist" \
  - -- "$train" --data dangling "${small_network[@]}" --epochs 1 --out never.txt

# The data directory where a file of it belongs: said so (a trial: "no such regular file").
expect 1 "IDX file 'set': it is a directory, not an IDX file: give the file itself" never.ct -- \
  "$exe" encrypt --keys client --model model.txt --images set --out never.ct
expect 1 "IDX file 'set': it is a directory, not an IDX file" - -- "$exe" decrypt --keys client \
  --model model.txt --in scores.ct --labels set

# ---- The note's command to make the checksum file works as pasted, for a directory whose name
# has a space (a trial: 'cd my data && ...', which cd refuses) or starts with '-' (a review:
# 'cd -data' is an invalid option, and 'cd -' goes to the previous directory).
for dir in "my data" -dashed -; do
  mkdir -- "$dir"
  cp set/*-ubyte -- "$dir/"
  step train-spaced "$train" --data="$dir" "${small_network[@]}" --epochs 1 --out spaced.txt
  notes train-spaced.log 1
  made=$(sed -n 's/.*(make one with: \(.*\); --no-verify skips.*/\1/p' train-spaced.log)
  sh -c "$made" >/dev/null 2>&1 || fail "the note's command failed: $made"
  [ -s "$dir/SHA256SUMS" ] || fail "the note's command made no '$dir/SHA256SUMS': $made"
  step train-spaced-verified "$train" --data="$dir" "${small_network[@]}" --epochs 1 \
    --out spaced.txt
  notes train-spaced-verified.log 0
done

# ---- Labels of the data set beyond the model's outputs: a clear error, not a wrong accuracy.
expect 1 "is not one of the 4 classes 0..3" - -- "$exe" mnist --data "$data/mnist" \
  --model model.txt --insecure-ring-degree 64 --images 8

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "own data: train -> quantise -> encrypted classification of a 4-class set; checksum rule on" \
  "train, quantise, encrypt, decrypt, mnist and reproduce; all checks passed"
