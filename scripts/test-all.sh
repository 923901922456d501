#!/usr/bin/env bash
# Builds and runs the whole suite twice: a normal build, then everything again under
# AddressSanitizer + UBSan with no recovery. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --no-tests=error --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# PB_TIMING_LOOSE: the sanitizer build is several times slower; timing targets are checked in
# the normal build above, ceilings and correctness in both
PB_TIMING_LOOSE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --no-tests=error --output-on-failure -j"$jobs"
