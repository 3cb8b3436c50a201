#!/usr/bin/env bash
# The whole test suite on a fresh machine: the self-containment check, the packages the demo and
# the tests need, a release build with every test, then a sanitizer build (ASan + UBSan) running
# the unit tests and the bad-input tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash tests/check_tree.sh
bash jobs/setup.sh --tests build
ctest --test-dir build --output-on-failure -j2 --timeout 900

bash jobs/setup.sh --tests build-asan -DCMAKE_BUILD_TYPE=Debug -DBT_SANITIZE=ON
# Open MPI and OpenMP keep global allocations alive until exit: leak reports there are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2 -L sanitize --timeout 900
