#!/usr/bin/env bash
# The main job under BFV (slow suite): `cryptonets mnist --scheme bfv` on the first IMAGES test
# images must say that every encrypted score equals the plain integer network's (its exit status
# says so too), print the BFV parameters at n = 8192 inside the standard's 128-bit bound, and name
# the assumptions.
#
# usage: mnist_bfv.sh CRYPTONETS DATA_DIR [IMAGES]
set -euo pipefail
exe=$(realpath "$1")
data=$(realpath "$2")
count=${3:-200}
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"
step_prints_log=yes
step mnist "$exe" mnist --scheme bfv --images "$count" --threads 2 --data "$data/mnist" \
  --model "$data/model.txt"
out=$work/mnist.log
for expected in \
  "encrypted scores equal the plain integer network's: yes, on every image" \
  "security: 128-bit classical per the HE standard's ternary-secret table" \
  "decision RLWE with a ternary secret and circular security of the relinearisation key" \
  "parameters (bfv): BFV: n = 8192"; do
  grep -qF "$expected" "$out" || fail "the output lacks '$expected'"
done
finish "mnist --scheme bfv: all checks passed"
