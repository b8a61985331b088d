#!/usr/bin/env bash
# README command (2): installs what is missing, builds everything (tests, examples,
# benchmarks) with warnings as errors under AddressSanitizer + UndefinedBehaviorSanitizer,
# checks formatting, and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/check-format.sh
build=${ROUSE_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DROUSE_WERROR=ON -DROUSE_SANITIZE=ON
cmake --build "$build" -j"$(nproc)"
cd "$build"
# halt_on_error: a sanitizer report fails the test that caused it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --output-on-failure -j2 --timeout 600
