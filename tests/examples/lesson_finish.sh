#!/usr/bin/env bash
# The summary of a lesson whose claims fail counts them in words (it printed "1 claim(s) FAILED"):
# "1 claim FAILED", "2 claims FAILED", exit 1; none failing: "every claim of this lesson holds".
#
# usage: lesson_finish.sh LESSON_FINISH
set -uo pipefail

# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"

for case in "0:0:every claim of this lesson holds" "1:1:1 claim FAILED" "2:1:2 claims FAILED"; do
  IFS=: read -r count code summary <<<"$case"
  status=0
  "$1" "$count" >"$work/out" 2>&1 || status=$?
  [ "$status" -eq "$code" ] && [ "$(tail -n 1 "$work/out")" = "$summary" ] ||
    fail "lesson_finish $count: exit $status (expected $code), last line '$(tail -n 1 "$work/out")', expected '$summary'"
done
finish "lesson summaries: ok"
