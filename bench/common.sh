# shellcheck shell=bash
# Sourced by the measurement scripts in bench/: their arguments are checked before any work (a
# usage error exits 2), their files are written in a temporary directory, and the results in
# bench/results (committed) are replaced only when the whole run succeeded, each by a rename. A
# run that fails or is interrupted leaves the committed results and no stray files behind.
#
# The sourcing script sets bench_usage (its usage line) before calling these.
# shellcheck disable=SC2154

bench_name=$(basename "$0")

# A path the caller gave (an argument or a variable such as TRAIN): relative to the caller's
# directory, $bench_caller, which the script records before it changes to the repository (a review:
# 'bash ~/cryptonets/bench/simd.sh mybuild' from another directory looked for the repository's
# mybuild). Empty: `default`, relative to the repository as the usage line gives it.
bench_from_caller() {  # path default
  case "$1" in
    "") printf '%s\n' "$2" ;;
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "${bench_caller:?set by the script before it changes directory}/$1" ;;
  esac
}

# Prints the usage line on standard output and exits 0 when the first argument asks for help.
bench_help() {  # "$@" of the script
  case "${1:-}" in
    -h | --help)
      echo "usage: $bench_usage"
      exit 0
      ;;
  esac
}

bench_usage_error() {  # message
  echo "$bench_name: $1" >&2
  echo "usage: $bench_usage" >&2
  exit 2
}

# An integer in [low, high] written with digits only, no leading zero.
bench_count() {  # name value low high
  [[ $2 =~ ^[1-9][0-9]{0,8}$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
    bench_usage_error "$1 is an integer from $3 to $4, got '$2'"
}

# A program the run needs: a usage error naming it and the build directory when it is missing.
bench_program() {  # path [build directory]
  [ -f "$1" ] && [ -x "$1" ] && return
  bench_usage_error "no program $1${2:+: is $2 a built build directory? (meson setup $2 && meson compile -C $2)}"
}

# The run's temporary directory ($bench_work), removed when the script ends, however it ends.
bench_work_dir() {
  bench_work=$(mktemp -d "${TMPDIR:-/tmp}/${bench_name%.sh}.XXXXXX")
  trap 'rm -rf "$bench_work"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# Replaces dest with src: copied beside dest first, then renamed, so that dest is either the old
# file or the whole new one.
bench_publish() {  # src dest
  local staged
  staged=$(mktemp "$(dirname "$2")/.$(basename "$2").XXXXXX")
  if cp "$1" "$staged" && chmod 644 "$staged" && mv -f "$staged" "$2"; then
    return 0
  fi
  rm -f "$staged"
  return 1
}
