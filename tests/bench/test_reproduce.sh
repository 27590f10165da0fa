#!/usr/bin/env bash
# The reproduction driver in its test mode (n = 1024, two 24-image batches, scaling n = 1024, 2048)
# through bench/reproduce.sh: the report, every CSV file with its columns, and the PNGs must exist,
# and the encrypted scores must equal the plain network's: in the main runs (YASHE' paper and
# default, BFV), for both training networks under each parameter set, and for the activation
# study's polynomial models (issue 17). Then the script on the driver's exit 1: it stops after a
# failure (which writes nothing), and plots when the encrypted scores differ (the files written).
# A study manifest with a bad row is refused before any measurement.
# Usage: test_reproduce.sh SOURCE_ROOT DRIVER
set -euo pipefail
root="$1"
driver="$2"
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
out="$work/reproduction"
report="$work/reproduction.md"

# --model named (the shipped one, by its absolute path): the report names the file run. --data a
# byte-for-byte copy of the shipped MNIST set: MNIST all the same, with the papers' columns and
# MNIST's heading checked below (a trial: a copy was taken for another data set, recognised by its
# path only).
cp -r "$root/data/mnist" "$work/mnist-copy"
CRYPTONETS_REPRODUCE="$driver" bash "$root/bench/reproduce.sh" --mode test --out "$out" \
  --report "$report" --paper-values "$root/bench/paper_values.csv" --seed 9 \
  --model "$root/data/model.txt" --data "$work/mnist-copy" >"$work/log" 2>&1 || {
  cat "$work/log"
  echo "FAIL: bench/reproduce.sh --mode test exited with an error"
  exit 1
}

# One plaintext modulus is said in the singular (the scaling run at n = 2048 read "1 plaintext
# moduli").
grep -q "n = 2048, .*, 1 plaintext modulus$" "$work/log" ||
  fail "the log has no '1 plaintext modulus' key generation line for n = 2048"
grep -q " 1 plaintext moduli" "$work/log" && fail "the log says '1 plaintext moduli'"
# So is one thread ("paper, 1 thread(s): batch 1/1 (24 images)").
grep -qF "[reproduce] paper, 1 thread: batch 1/1 (24 images)" "$work/log" && ! grep -qF "thread(s)" "$work/log" ||
  fail "the log's batch lines: $(grep -m2 ': batch ' "$work/log")"

expect_header() {  # file, exact header line
  [ -s "$out/$1" ] || { fail "$1 missing or empty"; return; }
  local header
  header="$(head -n 1 "$out/$1")"
  [ "$header" = "$2" ] || fail "$1 header is '$header', expected '$2'"
  [ "$(wc -l <"$out/$1")" -ge 2 ] || fail "$1 has no data rows"
}

expect_header stages.csv "preset,n,log2_q,primes,moduli,threads,images,stage,layer,seconds,seconds_per_modulus,ciphertexts,memory_bytes,predicted_budget_bits,measured_budget_bits"
expect_header summary.csv "preset,n,log2_q,primes,moduli,threads,images,keygen_seconds,encrypt_seconds,network_seconds,decrypt_seconds,latency_seconds,predictions_per_hour,full_batch_predictions_per_hour,upload_bytes,download_bytes"
expect_header accuracy.csv "preset,n,threads,images,batches,encrypted_accuracy,plain_accuracy,score_mismatches,label_mismatches,agree"
expect_header noise.csv "preset,threads,step,stage,predicted_budget_bits,measured_budget_bits"
expect_header scaling_n.csv "n,primes,log2_q,plaintext_moduli,moduli_run,threads,predicted_budget_bits,measured_budget_bits,keygen_seconds,encrypt_seconds,encrypt_seconds_modulus1,network_seconds,network_seconds_modulus1,ciphertext_bytes,status"
expect_header layers_plot.csv "stage,paper 1T,paper 2T,default 1T,default 2T,bfv 1T,bfv 2T,authors' code (SEAL 3.2)"
expect_header networks.csv "network,model,scheme,preset,n,log2_q,plaintext_moduli,output_bits,images,float_accuracy,integer_accuracy,encrypted_images,encrypted_accuracy,score_mismatches,equal,predicted_budget_bits,measured_budget_bits,threads,batch_images,batch_seconds"
expect_header activation_study.csv "activation,variant,float_model,fit,degree,integer_model,images,float_accuracy,integer_accuracy,scheme,n,encrypted_images,encrypted_accuracy,equal,plaintext_moduli,output_bits,predicted_budget_bits,measured_budget_bits,threads,batch_seconds,activations"
expect_header activation_study_plot.csv "variant,float,integer (quantised),encrypted (YASHE'),encrypted (BFV)"
grep -q '^2\. square,.*,9\.750$' "$out/layers_plot.csv" || fail "layers_plot.csv: the authors' code time of layer 2 is missing"

# The content that the test mode fixes: two presets x two thread counts, 7 stages each; 48 images
# in 2 batches whose encrypted scores equal the plain ones; both ring degrees measured.
[ "$(grep -c '^default,1024,' "$out/stages.csv")" -eq 14 ] || fail "stages.csv: expected 14 default rows at n = 1024"
[ "$(grep -c '^bfv,1024,' "$out/stages.csv")" -eq 14 ] || fail "stages.csv: expected 14 BFV rows at n = 1024"
# Both training networks x (YASHE' paper, YASHE' default, BFV): 6 rows, every score equal.
[ "$(grep -c ',0,yes,' "$out/networks.csv")" -eq 6 ] || fail "networks.csv: expected 6 rows with equal scores: $(cat "$out/networks.csv")"
for scheme_preset in yashe,paper yashe,default bfv,bfv; do
  for model in model.txt model-paper9.txt; do
    grep -q ",$model,$scheme_preset," "$out/networks.csv" || fail "networks.csv: no row for $model under $scheme_preset"
  done
done
grep -q '^default,1024,2,48,2,[0-9.]*,[0-9.]*,0,0,yes$' "$out/accuracy.csv" || fail "accuracy.csv: $(tail -n 1 "$out/accuracy.csv")"
for n in 1024 2048; do
  grep -q "^$n,.*,measured\$" "$out/scaling_n.csv" || fail "scaling_n.csv: n = $n not measured"
done

for png in layers noise scaling_n scaling_threads activation_study; do
  [ -s "$out/$png.png" ] || { fail "$png.png missing"; continue; }
  [ "$(head -c 8 "$out/$png.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
    fail "$png.png is not a PNG file"
  grep -q "($(basename "$out")/$png.png)" "$report" || fail "the report does not show $png.png"
done

[ -s "$report" ] || fail "report missing"
for section in "## Machine and run" "## Parameters" "## Time per stage" "## Latency and throughput" \
  "## Accuracy on the MNIST test images" "## Message sizes" "## Noise budget after each layer" \
  "## Scaling with the ring degree n" "## Scaling with threads" \
  "## Both training networks under each parameter set" "## Activation study (Crypto-Nets, 2014)" \
  "## The paper's values"; do
  grep -qF "$section" "$report" || fail "report lacks '$section'"
done
grep -q "| stage | paper 1T | paper 2T | default 1T | default 2T | bfv 1T | bfv 2T | paper | authors' code ‡ |" "$report" ||
  fail "the stage table lacks its configuration or 'paper' columns"
grep -q "^| 2\. square |.*| not verified | 9\.75 s ‡ |\$" "$report" ||
  fail "the stage table does not show the authors' code time beside layer 2"
grep -q "| not verified | not verified |\$" "$report" ||
  fail "the message-size table does not say that the paper's sizes are not verified"
grep -q "^| param_t1 | .* | 1099511922689 | .* | code |\$" "$report" ||
  fail "the paper's values lack t1 with its standing"

# The report's tables: the parameter rows, the networks table (equal scores in every row) and the
# study table's columns; a study row with an encrypted cell says the scores are equal.
for row in "| YASHE' paper | 1024 |" "| YASHE' default | 1024 |" "| BFV | 1024 |"; do
  grep -qF "$row" "$report" || fail "the parameters table lacks the row '$row'"
done
# The paper's values as read (a named --paper-values was reported as bench/paper_values.csv).
for said in "The 'paper' columns come from \`$root/bench/paper_values.csv\`;" \
  "From \`$root/bench/paper_values.csv\`. Status"; do
  grep -qF "$said" "$report" || fail "the report does not name --paper-values: no '$said'"
done
# The networks' files as run (a trial: --model mydata/model.txt was reported as data/model.txt).
grep -qF "The 5-layer network trained directly (\`$root/data/model.txt\`, from \`data/model-float.txt\`)" \
  "$report" || fail "the networks section does not name --model: $(grep "^The 5-layer" "$report")"
grep -q "| network | parameters | n | log2 q | plaintext moduli | output bits | float | integer | encrypted | encrypted = plain | noise left (bits) | time per batch (s) | paper accuracy |" "$report" ||
  fail "the networks table lacks its columns"
[ "$(grep -cE "^\| (5-layer|9-layer).*\| (YASHE' paper|YASHE' default|BFV) \|.*\| yes \|" "$report")" -eq 6 ] ||
  fail "the networks table lacks 6 rows whose encrypted scores equal the plain ones"
grep -qF "| activation | variant | activation layers | float | integer | encrypted YASHE' | encrypted BFV | encrypted = plain (YASHE' / BFV) | output bits | plaintext bits (YASHE' / BFV) | noise left, bits: measured (predicted), YASHE' / BFV | time per batch, s (YASHE' / BFV) |" "$report" ||
  fail "the activation study table lacks its columns"
grep -qE "^\| [A-Za-z]+ \| original \|.*\| - \| - \| - \| - \| - \| - \| - \|\$" "$report" ||
  fail "the activation study lacks an original (ReLU/sigmoid) row without an encrypted form"
# Column 14 (equal) comes before the only field with commas (activations, last). Each encrypted
# model runs under both schemes (issue 17, item b): as many BFV rows as YASHE' rows.
study_yashe="$(awk -F, 'NR > 1 && $10 == "yashe" && $14 != "" { n++ } END { print n + 0 }' "$out/activation_study.csv")"
study_bfv="$(awk -F, 'NR > 1 && $10 == "bfv" && $14 != "" { n++ } END { print n + 0 }' "$out/activation_study.csv")"
study_equal="$(awk -F, 'NR > 1 && $14 == "yes" { n++ } END { print n + 0 }' "$out/activation_study.csv")"
[ "$study_yashe" -ge 1 ] || fail "activation_study.csv: no polynomial model was run encrypted under YASHE'"
[ "$study_bfv" -eq "$study_yashe" ] || fail "activation_study.csv: $study_yashe YASHE' runs but $study_bfv BFV runs"
[ "$study_equal" -eq $((study_yashe + study_bfv)) ] || fail "activation_study.csv: $((study_yashe + study_bfv - study_equal)) encrypted runs differ from the plain ones"
[ "$(grep -cE "^\| [A-Za-z]+ \| [^|]* \| polynomial.*\| yes / yes \| [0-9]+ \| [0-9]+ x [0-9]+ / [0-9]+ x [0-9]+ \|" "$report")" -eq "$study_yashe" ] ||
  fail "the activation study table does not show 'yes / yes' in each encrypted row"
grep -q "^- security: " "$report" || fail "the activation study does not give its BFV runs' security line"

# --study-only: the study alone (its report, CSV files and plot), nothing else measured. Run
# without --out and --report from a copy of the script in a tree with shipped results: the test
# mode writes to a new temporary directory, which it names, and leaves bench/results as it was (a
# trial's smoke test replaced the shipped full-run report with its n = 1024 results).
tree="$work/tree"
mkdir -p "$tree/bench/results/activation-study/encrypted" "$tree/bench/results/reproduction" "$work/tmp"
cp "$root/bench/reproduce.sh" "$tree/bench/"
cp -r "$root/bench/plots" "$tree/bench/"
for shipped in reproduction.md reproduction/stages.csv activation-study/encrypted.md \
  activation-study/encrypted/activation_study.csv; do
  echo "shipped $shipped" >"$tree/bench/results/$shipped"
done
(cd "$tree/bench/results" && find . -type f -exec sha256sum {} + | sort) >"$work/shipped.sums"
# (--mode=test: the script reads --NAME=VALUE as the driver does; it ran --mode=test in the
# reduced mode's bench/results.)
TMPDIR="$work/tmp" CRYPTONETS_REPRODUCE="$driver" bash "$tree/bench/reproduce.sh" --study-only \
  --mode=test --paper-values="$root/bench/paper_values.csv" --seed 9 >"$work/study.log" 2>&1 || {
  cat "$work/study.log"
  fail "bench/reproduce.sh --study-only --mode test exited with an error"
}
[ "$(cd "$tree/bench/results" && find . -type f -exec sha256sum {} + | sort)" = "$(cat "$work/shipped.sums")" ] ||
  fail "bench/reproduce.sh --mode test changed bench/results"
scratch="$(find "$work/tmp" -mindepth 1 -maxdepth 1 -name 'cryptonets-reproduce-test.*' -print -quit)"
[ -n "$scratch" ] || fail "bench/reproduce.sh --mode test wrote no temporary directory"
mv "$scratch/encrypted" "$work/study" 2>/dev/null && mv "$scratch/encrypted.md" "$work/study.md" ||
  fail "bench/reproduce.sh --mode test: no encrypted.md and encrypted/ in the temporary directory"
grep -qF "report: $scratch/encrypted.md; CSV and PNG files: $scratch/encrypted/ (test mode: a temporary directory, not bench/results)" \
  "$work/study.log" || fail "bench/reproduce.sh --mode test does not name where it wrote: $(tail -n 1 "$work/study.log")"
grep -qF "## Activation study (Crypto-Nets, 2014)" "$work/study.md" || fail "study.md lacks the study"
grep -qF "## Time per stage" "$work/study.md" && fail "study.md holds more than the study"
[ "$(head -n 1 "$work/study/activation_study.csv")" = "$(head -n 1 "$out/activation_study.csv")" ] ||
  fail "--study-only wrote another activation_study.csv header"
[ -s "$work/study/activation_study.png" ] || fail "--study-only drew no activation_study.png"
[ -e "$work/study/stages.csv" ] && fail "--study-only measured the stages too"

# ---- The report's command line, pasted into sh, runs the same command: each argument one word
# (joined with spaces, a path with a space was two words, one with $(...) ran it), and the table's
# cell intact (a | split the row, a backtick ended the code span). The cheapest run: the study of
# one float model without an encrypted form, on one image.
odd="$work/a b|c'd\`e\`\`\\f\$(false)"
printf 'activation,variant,float_model,fit,degree,integer_model,note\nReLU,original,%s,,,,-\n' \
  "$root/data/activation-study/relu.txt" >"$work/one-row.csv"
command_args=("$driver" --study-only --mode test --threads 1 --accuracy-images 1 --no-verify
  --study-manifest "$work/one-row.csv" --paper-values "$root/bench/paper_values.csv"
  --out "$odd" --report "$odd/report.md" --git-commit 'abc1234 | dirty')
"${command_args[@]}" >"$work/odd.log" 2>&1 ||
  { cat "$work/odd.log"; fail "the run with --out '$odd' failed"; }
python3 - "$odd/report.md" "${command_args[@]}" <<'PY' || fail "the command line is not the one run"
import re, shlex, subprocess, sys
report, argv = sys.argv[1], sys.argv[2:]
rows = [line for line in open(report) if line.startswith("| command |")]
assert len(rows) == 1, "command rows: %r" % rows
row = rows[0].rstrip("\n")
# The row's cells: split at the pipes that are not escaped (\|), then the escapes taken out.
cells = re.split(r"(?<!\\)\|", row)
assert len(cells) == 4 and cells[0] == "" and cells[3] == "", "the row is split: %r" % row
cell = cells[2].strip().replace("\\|", "|")
# A CommonMark code span: a run of backticks, the same run at the end, one space stripped from
# each side when both are there.
fence = re.match(r"`+", cell).group(0)
assert cell.endswith(fence) and len(cell) > 2 * len(fence), "not a code span: %r" % cell
code = cell[len(fence):-len(fence)]
assert "`" * len(fence) not in code, "the fence occurs inside: %r" % cell
if code.startswith(" ") and code.endswith(" ") and code.strip():
    code = code[1:-1]
assert shlex.split(code) == argv, "shlex reads %r from %r" % (shlex.split(code), code)
words = subprocess.run(["sh", "-c", "printf '%s\\0' " + code], check=True,
                       stdout=subprocess.PIPE).stdout.split(b"\0")[:-1]
assert [w.decode() for w in words] == argv, "sh reads %r from %r" % (words, code)
PY
# The commit cell, as given and one cell (a | in --git-commit split the row); a newline, which
# would end the row, is refused before any work.
grep -qxF '| commit | `abc1234 \| dirty` |' "$odd/report.md" ||
  fail "the commit row: $(grep '^| commit' "$odd/report.md")"
"$driver" --study-only --mode test --out "$work/nl" --git-commit $'abc\nd' >"$work/nl.log" 2>&1 &&
  fail "--git-commit with a newline was accepted"
grep -qF -- "--git-commit expects one line of printable text" "$work/nl.log" ||
  fail "--git-commit with a newline: $(cat "$work/nl.log")"
[ -e "$work/nl" ] && fail "--git-commit with a newline left $work/nl"

# ---- Counts as no other tool writes them are usage errors (exit 2) naming the option and the
# value, before any directory is made: a leading zero (--threads 01 ran as 1), a value listed
# twice (--scaling-n 8192,8192 measured n = 8192 twice) and a ring degree beyond a parameter
# set's (2^17 was taken, and refused later by the parameters).
for bad in "--threads|01|--threads expects integers without a leading zero, got '01'" \
  "--threads|1,02|--threads expects integers without a leading zero, got '1,02'" \
  "--timing-n|01024|--timing-n expects one positive integer without a leading zero, got '01024'" \
  "--scaling-n|8192,8192|--scaling-n lists 8192 twice, in '8192,8192'" \
  "--threads|1,2,1|--threads lists 1 twice, in '1,2,1'" \
  "--timing-n|65536|--timing-n: 65536 is not a power of two from 4 to 32768 (the largest ring degree of a parameter set)" \
  "--scaling-n|8192,131072|--scaling-n: 131072 is not a power of two from 4 to 32768"; do
  IFS='|' read -r option value phrase <<<"$bad"
  status=0
  "$driver" --study-only --mode test --study-manifest "$work/one-row.csv" "$option" "$value" \
    --out "$work/bad-count" --report "$work/bad-count.md" >"$work/bad-count.log" 2>&1 || status=$?
  { [ "$status" -eq 2 ] && grep -qF -- "$phrase" "$work/bad-count.log" && [ ! -e "$work/bad-count" ] &&
    [ ! -e "$work/bad-count.md" ]; } ||
    fail "$option $value: exit $status, expected 2 saying '$phrase': $(head -c 600 "$work/bad-count.log")"
done
# A key with two rows in the paper's values (a value entered as a new line beside its old row) is
# refused before any work: the last row was used, and the report listed the key twice.
cp "$root/bench/paper_values.csv" "$work/twice.csv"
echo "latency,latency of one batch,250,s,Table 2 p. 5,verified" >>"$work/twice.csv"
status=0
"$driver" --study-only --mode test --threads 1 --accuracy-images 1 --no-verify \
  --study-manifest "$work/one-row.csv" --paper-values "$work/twice.csv" --out "$work/twice" \
  --report "$work/twice.md" >"$work/twice.log" 2>&1 || status=$?
{ [ "$status" -eq 1 ] && grep -qF "the key 'latency' has two rows" "$work/twice.log" &&
  ! grep -q '^\[reproduce\]' "$work/twice.log" && [ ! -e "$work/twice.md" ]; } ||
  fail "a paper value's key on two rows: exit $status, expected 1 before any work: $(head -c 600 "$work/twice.log")"
# An image count above what the run can use is lowered, and the value used said on stderr (a
# trial: --accuracy-images 20000 ran on the 10000 test images without a word): the cheapest run,
# the one-row study above.
"$driver" --study-only --mode test --threads 1 --accuracy-images 20000 --batch-images 5000 \
  --encrypted-images 10001 --study-manifest "$work/one-row.csv" --data "$root/data/mnist" \
  --paper-values "$root/bench/paper_values.csv" --out "$work/lowered" --report "$work/lowered.md" \
  >"$work/lowered.log" 2>&1 || { cat "$work/lowered.log"; fail "the run with over-large counts failed"; }
for said in "--accuracy-images 20000: the test set of --data '$root/data/mnist' has 10000 images; using 10000" \
  "--encrypted-images 10001: the test set of --data '$root/data/mnist' has 10000 images; using 10000" \
  "--batch-images 5000: a batch holds at most n = 1024 images (the stage table's ring degree); using 1024"; do
  grep -qF -- "[reproduce] $said" "$work/lowered.log" || fail "over-large counts: no line '$said': $(cat "$work/lowered.log")"
done
grep -qF "on the first 10000 test images" "$work/lowered.md" || fail "the lowered run's report does not give 10000 images"
# Test mode's default: one batch of the lowered size (a review: the value given, 5000 images in
# batches of 1024).
"$driver" --study-only --mode test --threads 1 --batch-images 5000 \
  --study-manifest "$work/one-row.csv" --data "$root/data/mnist" \
  --paper-values "$root/bench/paper_values.csv" --out "$work/lowered-batch" \
  --report "$work/lowered-batch.md" >"$work/lowered-batch.log" 2>&1 ||
  { cat "$work/lowered-batch.log"; fail "the run with an over-large batch failed"; }
grep -qF "encrypted: the first 1024 in batches of 1024" "$work/lowered-batch.md" ||
  fail "test mode's default encrypts other than one lowered batch: $(grep -o 'encrypted: the first [0-9]* in batches of [0-9]*' "$work/lowered-batch.md")"

# ---- A study manifest's rows are checked before any measurement: an unknown fit, a fit's degree
# out of 1..6, a float network where the integer model goes (and the other way round) and a
# manifest without rows failed only at the study, after the other measurements (hours in full
# mode), exit 1 with nothing written.
study="$root/data/activation-study"
header='activation,variant,float_model,fit,degree,integer_model,note'
for bad in "lsqq,2,$study/relu-lsq-dropin-int.txt|the fit must be lsq, chebyshev, lsq-observed or empty, got 'lsqq'" \
  "lsq,two,$study/relu-lsq-dropin-int.txt|a fit's degree must be 1 to 6, got 'two'" \
  "lsq,9,$study/relu-lsq-dropin-int.txt|a fit's degree must be 1 to 6, got '9'" \
  "lsq,2,$study/relu.txt|the integer model of row" \
  "none|no rows"; do
  fields="${bad%%|*}"
  phrase="${bad#*|}"
  if [ "$fields" = none ]; then
    printf '%s\n' "$header" >"$work/bad-manifest.csv"
  else
    printf '%s\nReLU,drop-in,%s,%s,\n' "$header" "$study/relu.txt" "$fields" >"$work/bad-manifest.csv"
  fi
  status=0
  "$driver" --mode test --seed 9 --study-manifest "$work/bad-manifest.csv" --out "$work/bad-out" \
    --report "$work/bad-out.md" --paper-values "$root/bench/paper_values.csv" \
    >"$work/bad-manifest.log" 2>&1 || status=$?
  { [ "$status" -eq 1 ] && grep -qF -- "$phrase" "$work/bad-manifest.log" &&
    ! grep -q '^\[reproduce\]' "$work/bad-manifest.log" && [ ! -e "$work/bad-out" ]; } ||
    fail "a study manifest row '$fields': exit $status, expected 1 before any measurement: $(head -c 600 "$work/bad-manifest.log")"
done
printf '%s\nReLU,fine-tuned,%s,,,%s,\n' "$header" "$study/relu-lsq-finetuned-int.txt" \
  "$study/relu-lsq-finetuned-int.txt" >"$work/bad-manifest.csv"
"$driver" --mode test --study-manifest "$work/bad-manifest.csv" --out "$work/bad-out" \
  --report "$work/bad-out.md" --paper-values "$root/bench/paper_values.csv" \
  >"$work/bad-manifest.log" 2>&1 && fail "a study manifest with an integer model as its float network was accepted"
grep -qF "the float network of row" "$work/bad-manifest.log" ||
  fail "a study manifest with an integer model as its float network: $(head -c 600 "$work/bad-manifest.log")"

# ---- bench/reproduce.sh on the driver's exit 1, which is either a failure (nothing written: the
# script stops there) or encrypted scores that differ (the files written: it still plots). Two
# stand-in drivers: one fails, one writes the files of the run above and reports a difference.
# Outputs of an earlier run are in place, as a rerun finds them: they are not plotted again.
cat >"$work/failing-driver" <<'STUB'
#!/usr/bin/env bash
echo "cryptonets-reproduce: cannot read the paper's values from none.csv" >&2
exit 1
STUB
cat >"$work/differing-driver" <<'STUB'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --report) report="$2"; shift ;;
  esac
  shift
done
mkdir -p "$out" && cp "$SOURCE_OUT"/*.csv "$out"/ && cp "$SOURCE_REPORT" "$report"
exit 1
STUB
chmod +x "$work/failing-driver" "$work/differing-driver"
mkdir -p "$work/rerun"
cp "$out"/*.csv "$work/rerun/"
cp "$report" "$work/rerun.md"
status=0
CRYPTONETS_REPRODUCE="$work/failing-driver" bash "$root/bench/reproduce.sh" --out "$work/rerun" \
  --report "$work/rerun.md" >"$work/failing.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "reproduce.sh after a failing driver: exit $status, expected 1"
grep -q "^report: " "$work/failing.log" && fail "reproduce.sh after a failing driver names a report"
[ -e "$work/rerun/layers.png" ] && fail "reproduce.sh plotted an earlier run's files after a failing driver"
status=0
SOURCE_OUT="$out" SOURCE_REPORT="$report" CRYPTONETS_REPRODUCE="$work/differing-driver" \
  bash "$root/bench/reproduce.sh" --out "$work/differ" --report "$work/differ.md" \
  >"$work/differing.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "reproduce.sh when the scores differ: exit $status, expected 1"
grep -qF "report: $work/differ.md" "$work/differing.log" ||
  fail "reproduce.sh when the scores differ does not name the report: $(cat "$work/differing.log")"
[ -s "$work/differ/layers.png" ] || fail "reproduce.sh did not plot when the scores differ"
# Relative outputs are the caller's: the script runs the driver from the repository, and --out
# myout --report my.md from another directory wrote both into the repository (a trial).
mkdir "$work/caller"
status=0
(cd "$work/caller" && SOURCE_OUT="$out" SOURCE_REPORT="$report" \
  CRYPTONETS_REPRODUCE="$work/differing-driver" bash "$root/bench/reproduce.sh" \
  --out rel-out --report rel.md) >"$work/relative.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "reproduce.sh with relative outputs: exit $status, expected 1"
{ [ -s "$work/caller/rel.md" ] && [ -s "$work/caller/rel-out/layers.png" ]; } ||
  fail "reproduce.sh --out rel-out --report rel.md did not write them in the caller's directory: $(cat "$work/relative.log")"
grep -qF "report: $work/caller/rel.md" "$work/relative.log" ||
  fail "reproduce.sh with relative outputs names another report: $(tail -n 1 "$work/relative.log")"
{ [ -e "$root/rel-out" ] || [ -e "$root/rel.md" ]; } &&
  fail "reproduce.sh wrote relative outputs into the repository" && rm -rf "$root/rel-out" "$root/rel.md"
# A quote in --out is plotted like any other name (gnuplot's string ended there: "unexpected or
# unrecognized token", no PNG, after the whole run).
status=0
SOURCE_OUT="$out" SOURCE_REPORT="$report" CRYPTONETS_REPRODUCE="$work/differing-driver" \
  bash "$root/bench/reproduce.sh" --out "$work/it's out" --report "$work/it's.md" \
  >"$work/quote.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "reproduce.sh with a quote in --out: exit $status, expected 1"
for png in layers noise scaling_n scaling_threads activation_study; do
  [ -s "$work/it's out/$png.png" ] ||
    fail "reproduce.sh with a quote in --out drew no $png.png: $(tail -n 3 "$work/quote.log")"
done
# One thread count and one ring degree (--threads 1, --scaling-n 1024): the plots set their x
# range, so that gnuplot says nothing (a review: "Warning: empty x range [1:1], adjusting to
# [0.99:1.01]" in the script's output).
mkdir "$work/single"
cp "$out"/*.csv "$work/single/"
for plot in scaling_threads_plot scaling_n_plot; do
  head -n 2 "$out/$plot.csv" >"$work/single/$plot.csv"
done
status=0
SOURCE_OUT="$work/single" SOURCE_REPORT="$report" CRYPTONETS_REPRODUCE="$work/differing-driver" \
  bash "$root/bench/reproduce.sh" --out "$work/single-out" --report "$work/single.md" \
  >"$work/single.log" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "reproduce.sh with one thread count: exit $status, expected 1"
grep -qi "warning" "$work/single.log" && fail "gnuplot warned on one thread count or ring degree: $(grep -i warning "$work/single.log")"
for png in scaling_n scaling_threads; do
  [ -s "$work/single-out/$png.png" ] || fail "reproduce.sh with one thread count drew no $png.png"
done
# A gnuplot that fails after a test-mode run: the script exits with its status and names the
# temporary directory it keeps (set -e ended it without a word, the directory left unnamed).
mkdir -p "$work/badplot" "$work/tmp-plot"
printf '#!/bin/sh\necho "gnuplot: broken" >&2\nexit 3\n' >"$work/badplot/gnuplot"
sed 's/^exit 1$/exit 0/' "$work/differing-driver" >"$work/passing-driver"
chmod +x "$work/badplot/gnuplot" "$work/passing-driver"
status=0
PATH="$work/badplot:$PATH" TMPDIR="$work/tmp-plot" SOURCE_OUT="$out" SOURCE_REPORT="$report" \
  CRYPTONETS_REPRODUCE="$work/passing-driver" bash "$root/bench/reproduce.sh" --mode test \
  >"$work/badplot.log" 2>&1 || status=$?
[ "$status" -eq 3 ] || fail "reproduce.sh with a failing gnuplot: exit $status, expected 3"
kept="$(find "$work/tmp-plot" -mindepth 1 -maxdepth 1 -name 'cryptonets-reproduce-test.*' -print -quit)"
[ -n "$kept" ] && [ -s "$kept/reproduction.md" ] ||
  fail "reproduce.sh with a failing gnuplot kept no report: $(cat "$work/badplot.log")"
grep -qF "gnuplot failed (exit 3) on $root/bench/plots/layers.gp; the run's files are kept: report: $kept/reproduction.md; CSV files: $kept/reproduction/ (test mode: a temporary directory, not bench/results)" \
  "$work/badplot.log" || fail "reproduce.sh with a failing gnuplot does not name its files: $(cat "$work/badplot.log")"

# Outside the repository, --paper-values left at its default (the one default input relative to
# the current directory) is not there: the error says it is the default and how to go on (it was
# only "cannot read the paper's values from bench/paper_values.csv"); nothing is made there.
mkdir "$work/bare"
status=0
(cd "$work/bare" && "$driver" --mode test --out o --report r.md) >"$work/bare.log" 2>&1 ||
  status=$?
[ "$status" -eq 1 ] || fail "reproduce outside the repository: exit $status, expected 1"
grep -qF "cannot read the paper's values from bench/paper_values.csv (the default of --paper-values, relative to the current directory '$work/bare': run from the repository, or give --paper-values)" \
  "$work/bare.log" || fail "reproduce outside the repository: $(cat "$work/bare.log")"
[ -z "$(ls -A "$work/bare")" ] || fail "reproduce outside the repository left $(ls -A "$work/bare")"

[ "$failures" -eq 0 ] || cat "$work/log"
finish "reproduce: report, 9 CSV files and 5 PNGs checked; --study-only checked; the command line checked; exit 1 handled"
