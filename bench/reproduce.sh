#!/usr/bin/env bash
# Reproduces the CryptoNets paper's tables and plots on this machine, with both training networks
# under YASHE' (paper, default) and BFV, and the Crypto-Nets activation study (issue 17):
#   bash bench/reproduce.sh                 reduced mode (one full batch for accuracy, ~15-25 min on 2 cores)
#   bash bench/reproduce.sh --mode full     all 10,000 test images, scaling on every plaintext modulus
#   bash bench/reproduce.sh --mode test     a smoke test at n = 1024 (about 15 s on 2 cores);
#                                           it writes to a new temporary directory, never to
#                                           bench/results (named at the end; --out/--report)
#   bash bench/reproduce.sh --study-only    the activation study alone, under YASHE' and BFV
#                                           (bench/results/activation-study/encrypted.md)
# Builds the driver (meson, build dir $BUILD_DIR, default 'build') unless $CRYPTONETS_REPRODUCE names
# one, runs it (it writes the Markdown report and the CSV files), then draws the PNGs with gnuplot.
# Every other argument goes to the driver (cryptonets-reproduce --help).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The driver runs in the repository (its default inputs are relative to it): a path given relative
# to the caller's directory is made absolute first (a trial: --out myout --report my.md from another
# directory wrote both into the repository, and the last line named them as if in the caller's).
caller="$PWD"
# --NAME=VALUE, which the driver takes as --NAME VALUE, is split for the options read here (a
# --mode=test run would have run in the reduced mode's bench/results, a relative --out=DIR been
# taken relative to the repository).
args=()
for arg in "$@"; do
  case "$arg" in
    --out=* | --report=* | --paper-values=* | --model=* | --data=* | --float-model=* | \
      --paper9-model=* | --paper9-float-model=* | --study-manifest=* | --mode=*)
      args+=("${arg%%=*}" "${arg#*=}")
      ;;
    *) args+=("$arg") ;;
  esac
done
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --out | --report | --paper-values | --model | --data | --float-model | --paper9-model | \
      --paper9-float-model | --study-manifest)
      i=$((i + 1))
      case "${args[$i]}" in
        /* | "") ;;
        *) args[i]="$caller/${args[$i]}" ;;
      esac
      ;;
  esac
done
# So are $BUILD_DIR and $CRYPTONETS_REPRODUCE (a review: BUILD_DIR=mybuild from another directory
# was looked for in the repository).
for variable in BUILD_DIR CRYPTONETS_REPRODUCE; do
  case "${!variable:-}" in
    "" | /*) ;;
    *) declare "$variable=$caller/${!variable}" ;;
  esac
done
cd "$root"

out="bench/results/reproduction"
report="bench/results/reproduction.md"
study_only=0
mode=reduced
help=0
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -h | --help) help=1 ;;
    --study-only)
      study_only=1
      out="bench/results/activation-study/encrypted"
      report="bench/results/activation-study/encrypted.md"
      ;;
    --mode) if [ $((i + 1)) -lt ${#args[@]} ]; then mode="${args[$((i + 1))]}"; fi ;;
  esac
done
# The test mode's n = 1024, 24-image results are no reproduction: named outputs aside, they go to
# a new temporary directory (a trial's smoke test replaced the shipped full-run report with them).
scratch=""
if [ "$mode" = test ] && [ "$help" = 0 ]; then
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/cryptonets-reproduce-test.XXXXXX")"
  out="$scratch/$(basename "$out")"
  report="$scratch/$(basename "$report")"
fi
# The driver refuses an option given twice (a usage error): --out, --report and --git-commit are
# given to it here only where the caller did not name them.
named=()
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --out) if [ $((i + 1)) -lt ${#args[@]} ]; then out="${args[$((i + 1))]}"; fi ;;
    --report) if [ $((i + 1)) -lt ${#args[@]} ]; then report="${args[$((i + 1))]}"; fi ;;
  esac
  case "${args[$i]}" in --out | --report | --git-commit | --git-commit=*) named+=("${args[$i]%%=*}") ;; esac
done
is_named() { [[ " ${named[*]} " == *" $1 "* ]]; }
# A scratch directory that holds neither output (both named) is not left behind, nor one of a run
# that failed (the driver removes what it made, not the directory made here).
note=""
if [ -n "$scratch" ]; then
  case "$out $report" in
    *"$scratch"*)
      note=" (test mode: a temporary directory, not bench/results)"
      trap '[ -n "$scratch" ] && rm -rf "$scratch"' EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM
      ;;
    *) rmdir "$scratch" ;;
  esac
fi

driver="${CRYPTONETS_REPRODUCE:-}"
if [ -z "$driver" ]; then
  build="${BUILD_DIR:-build}"
  [ -d "$build" ] || meson setup "$build" --buildtype=release
  meson compile -C "$build" cryptonets-reproduce
  driver="$build/bench/cryptonets-reproduce"
fi

# The driver's help, and nothing else: the script went on to redraw the PNGs in bench/results.
[ "$help" = 0 ] || exec "$driver" --help

# gnuplot draws the PNGs after the run: missing, it failed only after the measurements (25 minutes
# in the reduced mode), with the report already replaced.
command -v gnuplot >/dev/null || {
  echo "gnuplot not found: run bash tests/install-deps.sh (nothing was run)" >&2
  exit 1
}

commit="unknown"
if git -C "$root" rev-parse --short HEAD >/dev/null 2>&1; then
  commit="$(git -C "$root" rev-parse --short HEAD)"
  git -C "$root" diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
fi

status=0
# The report as it was before the run (inode, size, modification time), to tell the driver's two
# kinds of exit 1 apart: the encrypted scores differ from the plain ones (the report, written,
# says so: plot anyway), or a failure, which writes nothing (its message says what).
report_state() { stat -c '%i %s %y' -- "$1" 2>/dev/null || echo absent; }
report_before="$(report_state "$report")"
# The outputs named: the driver refuses to replace existing files at its defaults.
own=()
is_named --git-commit || own+=(--git-commit "$commit")
is_named --out || own+=(--out "$out")
is_named --report || own+=(--report "$report")
"$driver" "${own[@]}" "${args[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  [ "$status" -eq 1 ] && [ "$(report_state "$report")" != "$report_before" ] || exit "$status"
fi
scratch=""  # the run wrote its report: the test mode's directory stays, named at the end

columns() { head -n 1 "$1" | awk -F, '{ print NF }'; }
plots="$root/bench/plots"
# $out as a gnuplot string: in single quotes a quote is doubled (a trial: --out "r'2" failed at the
# first plot, after the whole run: "unexpected or unrecognized token").
q="'"
dir="'${out//$q/$q$q}'"
# A plot that fails ends the script with gnuplot's status, naming what the run wrote and keeps
# (a trial: after a test-mode run, set -e ended it silently, its temporary directory unnamed).
gnuplot() {
  local code=0
  command gnuplot "$@" || code=$?
  if [ "$code" -ne 0 ]; then
    echo "gnuplot failed (exit $code) on ${*: -1}; the run's files are kept: report: $report; CSV files: $out/$note" >&2
    exit "$code"
  fi
}
if [ "$study_only" -eq 1 ]; then
  gnuplot -e "dir=$dir" "$plots/activation_study.gp"
  echo "report: $report; CSV and PNG files: $out/$note"
  exit "$status"
fi
gnuplot -e "dir=$dir; ncols=$(columns "$out/layers_plot.csv")" "$plots/layers.gp"
gnuplot -e "dir=$dir; ncols=$(columns "$out/noise_plot.csv")" "$plots/noise.gp"
gnuplot -e "dir=$dir" "$plots/scaling_n.gp"
gnuplot -e "dir=$dir; ncols=$(columns "$out/scaling_threads_plot.csv")" "$plots/scaling_threads.gp"
# The study is not run on another --data unless its manifest is named: no rows, no plot (the
# report says why).
if [ "$(wc -l <"$out/activation_study_plot.csv")" -gt 1 ]; then
  gnuplot -e "dir=$dir" "$plots/activation_study.gp"
fi
echo "report: $report; CSV and PNG files: $out/$note"
exit "$status"
