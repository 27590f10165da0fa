#!/usr/bin/env bash
# Example 6 given a DATA_DIR without the shipped model and images: an error naming the missing
# file, exit 1 (a trial: std::terminate's abort, exit 134); no arguments, or a DATA_DIR that does
# not exist: its usage, exit 2 (arguments.sh checks the other values).
#
# usage: bad_data_dir.sh EXAMPLE_6
set -uo pipefail

example=$1
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"

mkdir "$work/empty"
"$example" "$work/empty" >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "a DATA_DIR without the model: exit $status, expected 1"
grep -qF "error: model file '$work/empty/model.txt': cannot open" "$work/out.txt" ||
  fail "a DATA_DIR without the model: the message does not name the model file: $(cat "$work/out.txt")"
grep -q "terminate called" "$work/out.txt" && fail "a DATA_DIR without the model ended in std::terminate"

"$example" "$work/no-such-dir" >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "a missing DATA_DIR: exit $status, expected 2"
grep -q "^usage: .* DATA_DIR$" "$work/out.txt" || fail "a missing DATA_DIR: no usage line"

"$example" >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 2 ] || fail "no DATA_DIR: exit $status, expected 2"
grep -q "^usage: .* DATA_DIR$" "$work/out.txt" || fail "no DATA_DIR: no usage line"

finish "example 6 refuses a bad DATA_DIR cleanly"
