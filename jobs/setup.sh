#!/usr/bin/env bash
# Installs the Debian packages bertology needs (when run as root) and builds it.
#
#   bash jobs/setup.sh [--tests] [BUILD_DIR] [extra cmake args...]
#
# Without --tests: what building and running bertology, the demo and the analysis report need
# (the demo's set). With --tests: that plus what only the test suite needs (Check, the PyTorch,
# SciPy and scikit-learn references, the HDF5 command-line tools, ...), and the tests are built.
# `bash jobs/setup.sh --list demo|tests` prints a set, one package a line.
set -euo pipefail
cd "$(dirname "$0")/.."

DEMO_PACKAGES=(build-essential cmake pkg-config
               libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
               libopenblas-dev libopenblas-openmp-dev libdnnl-dev libcjson-dev libutf8proc-dev libzip-dev libtree-sitter-dev
               python3-numpy python3-h5py python3-matplotlib)
TEST_PACKAGES=(check libsubunit-dev hdf5-tools shellcheck slurm-wlm munge
               python3-scipy python3-sklearn python3-torch
               clang-14 libfuzzer-14-dev libclang-rt-14-dev libomp-14-dev  # these four: tests/fuzz
               libfuse3-dev fuse3  # tests/cluster/test_eio.py's FUSE file system
               python3-pytest  # every Python test runs under pytest (tests/lib/bttest, docs/testing.md)
               mypy python3-pip python3-setuptools python3-wheel  # tests/analysis: the package installed
               chromium chromium-driver python3-selenium)  # by pip and type-checked, index.html in a browser

if [[ ${1:-} == --list ]]; then
  case ${2:-} in
    demo) printf '%s\n' "${DEMO_PACKAGES[@]}" ;;
    tests) printf '%s\n' "${DEMO_PACKAGES[@]}" "${TEST_PACKAGES[@]}" ;;
    *) echo "usage: $0 --list demo|tests" >&2; exit 2 ;;
  esac
  exit 0
fi

tests=OFF
packages=("${DEMO_PACKAGES[@]}")
if [[ ${1:-} == --tests ]]; then
  tests=ON
  packages+=("${TEST_PACKAGES[@]}")
  shift
fi
BUILD=${1:-build}
shift || true

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # --no-install-recommends: python3-torch recommends gigabytes of compilers we do not need
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=$tests "$@"
cmake --build "$BUILD" -j"$(nproc)"
