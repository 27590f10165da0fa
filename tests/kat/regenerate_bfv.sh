#!/usr/bin/env bash
# data/kat/README.md's check, as written: generate_bfv_kat into a directory that does not exist yet
# rebuilds data/kat's BFV, small-size and sampler vectors byte for byte (a trial: the generator
# ended in an abort, "cannot write", when the directory was not there); a directory it cannot make
# is an error, exit 1, not an abort; a run that fails midway leaves no partial output and no
# temporary directory, and a run into an existing directory replaces its files. SIGINT, SIGTERM,
# SIGHUP or SIGPIPE while the vectors are staged removes the staging directory (and the parents
# made for it) and ends the run by the signal; one during the commit ends it once they are in place.
# A directory made after the commit found DIR absent is not replaced, but written into.
#
# usage: regenerate_bfv.sh GENERATE_BFV_KAT DATA_KAT_DIR GENERATE_BFV_KAT_HOOKS
# GENERATE_BFV_KAT_HOOKS: the generator with its test hook (CRYPTONETS_TEST_SIGNAL_IN_KAT) compiled in
set -uo pipefail

# Made absolute first: the signal checks run from a directory of their own (a relative
# DATA_KAT_DIR or program named nothing there).
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
generator=$(absolute "$1")
kat=$(absolute "$2")
hooks=$(absolute "$3")
# shellcheck source=tests/support.sh
. "$(dirname "$0")/../support.sh"

if "$generator" "$work/kat" >"$work/out.txt" 2>&1; then
  for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
    cmp -s "$work/kat/$file" "$kat/$file" || fail "$file differs from data/kat's"
  done
else
  fail "generate_bfv_kat into a new directory: exit $?: $(cat "$work/out.txt")"
fi

: >"$work/a-file"
"$generator" "$work/a-file/kat" >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "a directory under a file: exit $status, expected 1"
grep -q "^generate_bfv_kat: error: .*Not a directory" "$work/out.txt" ||
  fail "a directory under a file: no error naming the cause: $(cat "$work/out.txt")"

# A failure midway leaves the output as it was (a review: the files written before it stayed, a
# partial set): written into DIR.tmp-PID-XXXXXX, put in place at the end. Here the third file's
# name is a directory in an existing DIR, so the set cannot be put in place.
mkdir -p "$work/taken/bfv_scheme_n16.txt"
"$generator" "$work/taken" >"$work/out.txt" 2>&1
status=$?
[ "$status" -eq 1 ] || fail "a file name taken by a directory: exit $status, expected 1"
grep -qF "generate_bfv_kat: error: '$work/taken/bfv_scheme_n16.txt' is a directory" "$work/out.txt" ||
  fail "a file name taken by a directory: no error naming it: $(cat "$work/out.txt")"
[ "$(ls "$work/taken")" = bfv_scheme_n16.txt ] ||
  fail "a failed run left files in the existing directory: $(ls "$work/taken")"
# Into an existing directory (its other entries and its mode kept): the files are replaced, byte
# for byte again. The directory is swapped whole, its other entries carried over (hard-linked
# before the swap, or moved after it): a file, a link, a directory; named through a link, which
# stays one.
: >"$work/kat/other"
ln -s other "$work/kat/link"
mkdir "$work/kat/sub" && : >"$work/kat/sub/file"
chmod 750 "$work/kat"
ln -s kat "$work/kat-link"
"$generator" "$work/kat-link" >"$work/out.txt" 2>&1 || fail "generate_bfv_kat into an existing directory: $(cat "$work/out.txt")"
for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
  cmp -s "$work/kat/$file" "$kat/$file" || fail "$file, written into an existing directory, differs"
done
[ -f "$work/kat/other" ] || fail "generate_bfv_kat into an existing directory removed its other file"
[ "$(readlink "$work/kat/link")" = other ] || fail "generate_bfv_kat into an existing directory removed its link"
[ -f "$work/kat/sub/file" ] || fail "generate_bfv_kat into an existing directory removed its subdirectory"
[ "$(stat -c %a "$work/kat")" = 750 ] || fail "the existing directory's mode changed: $(stat -c %a "$work/kat")"
[ -L "$work/kat-link" ] || fail "the link naming the existing directory was replaced"
leftover=$(find "$work" -name '*.tmp-*')
[ -z "$leftover" ] || fail "the generator left temporary directories: $leftover"

# A signal while the vectors are staged (a review: DIR.tmp-PID-X was left): nothing is left, and
# the run ends by the signal (128 + its number). CRYPTONETS_TEST_SIGNAL_IN_KAT (staged_directory.hpp;
# in generate_bfv_kat-hooks only) raises it once the first vector is written. env --default-signal: a signal ignored by whoever
# started the test (nohup: SIGHUP; a shell's background job: SIGINT) stays ignored in the
# generator, as it should, so the raise would do nothing there.
mkdir "$work/signals" && cd "$work/signals" || exit 1
for signal in INT:130 TERM:143 HUP:129 PIPE:141; do
  expect "${signal#*:}" "generate_bfv_kat: stopped by SIG${signal%:*}; no vector was written" new -- \
    env --default-signal CRYPTONETS_TEST_SIGNAL_IN_KAT="${signal%:*}:written" "$hooks" new/kat
done
# Into an existing directory: left as it was.
mkdir old && : >old/other
expect 143 "stopped by SIGTERM" -- env --default-signal CRYPTONETS_TEST_SIGNAL_IN_KAT=TERM:written "$hooks" old
[ "$(ls -A old)" = other ] || fail "SIGTERM changed the existing directory: $(ls -A old)"
# During the commit: the vectors are put in place first, then the signal ends the run.
expect 130 "SIGINT arrived after the vectors were in place" -- \
  env --default-signal CRYPTONETS_TEST_SIGNAL_IN_KAT=INT:commit "$hooks" committed
for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
  cmp -s "committed/$file" "$kat/$file" || fail "$file, with a signal during the commit, differs"
done
# DIR made (empty, mode 750) after the commit found it absent: taken as an existing directory
# (RENAME_NOREPLACE), not replaced by a plain rename, which put the staging directory's mode 755
# in its place. CRYPTONETS_TEST_SIGNAL_IN_KAT=STOP:absent stops the generator at that point.
(
  umask 022
  env CRYPTONETS_TEST_SIGNAL_IN_KAT=STOP:absent "$hooks" raced >raced.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
    sleep 0.05
  done
  [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = T ] || echo "not stopped" >>raced.log
  mkdir -m 750 raced
  kill -CONT "$pid"
  wait "$pid"
) || fail "generate_bfv_kat with DIR made meanwhile: $(cat raced.log)"
grep -q "not stopped" raced.log && fail "generate_bfv_kat did not stop at STOP:absent"
[ "$(stat -c %a raced)" = 750 ] ||
  fail "the directory made meanwhile was replaced: mode $(stat -c %a raced), expected 750"
for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
  cmp -s "raced/$file" "$kat/$file" || fail "$file, into a directory made meanwhile, differs"
done
leftover=$(find . -name '*.tmp-*')
[ -z "$leftover" ] || fail "the generator left temporary directories: $leftover"
# The hook is not in the generator itself (it read the variable in every build, the last
# session's list): there the variable changes nothing.
expect 0 "bfv_scheme_n16.txt" -- \
  env --default-signal CRYPTONETS_TEST_SIGNAL_IN_KAT=TERM:written "$generator" hookless
for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
  cmp -s "hookless/$file" "$kat/$file" || fail "$file, with the hook's variable set, differs"
done

# DIR named as "DIR/." (a review: rename(2) cannot move ".", and the swap failed, "Device or
# resource busy", after the work): its own name is swapped. The current directory itself is
# refused before any work: swapped, it would leave the caller's shell in the old one, removed.
mkdir dot && : >dot/other
expect 0 "bfv_scheme_n16.txt" -- "$generator" dot/.
for file in bfv_scheme_n8192.txt bfv_scheme_n16.txt yashe_scheme_n16.txt samplers_seed18004.txt; do
  cmp -s "dot/$file" "$kat/$file" || fail "$file, written into 'dot/.', differs"
done
[ -f dot/other ] || fail "generate_bfv_kat dot/. removed dot's other file"
expect 1 "'.' is the current directory" -- env -C dot "$generator" .
[ "$(ls -A dot | tr '\n' ' ')" = "bfv_scheme_n16.txt bfv_scheme_n8192.txt other samplers_seed18004.txt yashe_scheme_n16.txt " ] ||
  fail "generate_bfv_kat . (refused) changed the current directory: $(ls -A dot)"

[ "$failures" -eq 0 ] && echo "generate_bfv_kat rebuilds data/kat's vectors byte for byte"
[ "$failures" -eq 0 ]
