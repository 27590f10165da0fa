#!/usr/bin/env bash
# The command-line tools' own options, quick cases that need no training:
# - every --help (cryptonets, each of its commands and client verbs, cryptonets-quantise, -train
#   and -reproduce) fits in 100 columns and shows no empty default "[]" (a trial found lines of
#   up to 308 columns, and "[]" in cryptonets-train --help);
# - an output left at its default never replaces an existing file (a trial: a bare
#   cryptonets-quantise run from the repository rewrote the shipped data/model.txt): exit 2, a
#   message naming the file and the option, the file unchanged; named, it is replaced;
# - nor one that appears while the tool runs (a trial: the name was checked at start-up only, and
#   a file made there during the training was replaced at the end): exit 1 at the end, a message
#   naming the file, the file unchanged, no temporary file left;
# - a tool killed during its run (SIGKILL) leaves no file in the output's directory: a default
#   output is an unnamed file (O_TMPFILE) from start-up until it is given its name (the named
#   temporary "PATH.tmp-PID-N" was left behind);
# - a write past a file-size limit (ulimit -f, SIGXFSZ at its default action) is an error naming
#   the file and the reason, exit 1 (a trial: the tools ended by SIGXFSZ without a word, exit
#   153), leaving no file, and a named output's old file byte for byte (it was truncated and
#   rewritten in place); a named output through a symbolic link replaces the link's file and
#   keeps the link;
# - cryptonets-quantise publishes its table and its model together: a run that fails at the end
#   (its default model's name taken meanwhile, its model's write) keeps neither;
# - cryptonets-reproduce interrupted (SIGTERM, SIGINT, a closed pipe: SIGPIPE) removes the
#   directories it made for its outputs, and only those;
# - cryptonets-reproduce's report and CSV files that are the same file as one of its inputs, a
#   file of --data or each other, and an --out that names a file, are usage errors before any
#   work; so is a named output of the three tools over a file of the project's own (a key, a
#   profile, a model of another kind, a ciphertext file); so are model inputs of cryptonets-train and -quantise that are not regular files (a
#   FIFO hung them);
# - the command line in cryptonets-quantise's model and table is quoted for sh: a file name with
#   $(...) or `...` does not run when the line is pasted;
# - cryptonets-quantise writes the file names in its model's comments and its table escaped: a
#   name with a newline forged a line of the model;
# - cryptonets-train --epochs 0 (an untrained model, exit 0 for a trial) and options that would be
#   ignored (--architecture and --activation with --fine-tune too) are usage errors; a --batch
#   above the number of training images is that number, with a note (it allocated 820 MB);
# - cryptonets-reproduce --seed takes 0 to 2^63 - 1, and says so (a trial: --seed 0 got "expects
#   positive integers separated by commas"); its errors exit 1, its usage errors 2;
# - the messages of every command print file names escaped, on one line (a trial: a name with a
#   newline forged a line of output, one with ESC drove the terminal);
# - a binary file given as a text model (float, sequential, integer) is named binary data in the
#   message, which the NUL in it cut short; a long word is quoted cut to 40 bytes.
#
# usage: tools.sh CRYPTONETS TRAIN QUANTISE REPRODUCE MAKE_IDX_SET DATA_DIR
set -uo pipefail

exe=$(realpath "$1")
train=$(realpath "$2")
quantise=$(realpath "$3")
reproduce=$(realpath "$4")
make_set=$(realpath "$5")
data=$(realpath "$6")
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
cd "$work" || exit 1

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
  # Every "README: SECTION" names a section the README has (a trial: infer's "README: running on
  # several hosts", a section named "Inference on several machines (MPI)").
  local missing
  missing=$(perl -CSD -e '
    open(my $r, "<", $ARGV[0]) or die "$ARGV[0]: $!";
    my @sections = map { chomp; s/^#+ //r } grep { /^#+ / } <$r>;
    local $/; open(my $h, "<", $ARGV[1]) or die; my $text = <$h>; $text =~ s/\s+/ /g;
    while ($text =~ /README: (?=(.{0,60}))/g) {
      my $after = $1;
      print "    README: $after\n" unless grep { index($after, $_) == 0 } @sections;
    }' "$data/../README.md" help.txt)
  [ -z "$missing" ] || fail "$name --help names README sections that do not exist:"$'\n'"$missing"
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
# infer's --keys names every file it reads there (it said "params and evaluation.key only").
"$exe" infer --help | grep -A 1 -- "--keys DIR" | tr -s ' \n' ' ' |
  grep -qF "params, evaluation.key and public.key (no secret key)" ||
  fail "infer --help: --keys does not name public.key: $("$exe" infer --help | grep -A 1 -- "--keys")"
check_help cryptonets-quantise "$quantise"
check_help cryptonets-train "$train"
check_help cryptonets-reproduce "$reproduce"
unset CRYPTONETS_DATA

# expect CODE PHRASE -- COMMAND... (support.sh): COMMAND exits with CODE, prints PHRASE and leaves
# no temporary file behind.
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
expect 1 "cannot read the paper's values from bench/paper_values.csv" -- \
  "$reproduce" --mode test --out bench/results/reproduction --report bench/results/reproduction.md
cd .. || exit 1

# ---- A default output that appears while the tool runs. The tool's output goes into a pipe
# that is full before it starts, so that its first line, which comes after the start-up check and
# after it has read its data (/proc/PID/io tells), blocks it until the file has been made: the
# file appears during the run for certain, whatever the machine's speed.
"$make_set" "$data/mnist" set 600 200 >/dev/null || fail "make_idx_set failed"
small_network=(--data ../set --train-limit 100 --hidden 20 --warmup 5 --shift 0 --threads 2
  --epochs 1)
small_grid=(--data ../set --input-scales 1 --min-bits 2 --max-bits 2 --threads 2 --min-accuracy 0)

# run_blocked LOG FILE COMMAND...: runs COMMAND with its output held as above, writes "appeared
# FILE" into FILE once COMMAND has read 300 kB (the data sets read here are larger, and nothing
# as large is read before the start-up check), then lets COMMAND go on. Its exit code goes to
# $status, its output to LOG.
run_blocked() {
  local log=$1 file=$2
  shift 2
  rm -f pipe && mkfifo pipe
  exec 3<>pipe # both ends held: the opens below do not wait
  # Filled until the pipe takes no more (dd ends on EAGAIN).
  dd if=/dev/zero of=pipe bs=4096 count=4096 oflag=nonblock status=none 2>/dev/null
  "$@" >pipe 2>&1 &
  local pid=$! bytes=0 tries=0
  while [ "$bytes" -lt 300000 ] && [ "$tries" -lt 600 ]; do
    bytes=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2>/dev/null) || bytes=0
    [ -n "$bytes" ] || bytes=0
    tries=$((tries + 1))
    sleep 0.05
  done
  [ "$bytes" -ge 300000 ] || fail "$*: read only $bytes bytes in 30 s (exited early?)"
  echo "appeared $file" >"$file"
  : >"$log.raw"
  dd if=pipe iflag=nonblock bs=65536 status=none >>"$log.raw" 2>/dev/null
  wait "$pid"
  status=$?
  dd if=pipe iflag=nonblock bs=65536 status=none >>"$log.raw" 2>/dev/null
  exec 3<&-
  rm -f pipe
  tr -d '\000' <"$log.raw" >"$log" && rm -f "$log.raw"
}
# appeared_unchanged LOG FILE CODE: the run ended with exit CODE, refusing to replace FILE, which
# still holds what the test wrote, and left no temporary file.
appeared_unchanged() {
  local log=$1 file=$2 code=$3
  checks=$((checks + 1))
  [ "$status" -eq "$code" ] || fail "$log: exit code $status, expected $code: $(cat "$log")"
  grep -qF "refusing to replace '$file' (the default of " "$log" ||
    fail "$log: no refusal naming '$file': $(cat "$log")"
  grep -qF "which appeared while" "$log" || fail "$log: the refusal does not say why: $(cat "$log")"
  [ "$(cat "$file")" = "appeared $file" ] || fail "$log: $file was replaced"
  [ -z "$(find . -name '*.tmp-*' -print -quit)" ] || fail "$log: left $(find . -name '*.tmp-*')"
}
mkdir -p run/data run/bench/results
cd run || exit 1
# A default output that stays free is written (and only its name is left).
"$train" "${small_network[@]}" >train.log 2>&1 || fail "train to a free default: $(cat train.log)"
checks=$((checks + 1))
grep -q "^cryptonets-float-model" data/model-float.txt ||
  fail "train did not write the free default data/model-float.txt"
[ -z "$(find . -name '*.tmp-*' -print -quit)" ] || fail "train left $(find . -name '*.tmp-*')"
cp data/model-float.txt float.txt
rm data/model-float.txt
run_blocked train-appeared.log data/model-float.txt "$train" "${small_network[@]}"
appeared_unchanged train-appeared.log data/model-float.txt 1
# The same for a sequential model (another writer).
rm data/model-float.txt
run_blocked train-relu.log data/model-float.txt "$train" "${small_network[@]}" --activation relu
appeared_unchanged train-relu.log data/model-float.txt 1
# Named, an existing file is replaced, as --help says.
"$train" "${small_network[@]}" --out data/model-float.txt >train.log 2>&1 ||
  fail "train over a file named with --out: $(cat train.log)"
grep -q "^cryptonets-float-model" data/model-float.txt || fail "train --out did not replace the file"
# cryptonets-quantise: the table's default name is free and it is written; the model's appears.
rm -f data/model.txt
run_blocked quantise-appeared.log data/model.txt "$quantise" --float float.txt "${small_grid[@]}"
appeared_unchanged quantise-appeared.log data/model.txt 1
# Its table and its model go together (a trial: the table was kept, the model refused).
[ -e bench/results/quantisation.md ] && fail "quantise kept its table after refusing its model"
rm -f data/model.txt bench/results/quantisation.md
run_blocked quantise-table.log bench/results/quantisation.md "$quantise" --float float.txt \
  "${small_grid[@]}" --out model.txt
appeared_unchanged quantise-table.log bench/results/quantisation.md 1
[ -e model.txt ] && fail "quantise wrote the model after refusing its table"
# cryptonets-reproduce --study-only, on a one-row study (no encrypted run: quick): its report
# appears; neither it nor the CSV files written before it are kept, nor the directory it made for
# them (it had only the start-up check, and replaced the report at the end).
mkdir -p study bench/results/activation-study
head -n 2 "$data/activation-study/manifest.csv" >study/manifest.csv
ln -s "$data/activation-study/relu.txt" study/relu.txt
run_blocked reproduce-appeared.log bench/results/activation-study/encrypted.md "$reproduce" \
  --study-only --mode test --study-manifest study/manifest.csv --model "$data/model.txt" \
  --data "$data/mnist" --paper-values "$data/../bench/paper_values.csv" --threads 1 --seed 1
appeared_unchanged reproduce-appeared.log bench/results/activation-study/encrypted.md 1
grep -qF "cryptonets-reproduce: refusing to replace" reproduce-appeared.log ||
  fail "reproduce: the refusal is not prefixed with the program's name: $(cat reproduce-appeared.log)"
[ -e bench/results/activation-study/encrypted ] &&
  fail "reproduce kept bench/results/activation-study/encrypted/ ($(ls -A bench/results/activation-study/encrypted)) after refusing its report"

# ---- cryptonets-reproduce interrupted once it has made the directories for its outputs removes
# them (a trial: SIGTERM left them, which a failure removes) and ends by the signal; a directory
# it did not make stays, an empty one too. Its first line, after the directories are made, goes
# to a full pipe, which holds it there until the signal. SIGINT is restored to its default
# action first: a background job of a script starts with it ignored (and keeps it so).
for signal in TERM INT; do
  # Afresh each time: the directories appear only once reproduce runs (a signal to the shell's
  # child before its exec would run this script's EXIT trap there).
  rm -rf keep && mkdir -p keep/empty
  rm -f pipe && mkfifo pipe
  exec 3<>pipe
  dd if=/dev/zero of=pipe bs=4096 count=4096 oflag=nonblock status=none 2>/dev/null
  perl -e '$SIG{INT} = $SIG{TERM} = "DEFAULT"; exec @ARGV or die "exec: $!\n"' -- "$reproduce" \
    --study-only --mode test --study-manifest study/manifest.csv --model "$data/model.txt" \
    --data "$data/mnist" --paper-values "$data/../bench/paper_values.csv" --threads 1 --seed 1 \
    --out keep/empty/new/csv --report keep/made/report.md >/dev/null 2>pipe &
  pid=$!
  for ((tries = 0; tries < 600; tries++)); do
    [ -d keep/empty/new/csv ] && [ -d keep/made ] && break
    sleep 0.05
  done
  checks=$((checks + 1))
  [ -d keep/made ] || fail "reproduce never made its output directories (SIG$signal case)"
  kill -s "$signal" "$pid"
  dd if=pipe iflag=nonblock bs=65536 status=none >/dev/null 2>&1 # the handler's line gets through
  wait "$pid"
  status=$?
  exec 3<&-
  rm -f pipe
  [ "$status" -gt 128 ] && [ "$(kill -l "$status")" = "$signal" ] ||
    fail "reproduce interrupted by SIG$signal: exit $status, not ended by the signal"
  [ "$(cd keep && find . | sort | tr '\n' ' ')" = ". ./empty " ] ||
    fail "reproduce interrupted by SIG$signal left $(cd keep && find . | sort | tr '\n' ' ')in keep/"
done

# ---- cryptonets-reproduce writing to a pipe closed early (`2>&1 | head`: its first progress line
# meets no reader) ends by SIGPIPE and removes the directories it made, as for the signals above
# (a trial: it died of SIGPIPE and left them). The read end is closed before it starts (perl,
# SIGPIPE at its default action), so that the first write fails whatever the timing.
rm -rf keep && mkdir -p keep/empty
perl -e '$SIG{PIPE} = "DEFAULT"; pipe(my $r, my $w) or die "pipe: $!\n"; close $r;
  open(STDOUT, ">&", $w) && open(STDERR, ">&", $w) or die "dup: $!\n"; exec @ARGV or die' -- \
  "$reproduce" --study-only --mode test --study-manifest study/manifest.csv \
  --model "$data/model.txt" --data "$data/mnist" --paper-values "$data/../bench/paper_values.csv" \
  --threads 1 --seed 1 --out keep/empty/new/csv --report keep/made/report.md
status=$?
checks=$((checks + 1))
[ "$status" -gt 128 ] && [ "$(kill -l "$status")" = PIPE ] ||
  fail "reproduce with its output pipe closed: exit $status, not ended by SIGPIPE"
[ "$(cd keep && find . | sort | tr '\n' ' ')" = ". ./empty " ] ||
  fail "reproduce with its output pipe closed left $(cd keep && find . | sort | tr '\n' ' ')in keep/"

# ---- Killed, a tool leaves nothing in its output's directory. During the run (SIGKILL, once it
# has read its data, as run_blocked waits): it holds its default output open from start-up, an
# unnamed file, which goes with the process. In the middle of the write (SIGXFSZ: a file-size
# limit below the model's size, the signal's default action restored): the named temporary
# data/model-float.txt.tmp-PID-0 was left there.
# empty_directory LOG DIR: DIR holds no file.
empty_directory() {
  checks=$((checks + 1))
  [ -z "$(ls -A "$2")" ] || fail "$1: left $(ls -A "$2" | tr '\n' ' ')in $2"
}
rm -rf data && mkdir data
rm -f pipe && mkfifo pipe
exec 3<>pipe
dd if=/dev/zero of=pipe bs=4096 count=4096 oflag=nonblock status=none 2>/dev/null
"$train" "${small_network[@]}" >pipe 2>&1 &
pid=$!
bytes=0
for ((tries = 0; tries < 600 && bytes < 300000; tries++)); do
  bytes=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2>/dev/null) || bytes=0
  [ -n "$bytes" ] || bytes=0
  sleep 0.05
done
checks=$((checks + 1))
held=$(find "/proc/$pid/fd" -mindepth 1 -exec readlink {} + 2>/dev/null |
  grep -cF "$(pwd -P)/data/")
[ "$held" -ge 1 ] || fail "train did not hold its default output in data/ open from start-up"
kill -9 "$pid"
{ wait "$pid"; } 2>/dev/null # (no "Killed" line from the shell)
exec 3<&-
rm -f pipe
empty_directory "train killed with SIGKILL" data
# failed_in_write FILE COMMAND...: runs COMMAND under a 16 kB file-size limit, below the size of
# each tool's model, with SIGXFSZ at its default action (which the tools ignore: it ended them
# without a word, exit 153); fails unless it exits 1 naming FILE and the reason (EFBIG).
failed_in_write() {
  local file=$1
  shift
  { (ulimit -c 0 && ulimit -f 16 &&
    exec perl -e '$SIG{XFSZ} = "DEFAULT"; exec @ARGV or die "exec: $!\n"' -- "$@") \
    >write.log 2>&1; } 2>/dev/null
  status=$?
  checks=$((checks + 1))
  [ "$status" -eq 1 ] ||
    fail "$* under a 16 kB file-size limit: exit $status, expected 1: $(cat write.log)"
  grep -qF "cannot write '$file': File too large" write.log ||
    fail "$* under a 16 kB file-size limit: no error naming $file and why: $(cat write.log)"
}
failed_in_write data/model-float.txt "$train" "${small_network[@]}"
empty_directory "train failing in its write (exit $status)" data

# ---- A named output replaces its file atomically (a new file in its directory, renamed over it at
# the end): failing in the middle of the write, a tool leaves the old file byte for byte and no
# other file (the file was truncated and rewritten in place: a part was left). One named through
# a symbolic link replaces the file the link names, and the link stays.
mkdir named linked
cp float.txt named/model-float.txt
printf 'old model\n' >named/model.txt
cp -p named/model-float.txt named/model.txt .
failed_in_write named/model-float.txt "$train" "${small_network[@]}" --out named/model-float.txt
# (The quantiser's table, smaller than the limit, is written first: it goes with the model.)
failed_in_write named/model.txt "$quantise" --float float.txt "${small_grid[@]}" \
  --out named/model.txt --results table.md
[ -e table.md ] && fail "quantise kept its table after failing to write its model"
checks=$((checks + 1))
for file in model-float.txt model.txt; do
  cmp -s "$file" "named/$file" || fail "failing in its write, a tool changed named/$file"
done
[ "$(ls -A named | tr '\n' ' ')" = "model-float.txt model.txt " ] ||
  fail "failing in its write, a tool left $(ls -A named | tr '\n' ' ')in named/"
ln -s ../named/model.txt linked/model.txt
"$train" "${small_network[@]}" --out linked/model.txt >linked.log 2>&1 ||
  fail "train --out LINK: $(cat linked.log)"
checks=$((checks + 1))
[ "$(readlink linked/model.txt)" = ../named/model.txt ] || fail "train --out LINK replaced the link"
grep -q "^cryptonets-float-model" named/model.txt || fail "train --out LINK did not replace its file"
[ "$(ls -A linked named | tr '\n' ' ')" = "linked: model.txt  named: model-float.txt model.txt " ] ||
  fail "train --out LINK left $(ls -A linked named | tr '\n' ' ')"

# ---- A --batch above the training images: all of them per step, said in a note (it allocated
# 820 MB for 2^20 images' buffers, the result unchanged).
"$train" "${small_network[@]}" --batch 1048576 --out big-batch.txt >batch.log 2>batch.err ||
  fail "train --batch 1048576: $(cat batch.err)"
checks=$((checks + 1))
grep -qF "cryptonets-train: note: --batch 1048576 is more than the 100 training images: batches of 100" \
  batch.err || fail "train --batch 1048576 gave no note: $(cat batch.err)"
grep -qF "batch 100," batch.log || fail "train --batch 1048576 does not say batch 100: $(cat batch.log)"

# ---- cryptonets-quantise: the file names in the model's comments and the table on one line
# each (printable_text); the model loads and has no line of the names' making.
forged_float=$'float\nFORGED float.txt'
forged_data=$'set\nFORGED data'
cp float.txt "$forged_float"
ln -s ../set "$forged_data"
"$quantise" --float "$forged_float" --data "$forged_data" --input-scales 1 --min-bits 2 \
  --max-bits 2 --threads 2 --min-accuracy 0 --out forged-model.txt --results forged-table.md \
  >forged.log 2>&1 || fail "quantise of a float model named with a newline: $(cat -v forged.log)"
checks=$((checks + 1))
grep -q "^FORGED" forged-model.txt forged-table.md &&
  fail "a file name forged a line: $(grep -n "^FORGED" forged-model.txt forged-table.md)"
grep -qF 'classes of set\nFORGED data quantised from float\nFORGED float.txt (SHA-256' \
  forged-model.txt || fail "the model's comment does not name the files escaped: $(head -n 3 forged-model.txt)"
"$exe" inspect forged-model.txt >inspect.log 2>&1 ||
  fail "the model named from forged names does not load: $(cat inspect.log)"
# The command line in the model ("# regenerate:") and in the table, pasted into sh: each file
# name one word, as given, and nothing run (a trial: a name's $(...) and `...` ran).
quoted_name='f '\''x$(touch pwned)`touch pwned2`.txt'
cp float.txt "$quoted_name"
"$quantise" --float "$quoted_name" "${small_grid[@]}" --out quoted-model.txt \
  --results quoted-table.md >quoted.log 2>&1 || fail "quantise of $quoted_name: $(cat quoted.log)"
regenerate=$(sed -n 's/^# regenerate: //p' quoted-model.txt)
checks=$((checks + 1))
[ "$(sed -n '/^```sh$/{n;p;q}' quoted-table.md)" = "$regenerate" ] ||
  fail "the table's command is not the model's: $(grep -A1 '^```sh$' quoted-table.md)"
mkdir -p paste/bin
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >paste/bin/cryptonets-quantise
chmod +x paste/bin/cryptonets-quantise
(cd paste && PATH="$PWD/bin:$PATH" sh -c "$regenerate" >words.txt 2>&1)
[ "$(sed -n 2p paste/words.txt)" = "$quoted_name" ] ||
  fail "the regenerate line does not give back the file name: $regenerate -> $(cat paste/words.txt)"
[ -z "$(find paste -name 'pwned*')" ] || fail "pasting the regenerate line ran a command: $regenerate"
cd .. || exit 1

# ---- Outputs over the data set (a new user's trial: train --out DATA/train-images... replaced
# the training images, exit 0) or over each other: usage errors, before any work, nothing changed.
cp -r set dset
(cd dset && sha256sum -- *-ubyte* >SHA256SUMS && ln -s train-images-idx3-ubyte alias)
sums_before=$(cd dset && sha256sum -- *)
expect 2 "--out 'dset/train-images-idx3-ubyte' is the same file as" -- \
  "$train" --data dset --out dset/train-images-idx3-ubyte
expect 2 "of --data 'dset': writing it would destroy the data set" -- \
  "$train" --data dset --out dset/SHA256SUMS
expect 2 "--out 'dset/alias' is the same file as" -- "$train" --data dset --out dset/alias
expect 2 "--merged 'dset/t10k-labels-idx1-ubyte' is the same file as" -- \
  "$train" --data dset --architecture paper --out m.txt --merged dset/t10k-labels-idx1-ubyte
expect 2 "--merged 'm.txt' is the same file as --out 'm.txt'" -- \
  "$train" --data dset --architecture paper --out m.txt --merged m.txt
expect 2 "--out 'dset/t10k-images-idx3-ubyte' is the same file as" -- \
  "$quantise" --data dset --out dset/t10k-images-idx3-ubyte --results r.md
expect 2 "--results 'dset/alias' is the same file as" -- \
  "$quantise" --data dset --out q.txt --results dset/alias
# Another file in the data folder is no data set file: an earlier run's output may be replaced (a
# rerun was refused). The check passed, --fine-tune '.' is refused after it, before any work.
echo "an earlier run" >dset/notes.txt
expect 2 "--fine-tune '.' is a directory, not a regular file" -- \
  "$train" --data dset --out dset/notes.txt --fine-tune .
rm dset/notes.txt
# cryptonets-reproduce: its report and CSV files against its inputs, the data set and each other
# (a trial: --report over --paper-values, --model, DATA/SHA256SUMS or a CSV file of --out replaced
# it, exit 0); an --out that is a file (it failed after the work had started, exit 1).
cp "$data/../bench/paper_values.csv" paper.csv
cp "$data/model.txt" model.txt
mkdir rin && cp paper.csv rin/summary.csv && echo text >afile
inputs_before=$(sha256sum paper.csv model.txt rin/summary.csv afile)
rp=(timeout 60 "$reproduce" --mode test --paper-values paper.csv --model model.txt --data dset)
expect 2 "--report 'paper.csv' is the same file as --paper-values 'paper.csv': writing it would destroy the other" -- \
  "${rp[@]}" --out rout --report paper.csv
expect 2 "--report 'model.txt' is the same file as --model 'model.txt'" -- \
  "${rp[@]}" --out rout --report model.txt
expect 2 "--report 'rout/stages.csv' is the same file as 'rout/stages.csv' (a CSV file the run writes in --out 'rout')" -- \
  "${rp[@]}" --out rout --report rout/stages.csv
expect 2 "--report 'dset/SHA256SUMS' is the same file as 'dset/SHA256SUMS' of --data 'dset'" -- \
  "${rp[@]}" --out rout --report dset/SHA256SUMS
expect 2 "'rin/summary.csv' (a CSV file the run writes in --out 'rin') is the same file as --paper-values 'rin/summary.csv'" -- \
  timeout 60 "$reproduce" --mode test --paper-values rin/summary.csv --model model.txt --data dset \
  --out rin --report r.md
expect 2 "--out 'afile': 'afile' is a regular file, not a directory" -- \
  "${rp[@]}" --out afile --report r.md
expect 2 "--out 'afile/sub': 'afile' is a regular file, not a directory" -- \
  "${rp[@]}" --out afile/sub --report r.md
expect 2 "--report 'afile/r.md': 'afile' is a regular file, not a directory" -- \
  "${rp[@]}" --out rout --report afile/r.md
[ "$(sha256sum paper.csv model.txt rin/summary.csv afile)" = "$inputs_before" ] ||
  fail "a refused cryptonets-reproduce changed an input"
[ -e rout ] || [ -e r.md ] || [ "$(ls -A rin)" != summary.csv ] &&
  fail "a refused cryptonets-reproduce wrote an output"
# Nor does a named output of the three tools replace a file of the project's own, other than the
# kind it writes (a trial: cryptonets-reproduce --report keys/secret.key replaced the secret key
# with the report, exit 0; cryptonets-quantise --results keys/secret.key with its table, exit 1):
# a usage error before any work, the file unchanged. Any other file stays the user's to name.
"$exe" keygen --profile "$data/model.profile" --out-dir victim >/dev/null 2>&1 ||
  fail "keygen for the victim key set failed"
mkdir rcsv && cp victim/public.key rcsv/summary.csv
victims_before=$(sha256sum victim/* rcsv/summary.csv model.txt)
expect 2 "--report 'victim/secret.key' exists and holds secret keys (4.28 KiB), a file of cryptonets that this tool does not replace: remove it first or choose another path" -- \
  "${rp[@]}" --out rout --report victim/secret.key
expect 2 "--report 'victim/model.profile' exists and holds a model profile" -- \
  "${rp[@]}" --out rout --report victim/model.profile
expect 2 "'rcsv/summary.csv' (a CSV file the run writes in --out 'rcsv') exists and holds public keys" -- \
  "${rp[@]}" --out rcsv --report r.md
expect 2 "--results 'victim/secret.key' exists and holds secret keys" -- \
  "$quantise" --data dset --out q.txt --results victim/secret.key
expect 2 "--out 'victim/public.key' exists and holds public keys (770.30 KiB), a file of cryptonets that this tool does not replace (it replaces an integer model)" -- \
  "$quantise" --data dset --out victim/public.key --results q.md
expect 2 "--out 'victim/secret.key' exists and holds secret keys (4.28 KiB), a file of cryptonets that this tool does not replace (it replaces a float model)" -- \
  "$train" --data dset --out victim/secret.key
expect 2 "--out 'model.txt' exists and holds an integer model" -- "$train" --data dset --out model.txt
expect 2 "--merged 'victim/evaluation.key' exists and holds evaluation keys" -- \
  "$train" --data dset --architecture paper --out m.txt --merged victim/evaluation.key
# What the file holds is read from its first 64 KiB: a file without a line end (here 256 MiB of
# zero bytes, sparse) was read whole before any other check, twice its size of the tool's memory.
# --threads 0 ends the run at the next check; the peak memory is the child's.
truncate -s 256M zeros.md
python3 - "$quantise" <<'PY' || fail "cryptonets-quantise --results over a 256 MiB file of zero bytes"
import resource, subprocess, sys
run = subprocess.run([sys.argv[1], "--data", "dset", "--out", "q.txt", "--results", "zeros.md",
                      "--threads", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
text = run.stdout.decode(errors="replace")
assert run.returncode == 2 and "--threads expects an integer" in text, (run.returncode, text)
assert peak_kib < 64 << 10, "peak memory %d KiB: %s" % (peak_kib, text)
PY
rm zeros.md
[ "$(sha256sum victim/* rcsv/summary.csv model.txt)" = "$victims_before" ] ||
  fail "a tool replaced a file of the project's own"
[ -e rout ] || [ -e r.md ] || [ -e q.txt ] || [ -e q.md ] || [ -e m.txt ] &&
  fail "a refused tool wrote an output"
rm -r rin afile paper.csv model.txt
[ "$(cd dset && sha256sum -- *)" = "$sums_before" ] || fail "an output over the data changed it"
[ ! -e m.txt ] && [ ! -e q.txt ] && [ ! -e r.md ] || fail "a refused run wrote an output"
rm -r dset

# ---- cryptonets-train: values that would do nothing, before any work (exit 2, no file).
expect 2 "--epochs 0 trains nothing and would write the untrained network" -- \
  "$train" --epochs 0 --out e0.txt
expect 2 "--epochs 0 trains nothing" -- "$train" --epochs 0 --fine-tune x.txt --out e0.txt
expect 2 "--degree applies to --approximate" -- "$train" --degree 3 --out e0.txt
expect 2 "--hidden sets the shape of a new network; --fine-tune FILE keeps the shape of FILE" -- \
  "$train" --fine-tune x.txt --hidden 10 --out e0.txt
expect 2 "--conv-maps sets the shape of a new network" -- \
  "$train" --fine-tune x.txt --conv-maps 3 --out e0.txt
# --architecture and --activation were ignored with --fine-tune: the model keeps its own.
expect 2 "--activation chooses a new network; --fine-tune FILE keeps the activation of FILE (the fine-tuned model's own is used)" -- \
  "$train" --fine-tune x.txt --activation relu --out e0.txt
expect 2 "--architecture chooses a new network; --fine-tune FILE keeps the architecture of FILE" -- \
  "$train" --fine-tune x.txt --architecture paper --out e0.txt
expect 2 "--activation chooses a new network" -- \
  "$train" --fine-tune x.txt --activation square --out e0.txt
# A named output is renamed over the file it replaces: one that cannot be (a device, a FIFO) is
# refused before the work, as the cryptonets commands refuse it (/dev/stdout was written in place).
expect 2 "--out '/dev/stdout' is not a regular file path" -- "$train" --out /dev/stdout
expect 2 "--merged '/dev/stdout' is not a regular file path" -- \
  "$train" --architecture paper --merged /dev/stdout --out e0.txt
expect 2 "--results '/dev/stdout' is not a regular file path" -- \
  "$quantise" --results /dev/stdout --out e0.txt
[ -e e0.txt ] && fail "cryptonets-train wrote its output before refusing"
# A model input that is not a regular file is refused before it is opened (a trial: a FIFO hung
# them; a directory and /dev/zero gave "unexpected end of file").
mkfifo fifo && mkdir adir
expect 2 "--fine-tune 'fifo' is a FIFO (named pipe), not a regular file" -- \
  timeout 60 "$train" --fine-tune fifo --out e0.txt
expect 2 "--fine-tune 'adir' is a directory, not a regular file" -- \
  timeout 60 "$train" --fine-tune adir --out e0.txt
expect 2 "--fine-tune '/dev/zero' is a character device, not a regular file" -- \
  timeout 60 "$train" --fine-tune /dev/zero --out e0.txt
expect 2 "--float 'fifo' is a FIFO (named pipe), not a regular file" -- \
  timeout 60 "$quantise" --float fifo --out e0.txt --results r.md
expect 2 "--float '/dev/zero' is a character device, not a regular file" -- \
  timeout 60 "$quantise" --float /dev/zero --out e0.txt --results r.md
expect 2 "--sequential 'adir' is a directory, not a regular file" -- \
  timeout 60 "$quantise" --sequential adir --out e0.txt --results r.md
rm -r fifo adir
# --epochs 0 with --approximate is the drop-in approximation: accepted (here, to the missing
# model).
expect 1 "x.txt" -- "$train" --data set --epochs 0 --fine-tune x.txt --approximate lsq --out e0.txt
grep -q "trains nothing" message.txt && fail "train refused --epochs 0 --approximate"

# ---- File names in messages: printed escaped (printable_text), so that a name with a newline
# cannot forge a line and one with ESC cannot drive the terminal. Each command below prints the
# name in its result line or its error.
odd=$'odd\nFORGED line\033[2J'
shown='odd\nFORGED line\x1b[2J'
# printed_escaped CODE COMMAND...: exit CODE; the output holds the escaped name, no line starting
# with the forged text, and no ESC byte.
printed_escaped() {
  local code=$1
  shift
  checks=$((checks + 1))
  "$@" >message.txt 2>&1
  local status=$?
  [ "$status" -eq "$code" ] || fail "exit code $status, expected $code: $(cat -v message.txt)"
  grep -qF -- "$shown" message.txt || fail "the name is not shown escaped: $(cat -v message.txt)"
  grep -q "^FORGED" message.txt && fail "a forged line: $(cat -v message.txt)"
  grep -q $'\033' message.txt && fail "an ESC byte: $(cat -v message.txt)"
}
mkdir names && cd names || exit 1
images=$data/mnist/t10k-images-idx3-ubyte.gz
printed_escaped 0 "$exe" keygen --out-dir "$odd" --insecure-ring-degree 64
printed_escaped 0 "$exe" encrypt --keys "$odd" --images "$images" --count 2 --out "$odd.ct" \
  --threads 1
mkdir server && cp "$odd/params" "$odd/evaluation.key" "$odd/public.key" server/
printed_escaped 0 "$exe" infer --keys server --in "$odd.ct" --out "$odd.scores" --threads 1
printed_escaped 0 "$exe" decrypt --keys "$odd" --in "$odd.scores" --out "$odd.labels" \
  --scores "$odd.csv"
printed_escaped 0 "$exe" profile --out "$odd.profile"
printed_escaped 1 "$exe" encrypt --keys "$odd" --images "$odd.missing" --count 2 --out x.ct
printed_escaped 2 "$exe" encrypt --keys "$odd" --images "$images" --out "$odd/none/x.ct"
printed_escaped 1 "$exe" mnist --model "$odd.missing" --images 2 --insecure-ring-degree 64
printed_escaped 2 "$exe" "$odd"
if "$exe" --help | grep -qw serve; then
  printed_escaped 1 "$exe" serve --state-dir state --model "$odd.missing" --listen 127.0.0.1:0
fi
printed_escaped 1 "$train" --data "$odd" --out f.txt
printed_escaped 2 "$train" --out "$odd/none/f.txt"
printed_escaped 1 "$quantise" --float "$odd.missing" --data ../set --out m.txt --results r.md
printed_escaped 1 "$reproduce" --paper-values "$odd.missing" --out r --report r.md
printed_escaped 2 "$reproduce" --mode "$odd"
cd .. || exit 1

# ---- cryptonets-reproduce --seed: 0 to 2^63 - 1; anything else names the range and why.
expect 1 "cryptonets-reproduce: cannot read the paper's values from none.csv" -- \
  "$reproduce" --seed 0 --paper-values none.csv --out r --report r.md
expect 1 "cannot read the paper's values from none.csv" -- \
  "$reproduce" --seed 9223372036854775807 --paper-values none.csv --out r --report r.md
for seed in -1 x 1,2 9223372036854775808 99999999999999999999 ""; do
  expect 2 "--seed expects one integer from 0 to 9223372036854775807 (2^63 - 1, as cryptonets keygen --seed): it keys the INSECURE deterministic generator; got '$seed'" -- \
    "$reproduce" --seed "$seed" --out r --report r.md
done
# A usage error points to --help, as the other tools' do (it printed the whole usage).
expect 2 "cryptonets-reproduce: unknown option '--bogus' (see cryptonets-reproduce --help)" -- \
  "$reproduce" --bogus
[ "$(wc -l <message.txt)" -eq 1 ] || fail "reproduce --bogus: more than one line: $(cat message.txt)"
[ -e r ] || [ -e r.md ] && fail "cryptonets-reproduce wrote its outputs before refusing"
# --NAME=VALUE as the other tools take it (a trial: --mode=test was an unknown option); a flag
# takes no value.
expect 2 "cryptonets-reproduce: --timing-n: 3 is not a power of two" -- \
  "$reproduce" --mode=test --timing-n=3
expect 2 "cryptonets-reproduce: --mode expects test, reduced or full, got 'bogus'" -- \
  "$reproduce" --mode=bogus
expect 2 "cryptonets-reproduce: --no-verify takes no value" -- "$reproduce" --no-verify=1
# An option given twice is a usage error, as in the other tools (a review: the last one was used
# without a word, --mode test --mode full ran the full mode), in either spelling.
expect 2 "cryptonets-reproduce: --mode given twice (see cryptonets-reproduce --help)" -- \
  "$reproduce" --mode test --mode=full --out r --report r.md
expect 2 "cryptonets-reproduce: --out given twice" -- \
  "$reproduce" --mode test --out r --report r.md --out r2
[ -e r ] || [ -e r.md ] || [ -e r2 ] && fail "cryptonets-reproduce wrote its outputs before refusing"

# ---- A bare run outside the repository: the default inputs, relative to the current directory,
# are not there; the error says so and how to go on (a trial: "data set 'data/mnist': no such
# directory", as if the user had named it).
mkdir bare && cd bare || exit 1
expect 1 "data set 'data/mnist': no such directory (the default of --data, relative to the current directory '$PWD': run from the repository, or give --data)" -- \
  "$train" --epochs 1 --out f.txt
expect 1 "cannot open float model 'data/model-float.txt': No such file or directory (the default of --float, relative to the current directory '$PWD': run from the repository, or give --float)" -- \
  "$quantise" --data ../set --out m.txt --results r.md
# A model named that is not there: the reason too (a trial: "cannot open float model 'absent.txt'").
expect 1 "cannot open sequential model 'absent.txt': No such file or directory" -- \
  "$quantise" --sequential absent.txt --data ../set --out m.txt --results r.md
expect 1 "(the default of --data, relative to the current directory" -- \
  "$quantise" --float "$data/model-float.txt" --out m.txt --results r.md
# The default outputs too, whose directories are not there: the truly bare run stops at --out.
expect 2 "--out: cannot write file 'data/model-float.txt': its directory 'data' does not exist (outputs go into an existing directory) (the default of --out, relative to the current directory '$PWD': run from the repository, or give --out)" -- \
  "$train" --epochs 1
expect 2 "its directory 'data' does not exist (outputs go into an existing directory) (the default of --out, relative" -- \
  "$quantise" --float "$data/model-float.txt" --data ../set --results r.md
expect 2 "its directory 'bench/results' does not exist (outputs go into an existing directory) (the default of --results, relative" -- \
  "$quantise" --float "$data/model-float.txt" --data ../set --out m.txt
rm message.txt
[ -z "$(ls -A)" ] || fail "a bare run outside the repository left files: $(ls -A)"
# Named, a missing input gets no such reason.
expect 1 "data set 'no-data': no such directory" -- "$train" --data no-data --epochs 1 --out f.txt
grep -q "the default of" message.txt && fail "a named --data was called the default: $(cat message.txt)"
expect 2 "--out: cannot write file 'no-dir/f.txt': its directory 'no-dir' does not exist" -- \
  "$train" --epochs 1 --out no-dir/f.txt
grep -q "the default of" message.txt && fail "a named --out was called the default: $(cat message.txt)"
cd .. || exit 1

# ---- A binary file where a text model belongs: the message says so, whole (a trial: an IDX file
# as --float was "found '" and nothing more, the NUL ending the message; a key file "found
# 'CNPFKY\x06"); a long word is cut short.
"$exe" keygen --out-dir binary-keys --insecure-ring-degree 64 >/dev/null 2>&1 ||
  fail "keygen for the binary-file cases failed"
expect 1 "float model 'set/t10k-images-idx3-ubyte': found binary data (not text), expected 'cryptonets-float-model'" -- \
  "$quantise" --float set/t10k-images-idx3-ubyte --data set --out binary-model.txt \
  --results binary-table.md --no-verify
# A binary file of cryptonets is named by its kind (it was "found binary data (not text)"), a
# damaged one too (its first 6 bytes: magic, kind, scheme).
expect 1 "float model 'binary-keys/public.key': this is a cryptonets public key file (YASHE'), not a float model" -- \
  "$quantise" --float binary-keys/public.key --data set --out binary-model.txt \
  --results binary-table.md --no-verify
expect 1 "sequential model 'binary-keys/evaluation.key': this is a cryptonets evaluation key file (YASHE'), not a sequential model" -- \
  "$train" --fine-tune binary-keys/evaluation.key --data set --out binary-model.txt --no-verify
printf 'CNPFCB\001' >cut.ct
expect 1 "sequential model 'cut.ct': this is a cryptonets ciphertext file (BFV), not a sequential model" -- \
  "$quantise" --sequential cut.ct --data set --out binary-model.txt --results binary-table.md \
  --no-verify
expect 1 "sequential model 'set/t10k-images-idx3-ubyte': found binary data (not text), expected 'cryptonets-sequential-model'" -- \
  "$train" --fine-tune set/t10k-images-idx3-ubyte --data set --out binary-model.txt --no-verify
# A file of cryptonets is named by its kind (it was "binary data" at line 1, as any other).
expect 1 "model file 'binary-keys/public.key' holds public keys (a binary file of cryptonets), not a model" -- \
  "$exe" profile --model binary-keys/public.key --out binary.profile
expect 1 "model file 'binary-keys/secret.key' holds secret keys (a binary file of cryptonets), not a model" -- \
  "$exe" profile --model binary-keys/secret.key --out binary.profile
[ -e binary-model.txt ] || [ -e binary-table.md ] || [ -e binary.profile ] &&
  fail "a refused binary model left an output behind"
printf '%0200d\n' 1 >long-word.txt
expect 1 "float model 'long-word.txt': found '0000000000000000000000000000000000000000...', expected" -- \
  "$quantise" --float long-word.txt --data set --out binary-model.txt --results binary-table.md \
  --no-verify
[ "$(wc -c <message.txt)" -lt 200 ] || fail "the message quotes a 200-byte word whole: $(cat message.txt)"

# ---- A closed stdout is refused before any work (the next file opened would take its
# descriptor); a report that cannot be written (/dev/full) is an error.
for tool in "$train" "$quantise" "$reproduce"; do
  name=$(basename "$tool")
  expect 2 "$name: standard output is closed; redirect it instead" -- sh -c '"$1" --help >&-' sh "$tool"
  expect 1 "$name: error: standard output could not be written" -- \
    sh -c '"$1" --help >/dev/full' sh "$tool"
done

finish "tools: all $checks cases passed"
