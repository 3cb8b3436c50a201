#!/usr/bin/env bash
# The repository is the whole product: no tracked file may reach outside it (the hand-over
# folder some developers have beside their clone, or an absolute path of the machine that wrote
# it), and every bundled data file must still be the bytes its SOURCES.md row describes.
# Run by .ci/run before anything else and by ctest (tree.self_contained).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
# Paths that exist only on a developer's machine. This script names them, so it skips itself.
pattern='\.\./shared|["'\'']shared["'\'']|shared/(data|SPEC|DESIGN)|/work/|/root/|/home/[a-z]'
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files)
else
  files=$(find . -type f -not -path './build*' | sed 's|^\./||')
fi
hits=$(printf '%s\n' "$files" | grep -v -e '^tests/check_tree.sh$' -e '^tests/data/' -e '^data/demo-sst2/model' |
       tr '\n' '\0' | xargs -0 grep -nIE "$pattern" -- 2>/dev/null || true)
if [[ -n $hits ]]; then
  echo "check_tree: files refer to paths outside the repository:" >&2
  echo "$hits" >&2
  fail=1
fi

# Every row of a SOURCES.md table whose sha256 column holds a hash: the file must match it.
check_sources() {  # $1 = SOURCES.md, files relative to its directory
  local dir n=0 bad=0
  dir=$(dirname "$1")
  while IFS=$'\t' read -r file sha; do
    n=$((n + 1))
    if [[ ! -f "$dir/$file" ]]; then
      echo "check_tree: $1: $file: listed but missing" >&2; bad=1; continue
    fi
    got=$(sha256sum "$dir/$file" | cut -d' ' -f1)
    if [[ $got != "$sha" ]]; then
      echo "check_tree: $1: $file: sha256 $got, the table says $sha" >&2; bad=1
    fi
  done < <(awk -F'|' '{ f=$2; gsub(/^ +| +$/, "", f);
                        for (i = 3; i <= NF; i++) { c=$i; gsub(/ /, "", c);
                          if (length(c) == 64 && c ~ /^[0-9a-f]+$/) { print f "\t" c; break } } }' "$1")
  echo "check_tree: $1: $n files checked"
  return $bad
}
check_sources tests/data/SOURCES.md || fail=1
check_sources data/SOURCES.md || fail=1
check_sources third_party/SOURCES.md || fail=1

# ... and every file under tests/data has its row (nothing unaccounted for is shipped).
while IFS= read -r f; do
  rel=${f#tests/data/}
  [[ $rel == SOURCES.md ]] && continue
  grep -qF "| $rel |" tests/data/SOURCES.md || { echo "check_tree: $f has no row in tests/data/SOURCES.md" >&2; fail=1; }
done < <(find tests/data -type f | sort)
while IFS= read -r f; do
  rel=${f#third_party/}
  [[ $rel == SOURCES.md ]] && continue
  grep -qF "| $rel |" third_party/SOURCES.md || { echo "check_tree: $f has no row in third_party/SOURCES.md" >&2; fail=1; }
done < <(find third_party -type f | sort)

if ((fail)); then exit 1; fi
echo "check_tree: self-contained"
