#!/usr/bin/env bash
# cryptonets-simd-network's arguments: a bad one is a usage error (exit 2) before any work;
# --help exits 0.
# Usage: test_scripts.sh SOURCE_ROOT SIMD_NETWORK
set -euo pipefail
root="$1"
simd_network="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

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

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "bench tools: usage errors: ok"
