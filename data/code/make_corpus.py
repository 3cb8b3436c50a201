#!/usr/bin/python3
"""Writes data/code/functions.jsonl: real functions in four languages, in CodeSearchNet's JSON-lines
format ("code", "language", plus where each came from), for the CAT-probing demo and tests.

Sources (all permissive; their license texts are in data/code/licenses/):
  python      Debian's Python 3.11 standard library (/usr/lib/python3.11), PSF-2.0
  go          Debian's golang-1.19-src (/usr/share/go-1.19/src), BSD-3-Clause
  javascript  npm lodash@4.17.21 (`npm pack`), MIT
  java        npm react-native-webview@13.6.2 (`npm pack`), android/ sources, MIT

Functions are cut out with tree-sitter (the grammars in third_party/, through the ctypes binding of
tests/cat/ref_cat.py): every function or method whose text has 3 to 30 lines and at most 1500
bytes, files in sorted order, at most --per-language of each, deduplicated by text.

  data/code/make_corpus.py --lodash DIR --webview DIR [--per-language 120]
"""
import argparse
import glob
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "cat"))
import ref_cat  # noqa: E402

KINDS = {"python": {"function_definition"}, "go": {"function_declaration", "method_declaration"},
         "javascript": {"function_declaration"}, "java": {"method_declaration", "constructor_declaration"}}
PY_FILES = ["textwrap", "shlex", "fnmatch", "colorsys", "heapq", "bisect", "difflib", "glob", "posixpath",
            "string", "calendar", "fractions", "statistics", "base64", "quopri", "uu", "netrc", "gettext"]
GO_DIRS = ["strings", "strconv", "sort", "bytes", "path", "unicode/utf8", "container/list", "math/bits"]


def functions(ts, lang, path, origin, license_):
    with open(path, "rb") as f:
        code = f.read()
    nodes, _, _ = ts.tree(lang, code)
    for typ, s, e in nodes:
        if typ in KINDS[lang]:
            text = code[s:e]
            if 3 <= text.count(b"\n") + 1 <= 30 and len(text) <= 1500:
                try:
                    yield {"code": text.decode("utf-8"), "language": lang, "path": origin, "license": license_}
                except UnicodeDecodeError:
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lodash", required=True, help="the unpacked npm tarball's package/ directory")
    ap.add_argument("--webview", required=True, help="the unpacked npm tarball's package/ directory")
    ap.add_argument("--per-language", type=int, default=120)
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "code", "functions.jsonl"))
    a = ap.parse_args()
    srcs = {
        "python": [("/usr/lib/python3.11/%s.py" % m, "python3.11/Lib/%s.py" % m, "PSF-2.0") for m in PY_FILES],
        "go": [(p, "go1.19/src/" + os.path.relpath(p, "/usr/share/go-1.19/src"), "BSD-3-Clause")
               for d in GO_DIRS for p in sorted(glob.glob("/usr/share/go-1.19/src/%s/*.go" % d))
               if not p.endswith("_test.go")],
        "javascript": [(p, "lodash@4.17.21/" + os.path.relpath(p, a.lodash), "MIT")
                       for p in sorted(glob.glob(os.path.join(a.lodash, "_*.js")))],
        "java": [(p, "react-native-webview@13.6.2/" + os.path.relpath(p, a.webview), "MIT")
                 for p in sorted(glob.glob(os.path.join(a.webview, "android", "**", "*.java"), recursive=True))],
    }
    with tempfile.TemporaryDirectory() as work:
        ts = ref_cat.TreeSitter(work)
        rows = []
        for lang in ("python", "java", "go", "javascript"):
            seen, n = set(), 0
            for path, origin, lic in srcs[lang]:
                for r in functions(ts, lang, path, origin, lic):
                    if n < a.per_language and r["code"] not in seen:
                        seen.add(r["code"])
                        rows.append(r)
                        n += 1
            print("%s: %d functions" % (lang, n))
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
