"""analysis/probe.py recovers a planted signal.

A synthetic run.h5 with the layout `bertology syntax --save-hidden` writes (/examples/length,
/hidden, /words): random sentences and trees, words of one or two pieces between a [CLS] and a
[SEP] token, hidden states 0..4 of pure noise except state K, where the mean over a word's
pieces is one-hot codes of its UPOS tag and relation plus noise (the code, times the number of
pieces, sits in the first piece).
Checked: the probes at state K are near 1.0, every other state near the majority class; the
cumulative mix jumps at K and the expected layer is K; a second synthetic file works as --test;
a run without /words is refused with one line and exit 2.
"""
import json
import os
import sys

import h5py
import numpy as np
import pytest

from bttest import SOURCE, run

K, STATES, D = 2, 5, 24
UPOS = ["ADJ", "ADP", "DET", "NOUN", "PRON", "VERB"]
RELS = ["amod", "case", "det", "nsubj", "obj"]


def synthetic(path, seed, n_sents=400):
    rng = np.random.default_rng(seed)
    p_upos = np.array([0.1, 0.1, 0.1, 0.4, 0.1, 0.2])
    p_rel = np.array([0.15, 0.15, 0.15, 0.4, 0.15])
    lengths, hid, counts, offs, first, pieces, upos, head, rel = [], [], [], [], [], [], [], [], []
    n_words = 0
    for _ in range(n_sents):
        n = int(rng.integers(3, 12))
        np_ = rng.integers(1, 3, size=n)
        T = 2 + int(np_.sum())
        u = rng.choice(len(UPOS), size=n, p=p_upos)
        r = rng.choice(len(RELS), size=n, p=p_rel)
        root = int(rng.integers(n))
        h = np.array([0 if i == root else int(rng.choice([j for j in range(n) if j != i])) + 1 for i in range(n)])
        x = rng.standard_normal((STATES, T, D)).astype(np.float32)
        pos = 1
        for i in range(n):
            code = np.zeros(D, np.float32)
            code[u[i]] = 3.0
            code[len(UPOS) + r[i]] = 3.0
            x[K, pos:pos + np_[i]] *= 0.3
            x[K, pos] += code * np_[i]  # the mean over the word's pieces is code + noise
            first.append(pos)
            pieces.append(int(np_[i]))
            pos += int(np_[i])
        lengths.append(T)
        hid.append(x.reshape(-1))
        counts.append(n)
        offs.append(n_words)
        n_words += n
        upos += u.tolist()
        head += h.tolist()
        rel += r.tolist()
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "bertology-run"
        f.attrs["status"] = "complete"
        f["examples/length"] = np.array(lengths, np.int32)
        data = np.concatenate(hid).astype(np.float16)
        f["hidden/data"] = data
        f["hidden/offset"] = np.concatenate([[0], np.cumsum([STATES * T * D for T in lengths])[:-1]]).astype(np.int64)
        f["hidden"].attrs["layers"] = np.arange(STATES, dtype=np.int32)
        f["hidden"].attrs["d_model"] = D
        w = f.create_group("words")
        for k, v in (("count", counts), ("first", first), ("pieces", pieces), ("upos", upos), ("head", head),
                     ("relation", rel), ("deprel", rel)):
            w[k] = np.array(v, np.int32)
        w["offset"] = np.array(offs, np.int64)
        w.attrs["upos_names"] = UPOS
        w.attrs["relation_names"] = RELS
        w.attrs["deprel_names"] = RELS
    return path


def probe(run_h5, out, *extra, expect=0):
    return run([sys.executable, os.path.join(SOURCE, "analysis", "probe.py"), run_h5, "--out", out, "--block-mb", "0.05"]
               + list(extra), expect=expect, timeout=300)


@pytest.fixture(scope="module")
def files(work):
    return synthetic(os.path.join(work, "a.h5"), 1), synthetic(os.path.join(work, "b.h5"), 2, n_sents=150)


@pytest.mark.parametrize("name", ["split", "test_file"])
def test_planted_signal_found(name, files, work, check):
    a, b = files
    out = os.path.join(work, name)
    p = probe(a, out, *(["--test", b] if name == "test_file" else []))
    print(p.stdout, end="")
    res = json.load(open(os.path.join(out, "probes.json")))
    check(os.path.getsize(os.path.join(out, "probes.png")) > 1000, "%s: no figure" % name)
    check(res["layers"] == list(range(STATES)), "%s: layers %s" % (name, res["layers"]))
    for task, r in res["tasks"].items():
        acc, mix, maj = r["accuracy"], r["mix_accuracy"], r["majority"]
        check(0.3 < maj < 0.5, "%s %s: majority %.3f (the labels' largest share is 0.4)" % (name, task, maj))
        check(acc[K] >= 0.97, "%s %s: accuracy at the planted state %.3f" % (name, task, acc[K]))
        for s in range(STATES):
            if s != K:
                check(abs(acc[s] - maj) <= 0.06, "%s %s: state %d accuracy %.3f, majority %.3f" % (name, task, s, acc[s], maj))
        check(all(abs(m - maj) <= 0.06 for m in mix[:K]), "%s %s: mix before K %s" % (name, task, mix[:K]))
        check(all(m >= 0.95 for m in mix[K:]), "%s %s: mix from K on %s" % (name, task, mix[K:]))
        e = r["expected_layer"]
        check(e is not None and abs(e - K) <= 0.5, "%s %s: expected layer %s, planted %d" % (name, task, e, K))


def test_run_without_words(work):
    bad = os.path.join(work, "bad.h5")
    with h5py.File(bad, "w") as f:
        f.attrs["status"] = "complete"
        f["examples/length"] = np.array([3], np.int32)
    p = probe(bad, os.path.join(work, "bad_out"), expect=2)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and "/words" in lines[0], p.report("run without /words")
