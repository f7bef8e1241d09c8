#!/usr/bin/env bash
# The README's test command (also what .ci/run calls): installs what is
# missing, builds normally and with ASan+UBSan, runs every test through ctest
# in both, then runs each libFuzzer target briefly (10 s each:
# STRATA_FUZZ_SECONDS; scripts/fuzz.sh N for longer). Exits non-zero on any
# failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
start=$(date +%s)
step() { printf '\n==== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "dependencies"
scripts/deps.sh

step "build: normal (-Werror)"
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "tests: normal build"
ctest --test-dir build --output-on-failure -j2 --timeout 600

step "build: ASan + UBSan"
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON
step "tests: ASan + UBSan build"
# exitcode=86: a sanitizer report never looks like the exit code 1 that the
# error-path tests expect (harness.py defaults the same for what it starts).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86
export LSAN_OPTIONS=exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86
ctest --test-dir build-asan --output-on-failure -j2 --timeout 900

step "fuzz targets"
scripts/fuzz.sh "${STRATA_FUZZ_SECONDS:-10}"

step "all tests passed"
