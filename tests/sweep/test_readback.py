"""run.h5 of `bertology importance` read back with h5py equals the engine's own per-example
output, and its summary equals what the per-example rows imply.

* A run under mpirun -np 2 with --save-attentions --save-hidden (f32, all layers; and f16 with
  --layers 0,2) on SST-2 dev.
* `bertology forward` on the token ids read back from the file (one process, batches in file
  order, so a different packing than the sweep's length-sorted plan): logits, loss, gate_grad,
  entropy, attention probabilities and hidden states agree row by row within float rounding.
* The token ids themselves equal an independent Python WordPiece (tests/text/wordpiece_ref.py)
  of the TSV sentences; labels equal the TSV's.
* The summary is recomputed in NumPy from the rows: raw importance = sum_x |g(x)|, raw entropy,
  token counts, SPEC normalisation, ranks (stable sort), accuracy, and the .npy files.
* The "Reading it" snippet of docs/run_h5.md runs as written (1-2 lines per example tensor).
* h5ls -r lists exactly the documented datasets with their shapes; h5dump -H -A shows the
  types, status "complete" and the float16 tensor type.
"""
import json
import os
import re

import h5py
import numpy as np

import wordpiece_ref
from bttest import BERT_VOCAB, SOURCE, SST2, bertology, models, run

L, H, D, SUBSET = 3, 4, 32, 24


def close(check, name, got, want, rtol=1e-4, atol=1e-5):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if not check(got.shape == want.shape, "%s: shape %s, want %s" % (name, got.shape, want.shape)):
        return
    err = np.abs(got - want) - (atol + rtol * np.abs(want))
    check(np.all(err <= 0), "%s: max |diff| %.3g (at %s)" % (
        name, np.max(np.abs(got - want)), np.unravel_index(np.argmax(err), err.shape)))


def sst2_rows(path, n):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")[1:]
    rows = [ln.split("\t") for ln in lines if ln.strip()][:n]
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def spec_normalize(raw, n_tokens):
    v = raw / n_tokens
    v = v / (np.sqrt((v ** 2).sum(-1, keepdims=True)) + 1e-20)
    return (v - v.min()) / (v.max() - v.min())


def docs_snippet(source_dir):
    """The first python block under "## Reading it" of docs/run_h5.md."""
    with open(os.path.join(source_dir, "docs", "run_h5.md")) as f:
        text = f.read()
    sec = text[text.index("## Reading it"):]
    return re.search(r"```python\n(.*?)```", sec, re.S).group(1)


def check_layout(check, path, f16):
    """h5ls and h5dump, as a user would look at the file."""
    ls = run(["h5ls", "-r", path]).stdout
    got = {}
    for ln in ls.splitlines():
        m = re.match(r"(\S+)\s+Dataset \{([^}]*)\}", ln)
        if m:
            got[m.group(1)] = tuple(int(d.split("/")[0]) for d in m.group(2).split(","))
    ntok = None
    with h5py.File(path, "r") as f:
        lens = f["examples/length"][()].astype(np.int64)
        nl = len(f["attentions"].attrs["layers"])
        nh = len(f["hidden"].attrs["layers"])
        ntok = int(lens.sum())
    n = SUBSET
    want = {"/examples/index": (n,), "/examples/length": (n,), "/examples/token_offset": (n,),
            "/examples/token_ids": (ntok,), "/examples/label": (n,), "/examples/logits": (n, 2),
            "/examples/loss": (n,), "/examples/gate_grad": (n, L, H), "/examples/entropy": (n, L, H),
            "/importance/raw": (L, H), "/importance/normalized": (L, H), "/importance/ranks": (L, H),
            "/entropy/raw": (L, H), "/entropy/normalized": (L, H),
            "/attentions/data": (int((nl * H * lens ** 2).sum()),), "/attentions/offset": (n,),
            "/hidden/data": (int(nh * D * lens.sum()),), "/hidden/offset": (n,)}
    check(got == want, "h5ls -r: datasets %s\nwant %s" % (got, want))
    dump = run(["h5dump", "-H", "-A", path]).stdout
    check(re.search(r'ATTRIBUTE "status" \{.*?"complete"', dump, re.S) is not None,
          "h5dump: status is not \"complete\"")
    for group in ("attentions", "hidden"):
        blk = dump[dump.index('GROUP "%s"' % group):]
        m = re.search(r'DATASET "data" \{\s*DATATYPE\s+([^\n]*)', blk)
        dtype = m.group(1).strip() if m else None
        # h5dump names h5py's float16 "16-bit little-endian floating-point 16-bit precision"
        want = "16-bit little-endian floating-point" if f16 else "H5T_IEEE_F32LE"
        check(dtype is not None and dtype.startswith(want), "h5dump: /%s/data type %r, want %r"
              % (group, dtype, want))


def importance(out, m, *extra):
    return bertology(["importance", "--model", m, "--task", "sst-2", "--data", SST2, "--out", out, "--threads", 1,
                      "--quiet"] + list(extra), np=2, timeout=180)


def test_readback(work, check, blas_one_thread):
    m = models.bert(os.path.join(work, "model"), layers=L, hidden=D, heads=H, seed=5)
    out32 = os.path.join(work, "f32")
    out16 = os.path.join(work, "f16")
    importance(out32, m, "--subset", SUBSET, "--batch-tokens", 150, "--save-attentions", "--save-hidden",
               "--dtype", "f32")
    importance(out16, m, "--subset", SUBSET, "--batch-tokens", 150, "--save-attentions", "--save-hidden",
               "--layers", "0,2")

    f = h5py.File(os.path.join(out32, "run.h5"), "r")
    lens = f["examples/length"][()]
    toff = f["examples/token_offset"][()]
    tok = f["examples/token_ids"][()]
    seqs = [tok[toff[i]:toff[i] + lens[i]].tolist() for i in range(SUBSET)]

    # inputs: independent tokenizer and the TSV's labels
    sentences, labels = sst2_rows(os.path.join(SST2, "dev.tsv"), SUBSET)
    ref = wordpiece_ref.RefBert(BERT_VOCAB)
    for i, s in enumerate(sentences):
        check(ref.encode(s, None, 128)[0] == seqs[i], "example %d: token ids differ from the "
              "reference WordPiece" % i)
    check(f["examples/label"][()].tolist() == labels, "labels differ from the TSV")
    check(f.attrs["status"] == "complete" and f.attrs["task"] == "sst-2", "root attributes")

    # the engine on the same ids, packed differently
    fw = os.path.join(work, "forward")
    with open(os.path.join(work, "ids.txt"), "w") as fi:
        fi.writelines(" ".join(map(str, s)) + "\n" for s in seqs)
    with open(os.path.join(work, "labels.txt"), "w") as fl:
        fl.writelines("%d\n" % y for y in labels)
    bertology(["forward", "--model", m, "--ids", os.path.join(work, "ids.txt"), "--labels",
               os.path.join(work, "labels.txt"), "--attentions", "--hidden", "--batch-tokens", "100", "--threads", "1",
               "--out", fw], timeout=300)
    close(check, "logits", f["examples/logits"][()], np.load(os.path.join(fw, "logits.npy")))
    close(check, "loss", f["examples/loss"][()], np.load(os.path.join(fw, "loss.npy")))
    gg = np.load(os.path.join(fw, "gate_grad.npy"))
    close(check, "gate_grad", f["examples/gate_grad"][()], gg, atol=1e-5 * np.abs(gg).max())
    close(check, "entropy", f["examples/entropy"][()], np.load(os.path.join(fw, "entropy.npy")))
    aoff, hoff = f["attentions/offset"][()], f["hidden/offset"][()]
    check(list(f["attentions"].attrs["layers"]) == list(range(L)), "attention layers")
    check(list(f["hidden"].attrs["layers"]) == list(range(L + 1)), "hidden layers")
    adata, hdata = f["attentions/data"], f["hidden/data"]
    for i in range(SUBSET):
        T = int(lens[i])
        a = adata[aoff[i]:aoff[i] + L * H * T * T].reshape(L, H, T, T)
        close(check, "attentions[%d]" % i, a, np.load(os.path.join(fw, "attn_%d.npy" % i)), atol=1e-6)
        h = hdata[hoff[i]:hoff[i] + (L + 1) * T * D].reshape(L + 1, T, D)
        close(check, "hidden[%d]" % i, h, np.load(os.path.join(fw, "hidden_%d.npy" % i)), atol=1e-5)

    # the summary, recomputed from the rows
    g = f["examples/gate_grad"][()]
    n_tok = int(lens.sum())
    check(f["importance"].attrs["n_tokens"] == n_tok and f["importance"].attrs["n_examples"] == SUBSET,
          "n_tokens/n_examples attributes")
    close(check, "importance/raw", f["importance/raw"][()], np.abs(g).sum(0), rtol=1e-12, atol=0)
    close(check, "entropy/raw", f["entropy/raw"][()], f["examples/entropy"][()].sum(0), rtol=1e-12, atol=0)
    want_norm = spec_normalize(np.abs(g).sum(0), n_tok)
    close(check, "importance/normalized", f["importance/normalized"][()], want_norm, rtol=0, atol=1e-6)
    order = np.argsort(-f["importance/normalized"][()].ravel(), kind="stable")
    ranks = np.empty(L * H, np.int64)
    ranks[order] = np.arange(L * H)
    check(np.array_equal(f["importance/ranks"][()].ravel(), ranks), "importance/ranks")
    close(check, "entropy/normalized", f["entropy/normalized"][()], f["examples/entropy"][()].sum(0) / n_tok,
          rtol=1e-6, atol=0)
    check(np.array_equal(np.load(os.path.join(out32, "head_importance.npy")),
                         f["importance/normalized"][()]), "head_importance.npy != /importance/normalized")
    check(np.array_equal(np.load(os.path.join(out32, "attn_entropy.npy")),
                         f["entropy/normalized"][()]), "attn_entropy.npy != /entropy/normalized")
    acc = float(np.mean(f["examples/logits"][()].argmax(1) == np.array(labels)))
    check(abs(f["metrics"].attrs["acc"] - acc) < 1e-12, "metrics/acc %r, want %r"
          % (f["metrics"].attrs["acc"], acc))
    opts = json.loads(f.attrs["options"])
    check(opts.get("save_attentions") is True and opts.get("dtype") == "f32", "options %s" % opts)
    f.close()

    # float16 with a layer selection: the f32 run's values rounded, the layers asked for
    f16 = h5py.File(os.path.join(out16, "run.h5"), "r")
    check(list(f16["attentions"].attrs["layers"]) == [0, 2], "f16 attention layers")
    check(list(f16["hidden"].attrs["layers"]) == [1, 3], "f16 hidden layers (after layers 0, 2)")
    check(f16["attentions/data"].dtype == np.float16 and f16["hidden/data"].dtype == np.float16,
          "f16 tensors are %s / %s" % (f16["attentions/data"].dtype, f16["hidden/data"].dtype))
    check(f16["attentions/data"].shape[0] == int((2 * H * lens.astype(np.int64) ** 2).sum()),
          "f16 attention size: storage proportional to real tokens")

    # docs/run_h5.md's snippet, as written, on both files
    code = docs_snippet(SOURCE)
    for path, layers, hid_layers in ((out32, list(range(L)), list(range(L + 1))),
                                     (out16, [0, 2], [1, 3])):
        for i in (0, SUBSET - 1):
            src = code.replace('"out/run.h5"', repr(os.path.join(path, "run.h5")))
            src = re.sub(r"^i = \d+", "i = %d" % i, src, flags=re.M)
            env = {}
            try:
                exec(compile(src, "docs/run_h5.md", "exec"), env)
            except Exception as e:  # noqa: BLE001 - report any failure of the documented code
                check(False, "docs/run_h5.md snippet fails on %s example %d: %r" % (path, i, e))
                continue
            T = int(lens[i])
            want_a = np.stack([np.load(os.path.join(fw, "attn_%d.npy" % i))[l] for l in layers])
            want_h = np.stack([np.load(os.path.join(fw, "hidden_%d.npy" % i))[l] for l in hid_layers])
            tol = 2e-3 if path == out16 else 1e-5
            close(check, "docs snippet %s a[%d]" % (os.path.basename(path), i), env["a"], want_a,
                  rtol=tol, atol=tol)
            close(check, "docs snippet %s h[%d]" % (os.path.basename(path), i), env["h"], want_h,
                  rtol=tol, atol=tol)
            check(list(env["ids"]) == seqs[i] and len(env["ids"]) == T, "docs snippet ids[%d]" % i)
    f16.close()
    check_layout(check, os.path.join(out32, "run.h5"), False)
    check_layout(check, os.path.join(out16, "run.h5"), True)
