# shellcheck shell=bash
# Sourced by the shell tests one directory below (tests/cli/*.sh, tests/bench/*.sh, ...), after
# their `set` line, by a path relative to the script, so that it is found wherever the test runs
# from (meson runs the scripts from the source tree, with the build directory as the working one):
#   . "$(dirname "$0")/../support.sh"
#
# - $work: a new temporary directory, removed when the test ends, however it ends (a failure
#   too: nothing is kept). A test that has more to undo at its end (processes it started) names it
#   with `at_exit COMMAND`, run before the directory is removed; a `trap ... EXIT` of its own
#   would replace this one and leave the directory behind.
# - fail MESSAGE: prints "FAIL: MESSAGE" on standard error and counts it in $failures; the test
#   goes on. $checks counts the cases that expect (and a test's own helpers) check.
# - finish MESSAGE: the test's end: exit 1 saying how many checks failed, or print MESSAGE.
# - step NAME COMMAND...: a command that must succeed (everything after it depends on it).
# - run COMMAND...: the same for set-up commands, their output in message.txt.
# - expect CODE PHRASE [OUTPUT] -- COMMAND...: a command that must fail in a given way.

work=$(mktemp -d) || {
  echo "FAIL: mktemp -d could not make the test's work directory" >&2
  exit 1
}
support_pid=$BASHPID
support_at_exit=()
at_exit() {  # COMMAND (one string, evaluated at the end)
  support_at_exit+=("$1")
}
support_end() {
  # Only the test's own shell: a child it forked runs this trap too when a signal ends it before
  # its exec, and must not remove the directory under the test.
  [ "$BASHPID" = "$support_pid" ] || return 0
  local command
  for command in "${support_at_exit[@]}"; do
    eval "$command" || true
  done
  rm -rf "$work"
}
trap support_end EXIT

failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

finish() {  # MESSAGE
  # A test's own `trap ... EXIT` replaces support_end, and $work is left in TMPDIR at every run
  # (test_benchmarks.sh's did): use at_exit.
  case "$(trap -p EXIT)" in
    *support_end*) ;;
    *) fail "the test replaced support.sh's EXIT trap (with $(trap -p EXIT)); \$work would be left behind: use at_exit" ;;
  esac
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "$*"
}

# step NAME COMMAND...: runs COMMAND, its output in $work/NAME.log, and stops the test if it fails
# (showing the log); else prints "NAME: SECONDS s", and the log too when $step_prints_log is yes.
step_prints_log=no
step() {
  local name=$1
  shift
  local start=$SECONDS
  if ! "$@" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2
    echo "FAIL: $name exited with an error: $*" >&2
    exit 1
  fi
  echo "$name: $((SECONDS - start)) s"
  [ "$step_prints_log" != yes ] || cat "$work/$name.log"
}

# run COMMAND...: a set-up step that must succeed; its output in message.txt (in the current
# directory), shown if it fails, which stops the test.
run() {
  if ! "$@" >message.txt 2>&1; then
    cat message.txt >&2
    echo "FAIL: set-up step failed: $*" >&2
    exit 1
  fi
}

# expect CODE PHRASE [OUTPUT] -- COMMAND...: COMMAND exits with CODE, prints PHRASE (on standard
# output or error: both go to message.txt in the current directory), and leaves neither OUTPUT (a
# file or directory, removed first; "-" or none: no output expected) nor any temporary file
# (*.tmp-*) below the current directory.
expect() {
  local code=$1 phrase=$2 output=-
  if [ "$3" = -- ]; then
    shift 3
  else
    output=$3
    shift 4
  fi
  checks=$((checks + 1))
  [ "$output" = - ] || rm -rf -- "$output"
  "$@" >message.txt 2>&1
  local status=$?
  if [ "$status" -ne "$code" ]; then
    fail "exit code $status, expected $code: $*"
    sed 's/^/    /' message.txt >&2
  elif ! grep -qF -- "$phrase" message.txt; then
    fail "message lacks '$phrase': $*"
    sed 's/^/    /' message.txt >&2
  fi
  # -L too: a link left as the output, dangling or not, is something left behind (a review).
  if [ "$output" != - ] && { [ -e "$output" ] || [ -L "$output" ]; }; then
    fail "left $output behind: $*"
  fi
  if [ -n "$(find . -name '*.tmp-*' -print -quit)" ]; then
    fail "left a temporary file behind: $*"
    # Directories too, whole: -delete removes only empty ones, and a leftover staging directory
    # was then reported again by every later check (a review).
    find . -name '*.tmp-*' -prune -exec rm -rf {} +
  fi
}
