#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then use it as a user would, from outside the source
# and build trees:
#   1. build tests/install/consumer.c against the prefix through pkg-config and through
#      find_package(bertology); both run one forward of the demo model;
#   2. their token ids and logits equal the installed `bertology tokenize` / `bertology forward`
#      on the same sentence, bitwise;
#   3. the installed job scripts (share/bertology/jobs) find the installed bertology on PATH:
#      run_local.sh, and importance.sbatch under a fake srun, give the head importance the build
#      tree's binary gives, bitwise.
#
#   check_install.sh SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
src=$1 build=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
# pkg-config cannot express a prefix with a space in it, and the checkout path may have one:
# the prefix goes to a temporary directory of its own.
prefix=$(mktemp -d /tmp/bt-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "check_install: FAIL: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in bin/bertology lib/libbertology.a include/bertology/engine.h lib/pkgconfig/bertology.pc \
         lib/cmake/bertology/bertologyConfig.cmake share/bertology/jobs/run_local.sh; do
  [[ -e $prefix/$f ]] || fail "$f not installed"
done

# 1. both ways of building against the prefix
cc=${CC:-cc}
PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --exists bertology || fail "pkg-config does not find bertology"
# shellcheck disable=SC2046  # pkg-config's output is a list of words by design
"$cc" -std=c11 -Wall -Werror -o "$work/consumer_pc" "$src/tests/install/consumer.c" \
  $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs bertology) ||
  fail "consumer does not build with pkg-config"
cmake -S "$src/tests/install" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" || fail "find_package(bertology) failed (see $work/cmake.log)"
cmake --build "$work/cmake" >>"$work/cmake.log" || fail "consumer does not build with find_package"

# 2. one forward on the demo model, checked against the installed command line
model=$src/data/demo-sst2
sentence="a gripping, beautifully acted film that never lets go"
"$work/consumer_pc" "$model" "$sentence" >"$work/pc.txt"
"$work/cmake/consumer" "$model" "$sentence" >"$work/cmake.txt"
cmp -s "$work/pc.txt" "$work/cmake.txt" || fail "the two consumers differ"
ids=$(head -1 "$work/pc.txt")
[[ $(printf '%s\n' "$sentence" | "$prefix/bin/bertology" tokenize --model "$model") == "$ids" ]] ||
  fail "consumer ids '$ids' differ from bertology tokenize"
printf '%s\n' "$ids" >"$work/ids.txt"
"$prefix/bin/bertology" forward --model "$model" --ids "$work/ids.txt" --threads 1 --out "$work/fwd" >/dev/null
/usr/bin/python3 - "$work/fwd/logits.npy" "$work/pc.txt" <<'EOF' || fail "consumer logits differ from bertology forward"
import sys, numpy as np
cli = np.load(sys.argv[1]).astype(np.float32).ravel()
ours = np.array(open(sys.argv[2]).read().split("\n")[1].split(), dtype=np.float32)
# %.9g round-trips a float32 exactly: equal means bitwise equal
assert cli.shape == ours.shape and np.array_equal(cli, ours), (cli, ours)
print("consumer logits = bertology forward:", ours)
EOF

# 3. the installed job scripts, with only the prefix's bin on PATH to find bertology
glue=$src/data/glue/SST-2
"$build/bertology" importance --model "$model" --task sst-2 --data "$glue" --subset 24 \
  --threads 1 --quiet --out "$work/ref" >/dev/null
jobs=$prefix/share/bertology/jobs
(cd "$work" && PATH=$prefix/bin:$PATH NP=2 MPIRUN_FLAGS=--oversubscribe "$jobs/run_local.sh" \
  "$model" sst-2 "$glue" "$work/local" --subset 24 --quiet >"$work/local.log" 2>&1) ||
  fail "installed run_local.sh (see $work/local.log)"
grep -q "$prefix/bin/bertology" "$work/local.log" || fail "run_local.sh did not use the installed bertology"
(cd "$work" && PATH=$src/tests/sweep/fake_slurm:$prefix/bin:$PATH SLURM_CPUS_PER_TASK=1 \
  SLURM_NTASKS=2 bash "$jobs/importance.sbatch" "$model" sst-2 "$glue" "$work/sbatch" \
  --subset 24 >"$work/sbatch.log" 2>&1) || fail "installed importance.sbatch (see $work/sbatch.log)"
for run in local sbatch; do
  cmp -s "$work/ref/head_importance.npy" "$work/$run/head_importance.npy" ||
    fail "$run: head_importance.npy differs from the build tree's"
done
echo "check_install: pkg-config and find_package consumers, installed CLI and job scripts: ok"
