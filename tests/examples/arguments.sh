#!/usr/bin/env bash
# The examples' command line (a trial: they ran whatever they were given, and example 6 took
# --help for its DATA_DIR): --help prints the usage, exit 0, before any lesson; an unknown option,
# an argument too many or too few, or a DATA_DIR (example 6) that is empty, missing or no directory
# is a usage error, exit 2, naming it, with the usage line and nothing of the lesson run.
#
# usage: arguments.sh EXAMPLE... (example 6, which takes DATA_DIR, among them)
set -uo pipefail

# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"

# run NAME CODE COMMAND...: COMMAND exits with CODE; its stdout goes to NAME.out, stderr NAME.err.
run() {
  local name=$1 code=$2 status=0
  shift 2
  "$@" >"$work/$name.out" 2>"$work/$name.err" || status=$?
  [ "$status" -eq "$code" ] || fail "$*: exit $status, expected $code: $(cat "$work/$name.err")"
}

for example in "$@"; do
  name=$(basename "$example")
  operand=""
  case $name in *6_cryptonets*) operand=" DATA_DIR" ;; esac
  run help 0 "$example" --help
  grep -qx "usage: $example$operand" "$work/help.out" ||
    fail "$name --help: no usage line: $(cat "$work/help.out")"
  grep -q "==" "$work/help.out" && fail "$name --help ran the lesson"
  run bogus 2 "$example" --bogus
  grep -qxF "$example: unknown option '--bogus'" "$work/bogus.err" ||
    fail "$name --bogus: the error does not name it: $(cat "$work/bogus.err")"
  grep -qx "usage: $example$operand" "$work/bogus.err" || fail "$name --bogus: no usage line"
  [ -s "$work/bogus.out" ] && fail "$name --bogus ran the lesson: $(head -n 3 "$work/bogus.out")"
  if [ -n "$operand" ]; then
    run extra 2 "$example" "$work" surplus
  else
    run extra 2 "$example" surplus
  fi
  grep -qxF "$example: unexpected argument 'surplus'" "$work/extra.err" ||
    fail "$name with an argument too many: the error does not name it: $(cat "$work/extra.err")"
  [ -s "$work/extra.out" ] && fail "$name with an argument too many ran the lesson"
  # "--" ends the options (it was an unknown option): after it, '--help' is an operand.
  if [ -n "$operand" ]; then
    run dashes 2 "$example" -- "$work/no-such-dir"
    said="DATA_DIR '$work/no-such-dir' does not exist"
  else
    run dashes 2 "$example" -- --help
    said="unexpected argument '--help'"
  fi
  grep -qxF "$example: $said" "$work/dashes.err" ||
    fail "$name -- ...: the error does not say '$said': $(cat "$work/dashes.err")"
  [ -n "$operand" ] || continue
  # DATA_DIR's count and value (the last session's list: a missing or empty DATA_DIR, or a file,
  # ran the lesson up to the first file it read, exit 1).
  : >"$work/a-file"
  for case in "missing:" "empty:''" "absent:$work/no-such-dir" "file:$work/a-file"; do
    what=${case%%:*}
    value=${case#*:}
    case $what in
      missing) run "$what" 2 "$example"; said="DATA_DIR is missing" ;;
      empty) run "$what" 2 "$example" ""; said="DATA_DIR is empty" ;;
      absent) run "$what" 2 "$example" "$value"; said="DATA_DIR '$value' does not exist" ;;
      file) run "$what" 2 "$example" "$value"; said="DATA_DIR '$value' is not a directory" ;;
    esac
    grep -qxF "$example: $said" "$work/$what.err" ||
      fail "$name with DATA_DIR $what: the error does not say '$said': $(cat "$work/$what.err")"
    grep -qx "usage: $example$operand" "$work/$what.err" || fail "$name with DATA_DIR $what: no usage line"
    [ -s "$work/$what.out" ] && fail "$name with DATA_DIR $what ran the lesson: $(head -n 3 "$work/$what.out")"
  done
done

finish "the examples refuse unknown arguments and print their usage on --help"
