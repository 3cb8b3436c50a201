"""The npy module (through tests/tools/store_npy.c) against NumPy itself, both ways.

1. Files NumPy writes (versions 1.0, 2.0, 3.0, both byte orders, shapes from () to 4-D,
   HF's head_mask [L,H]) are read back by the C reader with the same float32 values.
2. Files NumPy writes that we must refuse (int, bool, float16, complex, object, Fortran order,
   truncated) give exit code 2 and a one-line message naming the file.
3. Files the C writer makes (f4 f8 i4 i8, several shapes) load in NumPy (also memory-mapped)
   with the dtype, shape and values computed here.
"""
import os

import numpy as np

from bttest import run, tool


def c_read(path):
    p = run([tool("store_npy"), "read", path], expect=None)
    if p.returncode:
        return p.returncode, p.stderr, None, None
    lines = p.stdout.split("\n")
    shape = tuple(int(x) for x in lines[0].split()[1:])
    dtype = lines[1].split()[1]
    vals = np.array([float(x) for x in lines[2:] if x], dtype=np.float32)
    return 0, "", shape, (dtype, vals)


def test_reads_what_numpy_writes(work, check):
    """1. NumPy-written files the reader must accept."""
    rng = np.random.default_rng(1234)
    good = {
        "mask_f4.npy": (rng.random((12, 12)) > 0.3).astype(np.float32),  # a head_mask.npy
        "imp_f4.npy": rng.standard_normal((12, 12)).astype(np.float32),
        "scalar_f4.npy": np.float32(3.25),
        "vec_f8.npy": rng.standard_normal(7),
        "empty_f4.npy": np.zeros((0,), np.float32),
        "empty2_f4.npy": np.zeros((3, 0), np.float32),
        "cube_f8.npy": rng.standard_normal((2, 3, 4, 5)) * 1e3,
        "big_endian_f4.npy": rng.standard_normal((3, 5)).astype(">f4"),
        "big_endian_f8.npy": rng.standard_normal((4,)).astype(">f8"),
        "huge_f8.npy": np.array([1e300, -1e300, 1e-300, 3.0]),  # out of float32 range
    }
    for name, arr in good.items():
        path = os.path.join(work, name)
        np.save(path, arr)
    for ver in [(2, 0), (3, 0)]:
        arr = rng.standard_normal((3, 4)).astype(np.float32)
        name = "v%d_f4.npy" % ver[0]
        with open(os.path.join(work, name), "wb") as f:
            np.lib.format.write_array(f, arr, version=ver)
        good[name] = arr

    for name, arr in good.items():
        path = os.path.join(work, name)
        rc, err, shape, got = c_read(path)
        check(rc == 0, "%s: reader refused a NumPy file: %s" % (name, err.strip()))
        if rc:
            continue
        arr = np.asarray(arr)
        with np.errstate(over="ignore"):
            want = arr.astype(np.float32).ravel()  # NumPy's own float64 -> float32 (+-inf beyond)
        check(shape == arr.shape, "%s: shape %s, NumPy has %s" % (name, shape, arr.shape))
        check(got[0] == ("f32" if arr.dtype.itemsize == 4 else "f64"), "%s: dtype %s" % (name, got[0]))
        check(np.array_equal(got[1], want), "%s: values differ from NumPy's" % name)
    print("%d good NumPy files read" % len(good))


def test_refuses_what_it_must(work, check):
    """2. NumPy-written files the reader must refuse."""
    bad = {
        "int32.npy": (np.arange(6, dtype=np.int32).reshape(2, 3), "'<i4'"),
        "int64.npy": (np.arange(6), "'<i8'"),
        "bool.npy": (np.ones(4, bool), "'|b1'"),
        "half.npy": (np.ones(4, np.float16), "'<f2'"),
        "complex.npy": (np.ones(4, np.complex64), "'<c8'"),
        "fortran.npy": (np.asfortranarray(np.ones((2, 3), np.float32)), "fortran_order"),
        "record.npy": (np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]), "descr"),
    }
    for name, (arr, what) in bad.items():
        np.save(os.path.join(work, name), arr)
    obj = os.path.join(work, "object.npy")
    np.save(obj, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    bad["object.npy"] = (None, "'|O'")
    trunc = os.path.join(work, "truncated.npy")
    np.save(trunc, np.ones((4, 4), np.float32))
    with open(trunc, "r+b") as f:
        f.truncate(os.path.getsize(trunc) - 4)
    bad["truncated.npy"] = (None, "60 bytes")
    text = os.path.join(work, "text.npy")
    with open(text, "w") as f:
        f.write("0.5 0.5\n")
    bad["text.npy"] = (None, "magic")
    for name, (_, what) in bad.items():
        path = os.path.join(work, name)
        rc, err, _, _ = c_read(path)
        check(rc == 2, "%s: exit code %d, want 2" % (name, rc))
        check(path in err and what in err and err.count("\n") == 1,
              "%s: message should name the file and '%s': %r" % (name, what, err))
    print("%d bad refused" % len(bad))


def test_numpy_reads_what_it_writes(work, check):
    """3. C-written files NumPy must load, and no temporary file left behind."""
    for dt, npdt in [("f4", np.float32), ("f8", np.float64), ("i4", np.int32), ("i8", np.int64)]:
        for shape in [(), (1,), (5,), (12, 12), (2, 3, 4), (3, 0, 2)]:
            path = os.path.join(work, "ours_%s_%s.npy" % (dt, "x".join(map(str, shape)) or "scalar"))
            p = run([tool("store_npy"), "write", dt, path] + list(shape), expect=None)
            check(p.returncode == 0, "%s: writer failed" % path)
            k = np.arange(int(np.prod(shape)), dtype=np.int64)
            if dt[0] == "f":
                want = (((37 * k) % 101 - 50) / 8.0).astype(npdt)
            elif dt == "i4":
                want = (1000003 * k - 500000).astype(np.int32)
            else:
                want = (k << 33) + k - 7
            want = want.reshape(shape)
            got = np.load(path)
            check(got.dtype == np.dtype(npdt) and got.dtype.byteorder in "<=",
                  "%s: dtype %s" % (path, got.dtype))
            check(got.shape == shape, "%s: shape %s" % (path, got.shape))
            check(np.array_equal(got, want), "%s: values" % path)
            check(np.array_equal(np.load(path, mmap_mode="r"), want), "%s: mmap load" % path)
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                np.lib.format.read_array_header_1_0(f)
                check(version == (1, 0) and f.tell() % 64 == 0,
                      "%s: version %s, data at %d (want 1.0, 64-aligned)" % (path, version, f.tell()))
    left = [n for n in os.listdir(work) if ".tmp-" in n]
    check(not left, "temporary files left behind: %s" % left)
    print("24 of ours loaded by NumPy")
