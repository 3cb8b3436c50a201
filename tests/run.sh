#!/usr/bin/env bash
# The test suite on a fresh machine, in named stages (docs/testing.md):
#   tree      tests/check_tree.sh: nothing refers outside the repository, bundled files match
#   setup     the Debian packages the demo and the tests need, and a release build with tests
#   fast      ctest -L fast: the unit suites and the small reference, tokenizer and bad-input
#             tests (the fast tier: a broken build or engine shows within minutes)
#   release   ctest -LE fast: every other test of the release build
#   sanitize  a sanitizer build (ASan + UBSan + leak checking) running the unit tests, the
#             bad-input tests and the fuzz targets' regression inputs (ctest -L sanitize)
#   fuzz      each libFuzzer target for a bounded time (tests/fuzz/run_fuzz.sh)
#
#   bash tests/run.sh              every stage, in that order
#   bash tests/run.sh fast         tree, setup and fast: under 5 minutes
#   bash tests/run.sh STAGE...     those stages (e.g. `release sanitize` after a `fast`)
# Each stage prints its name when it starts and its time when it ends; a table of the stages
# and their times closes the run, failed or not.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ALL=(tree setup fast release sanitize fuzz)

stage_tree() { bash tests/check_tree.sh; }
stage_setup() { bash jobs/setup.sh --tests build; }
stage_fast() { ctest --test-dir build --output-on-failure -j2 --timeout 900 -L fast; }
stage_release() { ctest --test-dir build --output-on-failure -j2 --timeout 900 -LE fast; }

# (A stage runs as an `if` condition, where set -e does not apply: every step says || return.)
stage_sanitize() {
  bash jobs/setup.sh --tests build-asan -DCMAKE_BUILD_TYPE=Debug -DBT_SANITIZE=ON || return
  # Leaks are errors. Suppressed: only Open MPI's own allocations, each entry justified in
  # tests/lsan.supp. Tests that run the CLI under mpirun set detect_leaks=0 themselves (bt_pytest
  # MPI): with fast unwinding the MPI stacks cannot be matched to a suppression.
  # LSAN_OPTIONS cannot hold a path with a space (the checkout's may have one): use a copy.
  local supp rc=0
  supp=$(mktemp /tmp/bt-lsan-XXXXXX.supp) || return
  cp tests/lsan.supp "$supp" || return
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$supp:print_suppressions=0 \
    ctest --test-dir build-asan --output-on-failure -j2 -L sanitize --timeout 900 || rc=$?
  rm -f "$supp"
  return $rc
}

# Every fuzz target (clang-14 + libFuzzer, ASan, UBSan) for a bounded time: 13 targets x 25 s
# plus a 2-minute build stays under 8 minutes.
stage_fuzz() { BT_FUZZ_SECONDS=${BT_FUZZ_SECONDS:-25} bash tests/fuzz/run_fuzz.sh; }

stages=("$@")
if ((${#stages[@]} == 0)); then
  stages=("${ALL[@]}")
elif [[ ${stages[*]} == fast ]]; then
  stages=(tree setup fast)
fi
for s in "${stages[@]}"; do
  [[ " ${ALL[*]} " == *" $s "* ]] || { echo "tests/run.sh: unknown stage '$s' (stages: ${ALL[*]})" >&2; exit 2; }
done

summary=()
report() {
  local rc=$?
  printf '\n== stages (%s)\n' "$(uptime | sed 's/.*load average: /load average /')"
  printf '   %s\n' "${summary[@]}"
  exit "$rc"
}
trap report EXIT
t_all=$SECONDS
for s in "${stages[@]}"; do
  printf '\n== stage %s\n' "$s"
  t0=$SECONDS
  if "stage_$s"; then
    summary+=("$(printf '%-9s %5d s  ok' "$s" $((SECONDS - t0)))")
    printf '== stage %s: %d s\n' "$s" $((SECONDS - t0))
  else
    summary+=("$(printf '%-9s %5d s  FAILED' "$s" $((SECONDS - t0)))")
    printf '== stage %s: %d s, FAILED\n' "$s" $((SECONDS - t0))
    exit 1
  fi
done
summary+=("$(printf '%-9s %5d s' all $((SECONDS - t_all)))")
