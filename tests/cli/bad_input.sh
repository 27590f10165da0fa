#!/usr/bin/env bash
# Bad input to the subcommands (issue 7): every case must end with the documented exit code (1 for
# bad input or a refused operation, 2 for a usage error), a message naming the problem, and no
# output file, not even a partial or temporary one. Small test-only parameters (ring degree 64)
# keep it fast; the checks do not depend on the ring size.
#
# usage: bad_input.sh CRYPTONETS DATA_DIR
set -uo pipefail

exe=$(realpath "$1")
data=$(realpath "$2")
images=$data/mnist/t10k-images-idx3-ubyte.gz
labels=$data/mnist/t10k-labels-idx1-ubyte.gz
model=$data/model.txt

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect CODE PHRASE OUTPUT -- COMMAND...: COMMAND exits with CODE, prints PHRASE (on stdout or
# stderr), and leaves neither OUTPUT nor any temporary file behind (OUTPUT "-": none expected).
expect() {
  local code=$1 phrase=$2 output=$3
  shift 4
  checks=$((checks + 1))
  [ "$output" = - ] || rm -f "$output"
  "$@" >message.txt 2>&1
  local status=$?
  if [ "$status" -ne "$code" ]; then
    fail "exit code $status, expected $code: $*"
    sed 's/^/    /' message.txt >&2
  elif ! grep -qF -- "$phrase" message.txt; then
    fail "message lacks '$phrase': $*"
    sed 's/^/    /' message.txt >&2
  fi
  if [ "$output" != - ] && [ -e "$output" ]; then fail "left $output behind: $*"; fi
  if [ -n "$(find . -name '*.tmp-*' -print -quit)" ]; then
    fail "left a temporary file behind: $*"
    find . -name '*.tmp-*' -delete
  fi
}

# Must succeed (set-up steps and the cases that must not fail).
run() {
  if ! "$@" >message.txt 2>&1; then
    cat message.txt >&2
    echo "FAIL: set-up step failed: $*" >&2
    exit 1
  fi
}

flip_byte() {  # FILE OFFSET: xor one byte with 1
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ---- Set-up: a client key directory, a server directory without the secret key, a batch.
run "$exe" keygen --out-dir client --insecure-ring-degree 64
mkdir server && cp client/params client/evaluation.key server/
run "$exe" encrypt --keys client --images "$images" --count 5 --out images.ct --threads 1
run "$exe" infer --keys server --in images.ct --out scores.ct --threads 1

# ---- Unknown flags and missing options: usage errors, exit 2.
for command in params keygen encrypt infer decrypt mnist; do
  expect 2 "unknown option --bogus" - -- "$exe" "$command" --bogus
done
expect 2 "unknown command 'frobnicate'" - -- "$exe" frobnicate
expect 2 "--scheme must be yashe or bfv, not 'ckks'" - -- "$exe" params --scheme ckks
expect 2 "--scheme must be yashe or bfv, not 'ckks'" - -- "$exe" mnist --scheme ckks --images 1
expect 2 "--preset and --select are for --scheme yashe" - -- \
  "$exe" params --scheme bfv --preset paper
expect 2 "missing required option --out" - -- "$exe" encrypt --keys client --images "$images"
expect 2 "--threads expects an integer in [1, 1024], got 'many'" out.ct -- \
  "$exe" infer --keys server --in images.ct --out out.ct --threads many
expect 2 "--insecure-ring-degree must be a power of two" - -- \
  "$exe" keygen --out-dir other --insecure-ring-degree 100

# ---- Missing and unreadable files.
expect 1 "cannot open" out.ct -- "$exe" encrypt --keys client --images missing.gz --out out.ct
expect 1 "cannot open file 'missing.ct'" out.ct -- \
  "$exe" infer --keys server --in missing.ct --out out.ct
expect 1 "cannot open file 'nowhere/params'" out.ct -- \
  "$exe" encrypt --keys nowhere --images "$images" --count 1 --out out.ct
expect 1 "it is a directory" out.ct -- "$exe" infer --keys server --in server --out out.ct
if [ "$(id -u)" -ne 0 ]; then  # root reads files whatever their mode
  cp images.ct unreadable.ct && chmod 000 unreadable.ct
  expect 1 "Permission denied" out.ct -- \
    "$exe" infer --keys server --in unreadable.ct --out out.ct
fi

# ---- Truncated files.
head -c 100000 images.ct >truncated.ct
expect 1 "truncated" out.ct -- "$exe" infer --keys server --in truncated.ct --out out.ct
head -c 60 images.ct >truncated.ct
expect 1 "truncated: 60 bytes, the header alone needs 96" out.ct -- \
  "$exe" infer --keys server --in truncated.ct --out out.ct
mkdir truncated-keys && cp server/params truncated-keys/
head -c 5000 server/evaluation.key >truncated-keys/evaluation.key
expect 1 "truncated" out.ct -- "$exe" infer --keys truncated-keys --in images.ct --out out.ct
head -c "$(($(stat -c %s scores.ct) - 1))" scores.ct >truncated.ct
expect 1 "truncated" labels.txt -- \
  "$exe" decrypt --keys client --in truncated.ct --out labels.txt

# ---- Corrupted files: one flipped byte.
cp images.ct corrupted.ct && flip_byte corrupted.ct 100000
expect 1 "corrupted: checksum mismatch" out.ct -- \
  "$exe" infer --keys server --in corrupted.ct --out out.ct
cp images.ct corrupted.ct && flip_byte corrupted.ct 20
expect 1 "corrupted: header checksum mismatch" out.ct -- \
  "$exe" infer --keys server --in corrupted.ct --out out.ct
cp scores.ct corrupted.ct && flip_byte corrupted.ct 1000
expect 1 "corrupted: checksum mismatch" labels.txt -- \
  "$exe" decrypt --keys client --in corrupted.ct --out labels.txt
cp scores.ct corrupted.ct && flip_byte corrupted.ct 56  # the first image index: 0 -> 1
expect 1 "corrupted: header checksum mismatch" labels.txt -- \
  "$exe" decrypt --keys client --in corrupted.ct --out labels.txt
mkdir corrupted-keys && cp server/params server/evaluation.key corrupted-keys/
flip_byte corrupted-keys/evaluation.key 3000
expect 1 "corrupted: checksum mismatch" out.ct -- \
  "$exe" infer --keys corrupted-keys --in images.ct --out out.ct
cp images.ct trailing.ct && printf x >>trailing.ct
expect 1 "trailing bytes" out.ct -- "$exe" infer --keys server --in trailing.ct --out out.ct

# ---- Foreign files: another kind, not a protocol file at all.
expect 1 "holds evaluation keys, expected ciphertexts" out.ct -- \
  "$exe" infer --keys server --in server/evaluation.key --out out.ct
expect 1 "not a cryptonets protocol file" out.ct -- \
  "$exe" infer --keys server --in "$model" --out out.ct
expect 1 "holds ciphertexts, expected a parameter set" out.ct -- \
  "$exe" infer --params images.ct --evaluation-key server/evaluation.key --in images.ct \
  --out out.ct
expect 1 "the model has 10 outputs (decrypt reads the scores that cryptonets infer writes)" \
  labels.txt -- "$exe" decrypt --keys client --in images.ct --out labels.txt
expect 1 "the model takes 784 inputs" out.ct -- \
  "$exe" infer --keys server --in scores.ct --out out.ct
expect 1 "wrong magic number" out.ct -- \
  "$exe" encrypt --keys client --images "$labels" --count 1 --out out.ct

# ---- Ciphertexts from other parameters and from other keys.
run "$exe" keygen --out-dir other-params --insecure-ring-degree 32
mkdir other-params-server && cp other-params/params other-params/evaluation.key other-params-server/
expect 1 "made for other parameters" out.ct -- \
  "$exe" infer --keys other-params-server --in images.ct --out out.ct
expect 1 "made for other parameters" labels.txt -- \
  "$exe" decrypt --keys other-params --in scores.ct --out labels.txt
run "$exe" keygen --out-dir other-keys --insecure-ring-degree 64
mkdir other-keys-server && cp other-keys/params other-keys/evaluation.key other-keys-server/
expect 1 "encrypted under other keys" out.ct -- \
  "$exe" infer --keys other-keys-server --in images.ct --out out.ct
expect 1 "encrypted under other keys" labels.txt -- \
  "$exe" decrypt --keys other-keys --in scores.ct --out labels.txt
expect 1 "made for other parameters" out.ct -- \
  "$exe" infer --params other-params/params --evaluation-key server/evaluation.key \
  --in images.ct --out out.ct

# ---- A model whose outputs need more plaintext bits than the keys' moduli give: the conv weights
# times 1000 add about 40 bits to the scores (two squares).
awk '/^conv/ { scale = 1; print; next } /^bias/ { scale = 0 }
     scale { for (i = 1; i <= NF; i++) $i = $i * 1000 } { print }' "$model" >big-model.txt
expect 1 "the model needs" out.ct -- \
  "$exe" infer --keys server --model big-model.txt --in images.ct --out out.ct
expect 1 "plaintext moduli has 78 bits" out.ct -- \
  "$exe" encrypt --keys client --model big-model.txt --images "$images" --count 1 --out out.ct

# ---- Images of the wrong size: an IDX file of two 27x27 images.
{
  printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1b\x00\x00\x00\x1b'
  head -c 1458 /dev/zero
} >small.idx
expect 1 "images are 27x27, expected 28x28" out.ct -- \
  "$exe" encrypt --keys client --images small.idx --out out.ct
expect 1 "holds only 10000 images" out.ct -- \
  "$exe" encrypt --keys client --images "$images" --first 9999 --count 2 --out out.ct

# ---- The server refuses the secret key in every form; infer never needs it.
expect 1 "refused --secret-key" out.ct -- \
  "$exe" infer --keys server --secret-key client/secret.key --in images.ct --out out.ct
expect 1 "refused: the key directory holds client/secret.key" out.ct -- \
  "$exe" infer --keys client --in images.ct --out out.ct
expect 1 "refused: 'client/secret.key' holds secret keys" out.ct -- \
  "$exe" infer --params server/params --evaluation-key client/secret.key --in images.ct \
  --out out.ct

# ---- keygen does not overwrite a secret key.
before=$(sha256sum client/secret.key)
expect 1 "refusing to overwrite the secret key" - -- \
  "$exe" keygen --out-dir client --insecure-ring-degree 64
[ "$(sha256sum client/secret.key)" = "$before" ] || fail "keygen replaced the secret key"

# ---- More images than slots: split into batches, not an error (70 images, 64 slots).
checks=$((checks + 1))
run "$exe" encrypt --keys client --images "$images" --first 3 --count 70 --out many.ct --threads 1
grep -qF "encrypted 70 images (from 3) in 2 batch(es) of up to 64" message.txt ||
  fail "70 images were not split into 2 batches of up to 64: $(cat message.txt)"
run "$exe" infer --keys server --in many.ct --out many-scores.ct --threads 1
grep -qF "inferred 70 images in 2 batch(es)" message.txt || fail "infer: $(cat message.txt)"
# decrypt is not told --first 3: the scores file records it.
run "$exe" decrypt --keys client --in many-scores.ct --plain-images "$images" --out many-labels.txt
grep -qF "decrypted 70 images (from 3)" message.txt ||
  fail "decrypt did not read first image 3 from the file: $(cat message.txt)"
grep -qF "encrypted scores equal the plain integer model's on all 70 images" message.txt ||
  fail "split batches do not match the plain model: $(cat message.txt)"
[ "$(wc -l <many-labels.txt)" -eq 70 ] || fail "many-labels.txt does not hold 70 labels"

# ---- A --first that contradicts the file's recorded first image is a usage error, not a silent
# comparison with the wrong labels or images.
expect 2 "--first 4 contradicts 'many-scores.ct', which records first image 3" misaligned.txt -- \
  "$exe" decrypt --keys client --in many-scores.ct --first 4 --plain-images "$images" \
  --labels "$labels" --out misaligned.txt

# ---- The plain comparison notices a difference: the last bias of the model changed in its last
# digit (as text: awk's doubles would round the 18-digit values).
awk '{ line[NR] = $0 } /^bias / { last = NR }
     END {
       for (i = 1; i <= NR; i++) {
         if (i == last) {
           n = split(line[i], field, " ")
           digit = substr(field[2], length(field[2]))
           field[2] = substr(field[2], 1, length(field[2]) - 1) ((digit + 1) % 10)
           line[i] = field[1]
           for (j = 2; j <= n; j++) line[i] = line[i] " " field[j]
         }
         print line[i]
       }
     }' "$model" >other-bias-model.txt
cmp -s "$model" other-bias-model.txt && fail "other-bias-model.txt equals the model"
expect 1 "DIFFER from the plain integer model's on 70 of 70 images" differ.txt -- \
  "$exe" decrypt --keys client --in many-scores.ct --model other-bias-model.txt \
  --plain-images "$images" --out differ.txt

# ---- A scores file of format version 1 (an 88-byte header without the first image index):
# refused by name. Its header: bytes 0-55 with version 1, then their SHA-256.
{
  head -c 6 scores.ct
  printf '\x01\x00'
  tail -c +9 scores.ct | head -c 48
} >v1-header.bin
v1_checksum=$(sha256sum v1-header.bin | cut -c1-64)
{
  cat v1-header.bin
  # shellcheck disable=SC2059,SC2001
  printf "$(sed 's/../\\x&/g' <<<"$v1_checksum")"
  tail -c +97 scores.ct
} >v1-scores.ct
older="format version 1, this build reads version 2: written by an older cryptonets; re-run encrypt"
expect 1 "$older" labels.txt -- "$exe" decrypt --keys client --in v1-scores.ct --out labels.txt

echo "$checks cases checked, $failures failure(s)"
[ "$failures" -eq 0 ]
