#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit, CLI and integration tests; the integration
# tests start their own throwaway PostgreSQL through scripts/pg.sh).
#
#   scripts/test.sh              RelWithDebInfo build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer build in build-sanitize/
#   scripts/test.sh --tsan       ThreadSanitizer build in build-tsan/; any report, from a test or from
#                                a daemon the tests started, fails the run
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build_dir=build
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DESR_WARNINGS_AS_ERRORS=ON)
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-sanitize
  options=(-DCMAKE_BUILD_TYPE=Debug -DESR_WARNINGS_AS_ERRORS=ON -DESR_SANITIZE=ON)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ "${1:-}" = "--tsan" ]; then
  build_dir=build-tsan
  options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DESR_WARNINGS_AS_ERRORS=ON -DESR_SANITIZE_THREAD=ON)
  # Daemons started by the tests write their reports here too; a daemon's stderr is not watched.
  tsan_reports=$(pwd)/$build_dir/tsan-reports
  rm -rf "$tsan_reports" && mkdir -p "$tsan_reports"
  export TSAN_OPTIONS=${TSAN_OPTIONS:-log_path=$tsan_reports/report:second_deadlock_stack=1:exitcode=66:suppressions=$(pwd)/tests/tsan.supp}
fi

cmake -S . -B "$build_dir" "${options[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j2

if [ -n "${tsan_reports:-}" ] && [ -n "$(ls -A "$tsan_reports")" ]; then
  echo "ThreadSanitizer reported:" >&2
  cat "$tsan_reports"/* >&2
  exit 1
fi
