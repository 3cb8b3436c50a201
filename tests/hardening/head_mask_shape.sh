#!/usr/bin/env bash
# A --head-mask .npy with 0 elements and seven dimensions of 10^18 loads (0 elements, so no
# data to check), and its shape once overflowed the 128-byte message buffer of run_opts.c
# (strcat). It must give one clear line naming the file and the shape, exit code 2, and no
# sanitizer report. Usage: head_mask_shape.sh BERTOLOGY SOURCE_DIR WORK_DIR
set -uo pipefail
bin=$1 src=$2 work=$3
mkdir -p "$work"
printf 'hello world\nthe quick brown fox jumps\n' >"$work/text.txt"
mask=$src/tests/fuzz/regress/npy/run_opts_shape_overflow
"$bin" eval --model "$src/tests/data/models/tiny-gpt2" --tokenizer "$src/tests/data/vocab/gpt2" \
  --text "$work/text.txt" --max-seq-length 16 --head-mask "$mask" >"$work/out.txt" 2>"$work/err.txt"
rc=$?
cat "$work/err.txt"
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ $rc -eq 2 ]] || fail "exit code $rc, expected 2"
grep -q "AddressSanitizer\|runtime error" "$work/err.txt" && fail "sanitizer report"
[[ $(wc -l <"$work/err.txt") -eq 1 ]] || fail "expected one line on stderr"
grep -qF "$mask: head mask has shape [0, 1000000000000000000, " "$work/err.txt" || fail "message lacks file or shape"
grep -qF "...], the model needs [2, 2]" "$work/err.txt" || fail "message lacks the cut mark or the model's shape"
echo "ok"
