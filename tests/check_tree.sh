#!/usr/bin/env bash
# The repository is the whole product: no tracked file may reach outside it (the hand-over
# folder some developers have beside their clone, or an absolute path of the machine that wrote
# it), and every bundled data file must still be the bytes its SOURCES.md row describes. Also
# rules of the code the compiler cannot see: experiment commands include the run API only, src/
# allocates through bt_malloc & co., and the library's messages name no command-line flag.
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

# An experiment's command is a thin shell over the run API (docs/architecture.md): its
# src/cli/cmd_*.c includes bertology/run.h and the CLI's own headers (src/cli/*.h), no header of
# a lower floor. The tools drive the floors they measure or print and may include them.
tools='forward|bench|tokenize|schema'
n=0
for f in $(printf '%s\n' "$files" | grep -E '^src/cli/cmd_[a-z0-9_]+\.c$' || true); do
  [[ -f $f ]] || continue
  name=${f#src/cli/cmd_}; name=${name%.c}
  [[ $name =~ ^($tools)$ ]] && continue
  n=$((n + 1))
  while IFS= read -r line; do
    inc=$(sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
    [[ $inc == bertology/run.h ]] && continue
    [[ $inc != */* && -f src/cli/$inc ]] && continue
    echo "check_tree: $f:${line%%:*}: includes \"$inc\"; an experiment's command includes bertology/run.h and" \
         "the CLI's own headers only (only the tools ${tools//|/, } may include the floors)" >&2
    fail=1
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done
echo "check_tree: $n experiment commands include run.h and the CLI's headers only"

# One allocation idiom: outside src/common/alloc.c, src/ allocates through bt_malloc, bt_calloc,
# bt_realloc, bt_grow, bt_strdup or bt_aligned_alloc (checked, the size in the message).
raw=$(printf '%s\n' "$files" | grep -E '^src/.*\.[ch]$' | grep -v '^src/common/alloc\.c$' | tr '\n' '\0' |
      xargs -0 grep -nE '(^|[^_[:alnum:]])(malloc|calloc|realloc|strdup|strndup|aligned_alloc|posix_memalign)[[:space:]]*\(' -- 2>/dev/null |
      grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
if [[ -n $raw ]]; then
  echo "check_tree: allocation outside bt_malloc & co. (bertology/common.h):" >&2
  echo "$raw" >&2
  fail=1
fi

# The library reports errors in its own terms: an option is named by its key in backquotes
# (`min_heads_per_layer`) and the command line writes the flag. No "--flag" in a string of src/
# but the CLI's and the flag table's (src/run/flags.c: the flags' names and help).
flags=$(printf '%s\n' "$files" | grep -E '^src/.*\.[ch]$' | grep -v -e '^src/cli/' -e '^src/run/flags\.c$' | tr '\n' '\0' |
        xargs -0 grep -nE '"([^"\\]|\\.)*--[a-z][a-z0-9-]*' -- 2>/dev/null || true)
if [[ -n $flags ]]; then
  echo "check_tree: a command-line flag below the command line (name the option by its \`key\`):" >&2
  echo "$flags" >&2
  fail=1
fi

if ((fail)); then exit 1; fi
echo "check_tree: self-contained"
