"""run.h5 written by tests/tools/store_demo.c under MPI, checked with h5py and the HDF5
command-line tools. One test per ctest (store.run_h5_np1_np3, _variants, _failures):

  ranks     np=1 and np=3, independent and collective I/O, float16 tensors: every dataset's
            values recomputed here
            from the demo's formulas, float16 rounding against NumPy's (round to nearest even),
            layout, h5ls -r / h5dump -H listings, h5diff np=1 vs np=3 finds no difference
  variants  collective I/O + f32 tensors + regression; no tensors; one example on 3 ranks;
            zero examples; long metadata strings (dense attribute storage)
  attr      attattr's /examples/attr_max, /attribution (f16 and f32) and /rollout (always
            f32) written from the store's rows, np 1-3, both I/O modes
  failures  a rank killed mid-run, a clean abort, an unwritable directory: no final file
Every file's size is compared with the estimate printed by the demo (bt_store_estimate_bytes).
"""
import glob
import json
import os
import re

import h5py
import numpy as np

from bttest import run, tool

L, H, C, D, BATCH = 3, 4, 3, 8, 4
ATTN_LAYERS, HIDDEN_LAYERS = [0, 2], [0, 3]
ESTIMATE_SLACK = 4096  # bytes


def run_demo(np_, out, *extra):
    for old in glob.glob(out + "*"):
        os.remove(old)
    p = run([tool("store_demo"), "--out", out] + list(extra), np=np_, timeout=300, expect=None)
    info = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    return p.returncode, info, p.stdout + p.stderr


# ---- the demo's synthetic data, recomputed independently --------------------------------

def lengths(n):
    return [1 + (7 * i + 3) % 13 for i in range(n)]


def synth(i, count, seed):
    """store_demo's synth(): float32 m * 2^-k from a 32-bit hash of (i, j, seed)."""
    j = np.arange(count, dtype=np.uint64)
    m32 = np.uint64(0xFFFFFFFF)
    u = (np.uint64(i) * np.uint64(2654435761) + j * np.uint64(2246822519)
         + np.uint64(seed) * np.uint64(374761393)) & m32
    u ^= u >> np.uint64(15)
    u = (u * np.uint64(2246822519)) & m32
    u ^= u >> np.uint64(13)
    m = u & np.uint64(0xFFFFFF)
    tie = (j % np.uint64(16)) == 0
    m = np.where(tie, (m & ~np.uint64(0x1FFF)) | np.uint64(0x1000), m)
    k = 4 + ((u >> np.uint64(24)) % np.uint64(36)).astype(np.int64)
    x = m.astype(np.float64) * np.exp2(-k.astype(np.float64))  # exact: m < 2^24
    x = np.where((u >> np.uint64(31)) == 1, -x, x)
    return x.astype(np.float32)  # exact too


def expected(n, regression, tensors, attr=False):
    T = lengths(n)
    e = {"length": np.array(T, np.int32), "index": np.arange(1000, 1000 + n, dtype=np.int64)}
    e["token_offset"] = np.concatenate([[0], np.cumsum(T)[:-1]]).astype(np.int64) if n else \
        np.zeros(0, np.int64)
    e["token_ids"] = np.array([(i * 31 + t * 7) % 30522 for i in range(n) for t in range(T[i])],
                              np.int32)
    if regression:
        e["label"] = np.array([0.25 * i for i in range(n)], np.float32)
        e["logits"] = np.array([[(i * 3) * 0.125] for i in range(n)], np.float32).reshape(n, 1)
    else:
        e["label"] = np.array([i % C for i in range(n)], np.int32)
        e["logits"] = np.array([[(i * 3 + c) * 0.125 for c in range(C)] for i in range(n)],
                               np.float32).reshape(n, C)
    e["loss"] = np.array([1.0 / (i + 1) for i in range(n)], np.float64)
    e["gate_grad"] = np.array([[[((i - 2 * l) + h * 0.5) / (1 + l + h) for h in range(H)]
                                for l in range(L)] for i in range(n)], np.float64).reshape(n, L, H)
    e["entropy"] = np.array([[[(i + 1) * 0.5 + l * 0.25 + h for h in range(H)]
                              for l in range(L)] for i in range(n)], np.float64).reshape(n, L, H)
    if attr:
        e["attr_max"] = np.array([[[(i + 1) * 0.125 - l + h * 0.0625 for h in range(H)]
                                   for l in range(L)] for i in range(n)], np.float64).reshape(n, L, H)
        e["attrib"] = [synth(i, L * H * T[i] * T[i], 3).reshape(L, H, T[i], T[i]) for i in range(n)]
        e["rollout"] = [synth(i, T[i], 4) for i in range(n)]
    if tensors:
        e["attn"] = [synth(i, 2 * H * T[i] * T[i], 1).reshape(2, H, T[i], T[i]) for i in range(n)]
        e["hidden"] = [synth(i, 2 * T[i] * D, 2).reshape(2, T[i], D) for i in range(n)]
    return e


# ---- checks ------------------------------------------------------------------------------

F16_STATS0 = {"values": 0, "ties": 0, "subnormal": 0, "inf": 0}
f16_stats = dict(F16_STATS0)  # what check_f16 saw: test_ranks resets and checks it


def check_f16(check, name, got, want32):
    """got: float16 from the file; want32: the float32 values the demo passed in."""
    with np.errstate(over="ignore"):
        want = want32.astype(np.float16)  # NumPy: IEEE round to nearest even
    check(got.dtype == np.float16, "%s: dtype %s, want float16" % (name, got.dtype))
    ok = np.array_equal(got.view(np.uint16), want.view(np.uint16))
    if not ok:
        bad = np.flatnonzero(got.view(np.uint16) != want.view(np.uint16))[:3]
        check(False, "%s: float16 bits differ at %s: %s vs NumPy %s (from %s)" % (
            name, bad, got.ravel()[bad], want.ravel()[bad], want32.ravel()[bad]))
    w = want32.astype(np.float64).ravel()
    f16_stats["values"] += w.size
    # a tie: exactly halfway between two float16 neighbours (the 13 dropped bits = 0x1000)
    bits = want32.view(np.uint32).ravel()
    normal = (np.abs(w) >= 2.0 ** -14) & (np.abs(w) < 65504)
    f16_stats["ties"] += int(np.sum(normal & ((bits & 0x1FFF) == 0x1000)))
    f16_stats["subnormal"] += int(np.sum((np.abs(w) < 2.0 ** -14) & (w != 0)))
    f16_stats["inf"] += int(np.sum(np.isinf(want)))


def check_file(check, path, n_ranks, n, regression=False, tensors=True, dtype="f16",
               config_bytes=0, attr=False):
    tag = os.path.basename(path)
    f = h5py.File(path, "r")
    e = expected(n, regression, tensors, attr)
    a = f.attrs
    check(a["format"] == "bertology-run" and a["format_version"] == 1, tag + ": format")
    check(a["status"] == "complete", tag + ": status %r" % a["status"])
    check(a["n_ranks"] == n_ranks, tag + ": n_ranks %s, ran %d" % (a["n_ranks"], n_ranks))
    check((a["n_layers"], a["n_heads"], a["n_labels"], a["n_examples"]) ==
          (L, H, 1 if regression else C, n), tag + ": model dims")
    check(a["task"] == ("sts-b" if regression else "sst-2") and a["split"] == "dev"
          and a["model_dir"] == "/models/demo", tag + ": task/split/model_dir")
    cfg = json.loads(a["model_config"])
    check(cfg["note"] == "caf\u00e9" and cfg["num_attention_heads"] == 4
          and len(cfg["pad"]) == config_bytes, tag + ": model_config (UTF-8, length)")
    check(json.loads(a["options"])["granularity"] == "example", tag + ": options JSON")
    check(a["hdf5_version"] == h5py.version.hdf5_version, tag + ": hdf5_version")
    check(a["mpi_version"].startswith("MPI 3.") and "Open MPI" in a["mpi_version"],
          tag + ": mpi_version %r" % a["mpi_version"])
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["created"]) is not None,
          tag + ": created")
    for k in ("command_line", "bertology_version", "openblas_version"):
        check(isinstance(a[k], str) and a[k], tag + ": " + k)

    # exactly these datasets, with these types and shapes
    total = int(sum(lengths(n)))
    want = {
        "examples/index": (np.int64, (n,)), "examples/length": (np.int32, (n,)),
        "examples/token_offset": (np.int64, (n,)), "examples/token_ids": (np.int32, (total,)),
        "examples/label": (np.float32 if regression else np.int32, (n,)),
        "examples/logits": (np.float32, (n, 1 if regression else C)),
        "examples/loss": (np.float64, (n,)), "examples/gate_grad": (np.float64, (n, L, H)),
        "examples/entropy": (np.float64, (n, L, H)),
        "importance/raw": (np.float64, (L, H)), "importance/normalized": (np.float32, (L, H)),
        "importance/ranks": (np.int32, (L, H)), "entropy/raw": (np.float64, (L, H)),
        "entropy/normalized": (np.float32, (L, H)), "masking/head_mask": (np.float32, (L, H)),
    }
    tdt = np.float16 if dtype == "f16" else np.float32
    if tensors:
        T = np.array(lengths(n), np.int64)
        want["attentions/data"] = (tdt, (int(np.sum(2 * H * T * T)),))
        want["attentions/offset"] = (np.int64, (n,))
        want["hidden/data"] = (tdt, (int(np.sum(2 * T * D)),))
        want["hidden/offset"] = (np.int64, (n,))
    if attr:
        T = np.array(lengths(n), np.int64)
        want["examples/attr_max"] = (np.float64, (n, L, H))
        want["attribution/data"] = (tdt, (int(np.sum(L * H * T * T)),))
        want["attribution/offset"] = (np.int64, (n,))
        want["rollout/data"] = (np.float32, (total,))
    have = {}
    f.visititems(lambda name, o: have.__setitem__(name, (o.dtype, o.shape))
                 if isinstance(o, h5py.Dataset) else None)
    check(set(have) == set(want), tag + ": datasets %s" % sorted(set(have) ^ set(want)))
    for k in set(have) & set(want):
        check(have[k][0] == want[k][0] and have[k][1] == want[k][1],
              "%s: %s is %s %s, want %s %s" % (tag, k, have[k][0], have[k][1],
                                                np.dtype(want[k][0]), want[k][1]))
        # contiguous, not chunked, nothing unwritten
        check(f[k].chunks is None, "%s: %s is chunked" % (tag, k))

    ex = f["examples"]
    for k in ("index", "length", "token_offset", "token_ids", "label", "logits", "loss",
              "gate_grad", "entropy"):
        check(np.array_equal(ex[k][()], e[k]), "%s: examples/%s values" % (tag, k))

    # summary (demo: raw = k + 0.5 etc., k = l*H + h)
    k = np.arange(L * H).reshape(L, H)
    check(np.array_equal(f["importance/raw"][()], k + 0.5), tag + ": importance/raw")
    check(np.array_equal(f["importance/normalized"][()], (k / np.float32(L * H - 1))
                         .astype(np.float32)), tag + ": importance/normalized")
    check(np.array_equal(f["importance/ranks"][()], L * H - 1 - k), tag + ": importance/ranks")
    check(np.array_equal(f["entropy/raw"][()], 2.0 * k + 0.25), tag + ": entropy/raw")
    check(np.array_equal(f["entropy/normalized"][()],
                         ((2.0 * k + 0.25) / total).astype(np.float32)), tag + ": entropy/norm")
    for g in ("importance", "entropy"):
        check(f[g].attrs["n_tokens"] == total and f[g].attrs["n_examples"] == n,
              "%s: %s counts" % (tag, g))
    check(dict(f["metrics"].attrs) == {"acc": 0.75, "mcc": -0.125}, tag + ": metrics")
    check(np.array_equal(f["masking/head_mask"][()],
                         (k % 5 != 1).astype(np.float32)), tag + ": extra array")

    if tensors:
        check(list(f["attentions"].attrs["layers"]) == ATTN_LAYERS, tag + ": attention layers")
        check(list(f["hidden"].attrs["layers"]) == HIDDEN_LAYERS, tag + ": hidden layers")
        check(f["attentions"].attrs["n_heads"] == H and f["hidden"].attrs["d_model"] == D,
              tag + ": tensor group attributes")
        Lsel = len(f["attentions"].attrs["layers"])
        for i in range(n):
            # the two-line read documented in docs/run_h5.md
            o = f["attentions/offset"][i]
            T = f["examples/length"][i]
            att = f["attentions/data"][o:o + Lsel * H * T * T].reshape(Lsel, H, T, T)
            o = f["hidden/offset"][i]
            hid = f["hidden/data"][o:o + 2 * T * D].reshape(2, T, D)
            if dtype == "f16":
                check_f16(check, "%s: attentions[%d]" % (tag, i), att, e["attn"][i])
                check_f16(check, "%s: hidden[%d]" % (tag, i), hid, e["hidden"][i])
            else:
                check(np.array_equal(att, e["attn"][i]), "%s: attentions[%d]" % (tag, i))
                check(np.array_equal(hid, e["hidden"][i]), "%s: hidden[%d]" % (tag, i))
        if n:
            check(f["attentions/offset"][-1] + 2 * H * T * T == f["attentions/data"].shape[0],
                  tag + ": attention blocks cover the dataset")
    if attr:
        check_attr(check, tag, f, e, n, dtype)
    f.close()

    # the HDF5 tools see the same layout
    ls = run(["h5ls", "-r", path], expect=None).stdout
    listed = {m.group(1).lstrip("/"): tuple(int(x) for x in m.group(2).split(", "))
              for m in re.finditer(r"^(\S+)\s+Dataset \{([\d, ]+)\}", ls, re.M)}
    check(listed == {k: v[1] for k, v in want.items()},
          tag + ": h5ls -r lists %s" % sorted(set(listed) ^ set(want)))
    dump = run(["h5dump", "-H", path], expect=None).stdout
    check(dump.count("DATASET ") == len(want), tag + ": h5dump -H dataset count")
    if tensors and dtype == "f16":
        check(re.search(r'DATASET "data" \{\s*DATATYPE\s+16-bit little-endian floating-point',
                        dump) is not None, tag + ": h5dump shows a 16-bit float")


def check_attr(check, tag, f, e, n, dtype):
    """attattr's maxima, its [L, H, T, T] maps (the tensor dtype) and the rollout (float32, at the
    token offsets), read as docs/run_h5.md says."""
    check(np.array_equal(f["examples/attr_max"][()], e["attr_max"]), tag + ": examples/attr_max values")
    g = f["attribution"].attrs
    check(g["n_heads"] == H and g["block_shape"] == "layers,heads,T,T"
          and g["dtype"] == ("float16" if dtype == "f16" else "float32"), tag + ": /attribution attributes")
    check(f["rollout"].attrs["block_shape"] == "T", tag + ": /rollout attributes")
    want_off = np.concatenate([[0], np.cumsum([L * H * T * T for T in lengths(n)])[:-1]]).astype(np.int64)
    check(np.array_equal(f["attribution/offset"][()], want_off[:n]), tag + ": attribution/offset")
    for i in range(n):
        T = int(f["examples/length"][i])
        o = f["attribution/offset"][i]
        m = f["attribution/data"][o:o + L * H * T * T].reshape(L, H, T, T)
        if dtype == "f16":
            check_f16(check, "%s: attribution[%d]" % (tag, i), m, e["attrib"][i])
        else:
            check(np.array_equal(m, e["attrib"][i]), "%s: attribution[%d]" % (tag, i))
        o = f["examples/token_offset"][i]
        r = f["rollout/data"][o:o + T]
        check(r.dtype == np.float32 and np.array_equal(r, e["rollout"][i]), "%s: rollout[%d]" % (tag, i))


def check_size(check, path, info):
    size, est = os.path.getsize(path), int(info.get("estimate", -1))
    check(abs(size - est) <= ESTIMATE_SLACK,
          "%s: estimate %d vs file %d bytes" % (os.path.basename(path), est, size))
    return size, est


def mpirun_ok(check, rc, log, what):
    check(rc == 0, "%s: exit %d\n%s" % (what, rc, log[-2000:]))
    return rc == 0


def test_ranks(work, check):
    w = work
    f16_stats.clear()
    f16_stats.update(F16_STATS0)
    files = {}
    for np_, io in ((1, "independent"), (3, "independent"), (1, "collective"), (3, "collective")):
        out = os.path.join(w, "np%d_%s.h5" % (np_, io))
        rc, info, log = run_demo(np_, out, *(["--collective"] if io == "collective" else []))
        if mpirun_ok(check, rc, log, out):
            check_file(check, out, np_, 37)
            print("np=%d %-11s: %d bytes, estimate %d" % ((np_, io) + check_size(check, out, info)))
            files[np_, io] = out
            check(not glob.glob(out + ".tmp-*"), out + ": temporary file left")
    ref = files.get((1, "independent"))
    for key in files:
        if not ref or files[key] == ref:
            continue
        for g in ("/examples", "/importance", "/entropy", "/metrics", "/attentions", "/hidden",
                  "/masking"):
            p = run(["h5diff", "-v", ref, files[key], g, g], expect=None)
            check(p.returncode == 0 and "0 differences found" in p.stdout
                  and "differences found" not in p.stdout.replace("0 differences found", ""),
                  "h5diff %s %s %s: rc %d\n%s" % (ref, files[key], g, p.returncode,
                                                  p.stdout[-1500:]))
        a1, a3 = (dict(h5py.File(f, "r").attrs) for f in (ref, files[key]))
        for k in set(a1) | set(a3):
            if k not in ("n_ranks", "created"):
                check(a1.get(k) == a3.get(k), "root attribute %s differs: %s" % (k, key))
    print("h5diff: np=3 and collective files equal the np=1 independent file in every group")
    print("float16 values checked: %(values)d (ties %(ties)d, subnormal %(subnormal)d, "
          "overflow to inf %(inf)d)" % f16_stats)
    check(f16_stats["ties"] > 100 and f16_stats["subnormal"] > 100 and f16_stats["inf"] > 100,
          "the f16 data should exercise ties, subnormals and overflow")


def run_cases(check, work, name, cases):
    """store_demo for each (np, n, flags, check_file keywords): the file as asked, its size
    within the estimate."""
    for k, (np_, n, extra, kw) in enumerate(cases):
        out = os.path.join(work, "%s%d.h5" % (name, k))
        rc, info, log = run_demo(np_, out, *extra)
        if mpirun_ok(check, rc, log, "np=%d %s" % (np_, " ".join(extra))):
            check_file(check, out, np_, n, **kw)
            size, est = check_size(check, out, info)
            print("np=%d %-40s %8d bytes, estimate %8d" % (np_, " ".join(extra), size, est))


def test_variants(work, check):
    w = work
    cases = [
        (2, 37, ["--collective", "--dtype", "f32", "--regression"],
         dict(regression=True, dtype="f32")),
        (3, 37, ["--no-tensors"], dict(tensors=False)),
        (3, 1, ["--n", "1"], {}),
        (2, 0, ["--n", "0"], {}),
        (2, 200, ["--n", "200", "--collective"], {}),
        (3, 1, ["--n", "1", "--collective"], {}),
        (2, 0, ["--n", "0", "--collective"], {}),
        (3, 37, ["--config-bytes", "9000"], dict(config_bytes=9000)),
        (2, 37, ["--config-bytes", "100000"], dict(config_bytes=100000)),
    ]
    run_cases(check, w, "variant", cases)


def test_attr(work, check):
    cases = [
        (1, 37, ["--attr"], dict(attr=True)),
        (3, 37, ["--attr"], dict(attr=True)),
        (2, 37, ["--attr", "--collective", "--dtype", "f32", "--no-tensors"],
         dict(attr=True, dtype="f32", tensors=False)),
        (3, 1, ["--attr", "--n", "1", "--collective"], dict(attr=True)),
        (2, 0, ["--attr", "--n", "0"], dict(attr=True)),
    ]
    run_cases(check, work, "attr", cases)


def test_failures(work, check):
    w = work
    # a rank dies (SIGKILL) after the first write: mpirun fails, only the tmp file remains
    out = os.path.join(w, "killed.h5")
    rc, info, log = run_demo(3, out, "--kill-after", "1")
    check(rc != 0, "killed run: mpirun exit 0")
    check(not os.path.exists(out), "killed run left %s" % out)
    tmp = glob.glob(out + ".tmp-*")
    check(len(tmp) == 1 and tmp[0] == info.get("tmp"), "killed run: tmp files %s" % tmp)
    # a clean abort (every rank calls bt_store_abort): tmp file readable, status "aborted"
    out = os.path.join(w, "aborted.h5")
    rc, info, log = run_demo(3, out, "--abort-after", "1")
    check(rc == 3, "aborted run: exit %d, want 3" % rc)
    check(not os.path.exists(out), "aborted run left %s" % out)
    tmp = glob.glob(out + ".tmp-*")
    if check(len(tmp) == 1, "aborted run: tmp files %s" % tmp):
        with h5py.File(tmp[0], "r") as f:
            check(f.attrs["status"] == "aborted", "aborted run: status %r" % f.attrs["status"])
    # an existing run.h5 survives a crashed rerun untouched
    out = os.path.join(w, "rerun.h5")
    rc, info, log = run_demo(2, out)
    before = open(out, "rb").read() if os.path.exists(out) else b""
    for old in glob.glob(out + ".tmp-*"):
        os.remove(old)
    run([tool("store_demo"), "--out", out, "--kill-after", "1", "--n", "50"], np=3, timeout=300, expect=None)
    check(before and open(out, "rb").read() == before, "a crashed rerun changed the old run.h5")
    # one rank's invalid call: it gets the error, the other ranks finish the collective
    for mode in ([], ["--collective"]):
        out = os.path.join(w, "badrow.h5")
        rc, info, log = run_demo(3, out, "--bad-row-on-rank", "1", *mode)
        check(rc == 4 and "rank 1:" in log and "outside 0..36" in log
              and "rank 0:" not in log and not os.path.exists(out),
              "invalid call on one rank %s: rc %d, log %s" % (mode, rc, log[-800:]))
    # an unwritable place: an error naming the file, nothing created
    bad_dir = os.path.join(w, "no", "such", "dir")
    rc, info, log = run_demo(2, os.path.join(bad_dir, "run.h5"))
    check(rc != 0 and os.path.join(bad_dir, "run.h5.tmp-") in log and "creating the file" in log,
          "unwritable output: rc %d, log %s" % (rc, log[-500:]))
