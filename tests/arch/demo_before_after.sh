#!/bin/bash
# Issue 11's check that a refactoring changed no output: runs the demo importance (with
# attentions), mask, ablate (200 examples) and eval commands with two builds of bertology at
# np=2 and compares every output with compare_runs.py (h5diff per group, bitwise).
#   tests/arch/demo_before_after.sh OLD_BERTOLOGY|- NEW_BERTOLOGY WORK_DIR
# Run from the repository root (it reads data/demo-sst2 and data/glue/SST-2).
set -eu
old=$1 new=$2 work=$3
here=$(dirname "$0")
py=${BT_PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common="--model data/demo-sst2 --task sst-2 --data data/glue/SST-2 --threads 1 --quiet"
status=0
for which in old new; do
  eval bin=\$$which
  # the old outputs are kept: give OLD_BERTOLOGY as "-" to reuse them
  if [ "$which" = old ] && [ "$old" = - ]; then continue; fi
  rm -rf "${work:?}/$which"
  mkdir -p "$work/$which"
  mpirun --oversubscribe -np 2 "$bin" importance $common --save-attentions --out "$work/$which/importance" > "$work/$which/importance.txt"
  mpirun --oversubscribe -np 2 "$bin" mask $common --out "$work/$which/mask" > "$work/$which/mask.txt"
  mpirun --oversubscribe -np 2 "$bin" ablate $common --subset 200 --out "$work/$which/ablate" > "$work/$which/ablate.txt"
  mpirun --oversubscribe -np 2 "$bin" eval $common > "$work/$which/eval.txt"
done
for cmd in importance mask ablate; do
  echo "== $cmd"
  "$py" "$here/compare_runs.py" "$work/old/$cmd" "$work/new/$cmd" || status=1
done
# stdout: tables and scores; lines with timings (seconds, tokens/s) legitimately differ
for cmd in importance mask ablate eval; do
  if ! diff <(grep -v -E '[0-9] s\b|tokens/s|seconds' "$work/old/$cmd.txt") \
            <(grep -v -E '[0-9] s\b|tokens/s|seconds' "$work/new/$cmd.txt"); then
    echo "$cmd: stdout differs"; status=1
  fi
done
exit $status
