#!/usr/bin/env bash
# The whole default test suite: release build + unit tests, then the same unit tests once more
# under AddressSanitizer and UndefinedBehaviorSanitizer. Longer checks: meson test -C build --suite slow
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
jobs=$(nproc)

[ -d build ] || meson setup build --buildtype=release
meson compile -C build -j "$jobs"
meson test -C build --print-errorlogs --num-processes "$jobs"

# The build without MPI (-Dmpi=disabled) must still configure and compile. The feature changes only
# the cli's infer command (cmd_infer.cpp; the library is the same either way), so that is what is
# compiled here: seconds, not a second full build.
[ -d build-nompi ] || meson setup build-nompi --buildtype=release -Dmpi=disabled >/dev/null
if grep -q CRYPTONETS_WITH_MPI build-nompi/build.ninja; then
  echo "build-nompi was configured with MPI" >&2
  exit 1
fi
ninja -C build-nompi cryptonets.p/src_cli_cmd_infer.cpp.o

[ -d build-sanitize ] || meson setup build-sanitize --buildtype=debugoptimized \
  -Db_sanitize=address,undefined -Db_lundef=false \
  -Dcpp_args=-Wno-maybe-uninitialized  # GCC 12 false positives under ASan instrumentation
meson compile -C build-sanitize -j "$jobs" unit_tests
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C build-sanitize --no-rebuild --print-errorlogs --num-processes "$jobs" --suite unit
