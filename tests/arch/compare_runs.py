#!/usr/bin/env python3
"""Compares two output directories of bertology (run.h5 and the .npy files) for issue 11's
"outputs do not change": every group of run.h5 with h5diff (datasets and their attributes,
bitwise: no tolerance), every root attribute with h5py, every .npy and .tsv byte for byte.

Root attributes that legitimately differ between two runs of the same command:
  created       - the time of the run
  command_line  - the argv of the run (another --out, another program driving the library)
  options       - the options JSON: compared key by key; keys only in the newer file are
                  allowed (issue 11 added flags that were missing: skip_bad_lines,
                  max_output_gb, out, quiet, verbose) and keys in --ignore-option may differ.
Everything else (format, versions, model_config, n_ranks, task, split, ...) must be equal.

usage: PYTHONPATH=tests/lib /usr/bin/python3 tests/arch/compare_runs.py OLD_DIR NEW_DIR
           [--ignore-option KEY ...] [--allow-attr NAME ...]
Exit 0 when equal, 1 with one line per difference otherwise. arch.run_api_vs_cli
(tests/arch/test_run_api.py) uses differences()."""
import argparse
import json
import os
import sys

import h5py
import numpy as np

from bttest import h5diff

ALWAYS_DIFFERENT = {"created", "command_line", "checkpoint_id"}


def attrs_equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) == type(b) and a == b


def compare_h5(old, new, ignore_opts, allow_attrs):
    bad = []
    with h5py.File(old, "r") as fo, h5py.File(new, "r") as fn:
        if sorted(fo.keys()) != sorted(fn.keys()):
            bad.append(f"groups differ: {sorted(fo.keys())} vs {sorted(fn.keys())}")
        ao, an = dict(fo.attrs), dict(fn.attrs)
        for k in sorted(set(ao) | set(an)):
            if k in ALWAYS_DIFFERENT or k in allow_attrs:
                continue
            if k not in ao or k not in an:
                bad.append(f"root attribute {k} only in {'new' if k in an else 'old'}")
            elif k == "options":
                jo, jn = json.loads(ao[k]), json.loads(an[k])
                for key in jo:
                    if key in ignore_opts:
                        continue
                    if key not in jn:
                        bad.append(f"options: {key} dropped")
                    elif jo[key] != jn[key]:
                        bad.append(f"options: {key} = {jo[key]!r} -> {jn[key]!r}")
            elif not attrs_equal(ao[k], an[k]):
                bad.append(f"root attribute {k}: {ao[k]!r} -> {an[k]!r}")
        groups = sorted(set(fo.keys()) & set(fn.keys()))
    # h5diff without -d/-p compares values exactly; it also compares attributes
    return bad + h5diff(old, new, ["/" + g for g in groups], "-c")


def differences(old, new, ignore_opts=(), allow_attrs=()):
    """One line per difference between two output directories ([] when equal)."""
    bad = []
    names = sorted(set(os.listdir(old)) | set(os.listdir(new)))
    if not names:
        bad.append("both directories are empty")
    for n in names:
        po, pn = os.path.join(old, n), os.path.join(new, n)
        if not (os.path.exists(po) and os.path.exists(pn)):
            bad.append(f"{n}: only in {'new' if os.path.exists(pn) else 'old'}")
        elif n.endswith(".h5"):
            bad += [f"{n}: {m}" for m in compare_h5(po, pn, set(ignore_opts), set(allow_attrs))]
        elif n.endswith((".npy", ".tsv")):
            if open(po, "rb").read() != open(pn, "rb").read():
                bad.append(f"{n}: bytes differ")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--ignore-option", action="append", default=[])
    ap.add_argument("--allow-attr", action="append", default=[])
    a = ap.parse_args()
    bad = differences(a.old, a.new, a.ignore_option, a.allow_attr)
    for m in bad:
        print(m)
    n = len(set(os.listdir(a.old)) | set(os.listdir(a.new)))
    print(f"compared {n} files: {'equal' if not bad else f'{len(bad)} differences'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
