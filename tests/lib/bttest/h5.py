"""Comparing run.h5 files and .npy outputs: bitwise, naming the first difference."""
import json
import os
import subprocess

import h5py
import numpy as np

# Root attributes that legitimately differ between two runs of the same computation.
VOLATILE_ATTRS = frozenset({"command_line", "created", "n_ranks", "checkpoint_id"})


def same_bits(a, b):
    """Same dtype, same shape, same bytes."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object:  # strings: their bytes are pointers
        return b.dtype == object and a.shape == b.shape and a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_files(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def contents(path):
    """({"/group/dataset": array}, {"/object@attribute": value}) of a whole file; root
    attributes are "/@name"."""
    ds, attrs = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                ds["/" + name] = obj[()]
            for k, v in obj.attrs.items():
                attrs["/%s@%s" % (name, k)] = v
        for k, v in f.attrs.items():
            attrs["/@" + k] = v
        f.visititems(visit)
    return ds, attrs


def _attr_equal(a, b):
    if a is None or b is None:
        return False
    if isinstance(a, (str, bytes)) or isinstance(b, (str, bytes)):
        return a == b
    return same_bits(a, b)


def h5_differences(a, b, ignore_attrs=VOLATILE_ATTRS, ignore_options=()):
    """Every difference between files a and b, one line each: the datasets present, each
    dataset's dtype, shape and bytes, each attribute (of any object) but those named in
    ignore_attrs; in the root's options JSON, the keys ignore_options are left out (a resumed
    run keeps the options of the run it resumes, e.g. its --checkpoint-every)."""
    da, aa = contents(a)
    db, ab = contents(b)
    for attrs in (aa, ab):
        if ignore_options and "/@options" in attrs:
            opts = json.loads(attrs["/@options"])
            attrs["/@options"] = json.dumps({k: v for k, v in opts.items() if k not in ignore_options})
    out = []
    for k in sorted(set(da) ^ set(db)):
        out.append("dataset %s only in %s" % (k, a if k in da else b))
    for k in sorted(set(da) & set(db)):
        if not same_bits(da[k], db[k]):
            x, y = np.asarray(da[k]), np.asarray(db[k])
            detail = ("%s %s vs %s %s" % (x.dtype, x.shape, y.dtype, y.shape)
                      if (x.dtype, x.shape) != (y.dtype, y.shape) else "values")
            out.append("dataset %s differs (%s)" % (k, detail))
    for k in sorted(set(aa) | set(ab)):
        if k.split("@", 1)[1] in ignore_attrs:
            continue
        if not _attr_equal(aa.get(k), ab.get(k)):
            out.append("attribute %s differs: %r vs %r" % (k, aa.get(k), ab.get(k)))
    return out


def same_h5(a, b, ignore_attrs=VOLATILE_ATTRS, what=None, ignore_options=()):
    """Asserts that run.h5 files a and b hold the same datasets, bit for bit, and the same
    attributes but ignore_attrs (and the options keys ignore_options); the message names the
    first difference. Returns the number of datasets compared."""
    diffs = h5_differences(a, b, ignore_attrs, ignore_options)
    assert not diffs, "%s: %s%s" % (what or "%s vs %s" % (a, b), diffs[0],
                                    " (and %d more differences)" % (len(diffs) - 1) if len(diffs) > 1 else "")
    return len(contents(a)[0])


def h5diff(a, b, groups, *flags):
    """The HDF5 tools' own verdict, group by group: [] or one message per group h5diff finds
    different (exact comparison: no -d/-p)."""
    bad = []
    for g in groups:
        r = subprocess.run(["h5diff", *flags, a, b, g, g], capture_output=True, text=True)
        if r.returncode != 0:
            bad.append("h5diff %s %s %s: exit %d\n%s" % (a, b, g, r.returncode,
                                                        (r.stdout[-1500:] + r.stderr[-500:]).strip()))
    return bad


def run_differences(a, b, npy=("head_importance.npy", "attn_entropy.npy"), groups=(),
                    ignore_attrs=VOLATILE_ATTRS, ignore_options=()):
    """Two output directories of the same computation (other rank counts, a resumed run...):
    the named .npy files byte for byte, run.h5 bitwise (h5_differences) and, for each of
    groups, by h5diff. [] when they are the same, else one message per difference."""
    out = ["%s differs" % f for f in npy if not same_files(os.path.join(a, f), os.path.join(b, f))]
    ra, rb = os.path.join(a, "run.h5"), os.path.join(b, "run.h5")
    return out + h5_differences(ra, rb, ignore_attrs, ignore_options) + h5diff(ra, rb, groups)


def options(run_h5):
    """The options JSON a run stored (root attribute "options")."""
    with h5py.File(run_h5, "r") as f:
        return json.loads(f.attrs["options"])


def example_ids(run_h5):
    """The token ids of every example stored in run.h5, in data order."""
    with h5py.File(run_h5, "r") as f:
        ids, off, ln = f["examples/token_ids"][()], f["examples/token_offset"][()], f["examples/length"][()]
    return [[int(t) for t in ids[o:o + n]] for o, n in zip(off, ln)]


def npy_outputs(out_dir):
    """{name without .npy: array} of every .npy file in a directory."""
    return {f[:-4]: np.load(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir)) if f.endswith(".npy")}


def max_diff(got, want):
    """max |got - want| in float64 (inf when the shapes differ, 0 for empty arrays)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.max(np.abs(got - want))) if got.size else 0.0
