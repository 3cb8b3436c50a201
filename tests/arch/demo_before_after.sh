#!/bin/bash
# Issue 11's check that a refactoring changed no output: runs the demo importance (with
# attentions), mask, ablate (200 examples), eval, prune (the mask's head mask, scored on SST-2)
# and syntax (the bundled UD EWT dev treebank, hidden states saved) with two builds of bertology
# at np=2 and compares every output with compare_runs.py (h5diff per group, bitwise), the
# pruned model's files byte for byte, and every printed table.
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
  mpirun --oversubscribe -np 2 "$bin" prune $common --head-mask "$work/$which/mask/head_mask.npy" \
    --out "$work/$which/prune" > "$work/$which/prune.txt"
  mpirun --oversubscribe -np 2 "$bin" syntax --model data/demo-sst2 --task ud \
    --data tests/data/ud/en_ewt/en_ewt-ud-dev.conllu --threads 1 --quiet --save-hidden \
    --out "$work/$which/syntax" > "$work/$which/syntax.txt"
done
for f in config.json model.safetensors vocab.txt; do
  cmp "$work/old/prune/$f" "$work/new/prune/$f" || { echo "prune: $f differs"; status=1; }
done
for cmd in importance mask ablate syntax; do
  echo "== $cmd"
  "$py" "$here/compare_runs.py" "$work/old/$cmd" "$work/new/$cmd" || status=1
done
# stdout: tables and scores; lines with timings (seconds, tokens/s) legitimately differ
for cmd in importance mask ablate eval prune syntax; do
  if ! diff <(grep -v -E '[0-9] s\b|tokens/s|seconds|^prune: wrote' "$work/old/$cmd.txt") \
            <(grep -v -E '[0-9] s\b|tokens/s|seconds|^prune: wrote' "$work/new/$cmd.txt"); then
    echo "$cmd: stdout differs"; status=1
  fi
done
exit $status
