#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + libFuzzer) and runs each one for a
# bounded time from its seed corpus and dictionary. Fails on any crash, sanitizer report,
# timeout, leak or out-of-memory; prints the executions each target got.
#
# Usage: tests/fuzz/run_fuzz.sh [TARGET...]       (default: every tests/fuzz/fuzz_*.c)
# Environment: BT_FUZZ_SECONDS  time per target (default 30)
#              BT_FUZZ_BUILD    build directory (default build-fuzz)
#              BT_FUZZ_CC       compiler (default clang-14)
# A crashing input is left in $BT_FUZZ_BUILD/fuzz-out/<name>/; once fixed, copy it to
# tests/fuzz/regress/<name>/ so that ctest's fuzz.<name> replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${BT_FUZZ_SECONDS:-30}
BUILD=${BT_FUZZ_BUILD:-build-fuzz}
CC_FUZZ=${BT_FUZZ_CC:-clang-14}

cmake -S . -B "$BUILD" -DBT_FUZZ=ON -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fuzz_targets

if (($#)); then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz_}")
  done
fi

# Leaks count as findings (libFuzzer checks after every input that allocated more than it
# freed); suppressions only for the runtime globals listed, with reasons, in tests/lsan.supp.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:handle_abort=1"
# LSAN_OPTIONS cannot hold a path with a space (the checkout's may have one): use a copy.
supp=$(mktemp /tmp/bt-lsan-XXXXXX.supp)
trap 'rm -f "$supp"' EXIT
cp tests/lsan.supp "$supp"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export BT_SOURCE_DIR=$PWD

status=0
summary=()
for name in "${targets[@]}"; do
  exe="$BUILD/tests/fuzz_$name"
  work="$BUILD/fuzz-work/$name" out="$BUILD/fuzz-out/$name"
  rm -rf "$out"
  mkdir -p "$work" "$out"
  args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/")
  [[ -f tests/fuzz/$name.dict ]] && args+=(-dict="tests/fuzz/$name.dict")
  seeds=()
  [[ -d tests/fuzz/corpus/$name ]] && seeds+=("tests/fuzz/corpus/$name")
  [[ -d tests/fuzz/regress/$name ]] && seeds+=("tests/fuzz/regress/$name")
  log="$out/log.txt"
  echo "fuzz: $name for ${SECONDS_EACH}s"
  rc=0
  # new inputs go to the work corpus (kept between runs in the build dir), never into the repository
  "$exe" "${args[@]}" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((rc != 0)) || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    status=1
    summary+=("$name: FAILED (exit $rc, ${execs:-?} executions); log and input in $out")
    grep -E 'ERROR:|runtime error:|SUMMARY:|Test unit written' "$log" | head -5 >&2 || true
  else
    summary+=("$name: ok, ${execs:-?} executions, ${cov:-cov: ?}")
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
