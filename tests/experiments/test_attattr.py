"""bertology importance --method attattr (self-attention attribution, Hao et al. AAAI 2021)
against the float64 torch reference tests/ref/torch_attattr.py (itself checked by
tests/ref/test_attattr_ref.py: finite differences, completeness, the gate gradient).

Random small classifiers of every family (BERT, RoBERTa, DistilBERT, GPT-2, openai-gpt) with
the real tokenizer files run `importance --method attattr --steps 4 --save-attributions --dtype
f32` on a few SST-2 examples; the reference runs on the token ids and labels run.h5 stored
(tokenisation is tested elsewhere; the labels are checked against the TSV) and gives, per
example, the [L, H, T, T] maps and their max over (i, j). Compared: /attribution/data (every
example's map), /examples/attr_max, /importance/raw = /attribution/sum (their sum over
examples), within torch_attattr.excess: |got - want| <= 1e-5 (|want| + scale), scale = the
largest |want| of the example's map (of the run's [L, H] for raw): 1e-5 relative for entries
of the map's size, an absolute floor of 1e-5 of the map's scale for the small ones, which
float32 arithmetic cannot get to 1e-5 relative (tests/ref/test_attattr_ref.py shows a float32
run of the reference within a tenth of this). /importance/normalized is the SPEC normalisation
(tokens, layer, global) of the reference's raw sums (1e-4: float32, min-max stretched).

Cases: gold target on every family; --attr-target pred (on examples whose prediction is not
the gold label: the two maps differ, and must be the pred one's); a BERT regression head on an
STS-B-format file (F = the output); a head mask with zeroed heads and a pruned model (those
heads' maps and scores exactly 0). np=1 vs np=2: /importance/raw, /examples/attr_max,
/attribution/* bitwise. Refused with one line and exit 2: --save-attributions without
--method attattr, --method attattr --granularity token, --method attattr on an LM-head model.
"""
import json
import os
import shutil

import h5py
import numpy as np
import pytest

import make_checkpoint_family
import reference
import torch_attattr as ta
from bttest import (OPENAI_GPT_VOCAB, SST2, bertology, example_ids, models, refused, text_file,
                    tsv_column)

L, H, D = 2, 4, 32
STEPS, SUBSET, MAXLEN = 4, 6, 32
COMMON = ["--method", "attattr", "--steps", STEPS, "--save-attributions", "--dtype", "f32", "--max-seq-length",
          MAXLEN, "--batch-tokens", 100, "--threads", 1, "--quiet"]
PRUNED = {"0": [1, 2], "1": [3]}


def openai_gpt(path, **kw):
    """A random OpenAIGPTForSequenceClassification over the test openai-gpt vocabulary."""
    with open(os.path.join(OPENAI_GPT_VOCAB, "vocab.json"), encoding="utf-8") as f:
        n_vocab = max(json.load(f).values()) + 1
    make_checkpoint_family.make_checkpoint(path, "openai-gpt", layers=L, hidden=D, heads=H, vocab=n_vocab,
                                           max_pos=64, labels=2, seed=8, **kw)
    for fn in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(OPENAI_GPT_VOCAB, fn), path)
    return path


MAKERS = {
    "bert": lambda p: models.bert(p, layers=L, hidden=D, heads=H, seed=11),
    "roberta": lambda p: models.roberta(p, layers=L, hidden=D, heads=H, seed=12),
    "distilbert": lambda p: models.distilbert(p, layers=L, hidden=D, heads=H, seed=13),
    "gpt2": lambda p: models.gpt2(p, layers=L, hidden=D, heads=H, labels=2, seed=14),
    "openai-gpt": openai_gpt,
    "bert_reg": lambda p: models.bert(p, layers=L, hidden=D, heads=H, labels=1, seed=15),
    "bert_pruned": lambda p: models.bert(p, layers=L, hidden=D, heads=H, seed=11, pruned_heads=PRUNED),
    "gpt2_lm": lambda p: models.gpt2(p, layers=L, hidden=D, heads=H, seed=16),
}


@pytest.fixture(scope="module")
def model(work):
    made = {}

    def get(name):
        if name not in made:
            made[name] = MAKERS[name](os.path.join(work, "model_" + name))
        return made[name]
    return get


def run_attattr(work, name, model_dir, extra=(), task="sst-2", data=SST2, subset=SUBSET, np_=None):
    out = os.path.join(work, name)
    bertology(["importance", "--model", model_dir, "--task", task, "--data", data, "--subset", subset, "--out", out]
              + COMMON + list(extra), np=np_, quiet_mpi=np_ is not None, timeout=300)
    return os.path.join(out, "run.h5")


def bert_types(ids):
    """SPEC: 0 up to and including the first [SEP], 1 after."""
    first = ids.index(reference.sep_id())
    return [0] * (first + 1) + [1] * (len(ids) - first - 1)


class Run:
    """What run.h5 holds for attattr, read back."""

    def __init__(self, path):
        self.path = path
        self.ids = example_ids(path)
        with h5py.File(path, "r") as f:
            assert f.attrs["status"] == "complete"
            self.index = f["examples/index"][()]
            self.label = f["examples/label"][()]
            self.attr_max = f["examples/attr_max"][()]
            self.raw = f["importance/raw"][()]
            self.norm = f["importance/normalized"][()]
            self.n_tokens = int(f["importance"].attrs["n_tokens"])
            g = f["attribution"]
            self.sum, self.count = g["sum"][()], g["count"][()]
            # string attributes are lists of str (bt_store_write_strings); the steps a dataset
            self.attrs = {k: str(v[0]) if isinstance(v, np.ndarray) and v.size == 1 else v for k, v in g.attrs.items()}
            self.steps = int(g["steps"][()]) if "steps" in g else -1
            self.data = g["data"][()] if "data" in g else None
            self.offset = g["offset"][()] if "offset" in g else None
        self.n = len(self.ids)

    def map(self, i):
        T = len(self.ids[i])
        return self.data[self.offset[i]:self.offset[i] + L * H * T * T].reshape(L, H, T, T)


def normalize(raw, n_tokens):
    """SPEC 'Importance' normalisation: tokens, per layer L2, global min-max."""
    imp = raw / n_tokens
    imp = imp / (np.sqrt((imp ** 2).sum(-1, keepdims=True)) + 1e-20)
    return (imp - imp.min()) / (imp.max() - imp.min())


def compare(check, what, run, model_dir, target="gold", gates=None, zero=None):
    """run.h5 against torch_attattr on the stored ids and labels; zero: [L, H] bool of heads
    whose maps must be exactly 0. Returns the reference's result."""
    m = ta.load(model_dir)
    bert = isinstance(m, ta.torch_bert.Bert)
    types = [bert_types(s) for s in run.ids] if bert else None
    labels = [float(y) for y in run.label] if ta.is_regression(m) else [int(y) for y in run.label]
    ref = ta.run(m, run.ids, types, labels, gates, STEPS, target)
    check(run.n == SUBSET and list(run.index) == list(range(run.n)), "%s: /examples/index %s" % (what, run.index))
    check(run.data is not None and run.data.dtype == np.float32, "%s: /attribution/data float32 (--dtype f32)" % what)
    check(run.attr_max.dtype == np.float64 and run.attr_max.shape == (run.n, L, H), "%s: /examples/attr_max %s %s"
          % (what, run.attr_max.dtype, run.attr_max.shape))
    want_off = np.cumsum([0] + [L * H * len(s) ** 2 for s in run.ids])
    check(run.offset is not None and list(run.offset) == list(want_off[:-1]) and len(run.data) == want_off[-1],
          "%s: /attribution/offset %s, want %s" % (what, run.offset, want_off[:-1]))
    worst = {"map": 0.0, "max": 0.0}
    for i in range(run.n):
        e = ta.excess(run.map(i), ref["attr"][i])
        worst["map"] = max(worst["map"], e)
        check(e <= 1, "%s example %d (T=%d): attribution map off by %.3g of the tolerance" % (what, i, len(run.ids[i]), e))
        e = ta.excess(run.attr_max[i], ref["max"][i])
        worst["max"] = max(worst["max"], e)
        check(e <= 1, "%s example %d: attr_max %s, reference %s" % (what, i, run.attr_max[i], ref["max"][i]))
    e_raw = ta.excess(run.raw, ref["raw"])
    check(e_raw <= 1, "%s: /importance/raw %s, reference %s" % (what, run.raw, ref["raw"]))
    check(run.sum.tobytes() == run.raw.tobytes() and run.sum.dtype == np.float64,
          "%s: /attribution/sum != /importance/raw" % what)
    check(int(run.count) == run.n, "%s: /attribution/count %s, want %d" % (what, run.count, run.n))
    check(run.attrs.get("method") == "attattr" and run.steps == STEPS
          and run.attrs.get("target") == target, "%s: /attribution attributes %s, steps %d" % (what, run.attrs, run.steps))
    n_tok = sum(len(s) for s in run.ids)
    check(run.n_tokens == n_tok, "%s: /importance n_tokens %d, want %d" % (what, run.n_tokens, n_tok))
    check.close(what + " /importance/normalized", run.norm, normalize(ref["raw"], n_tok), 1e-4)
    if zero is not None and zero.any():
        for i in range(run.n):
            check((run.map(i)[zero] == 0).all() and (run.attr_max[i][zero] == 0).all(),
                  "%s example %d: heads %s gated or pruned away have attribution != 0" % (what, i, np.argwhere(zero)))
        check((run.raw[zero] == 0).all(), "%s: /importance/raw of removed heads %s" % (what, run.raw[zero]))
    live = np.ones((L, H), bool) if zero is None else ~zero
    check(all(np.abs(run.map(i)[live]).reshape(int(live.sum()), -1).max(-1).min() > 0 for i in range(run.n)),
          "%s: a live head has an all-zero map (the comparison would not see it)" % what)
    print("%-16s %d examples, worst of the tolerance: maps %.2f, attr_max %.2f, raw %.2f"
          % (what, run.n, worst["map"], worst["max"], e_raw))
    return ref


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert", "gpt2", "openai-gpt"])
def test_gold(family, work, model, check, blas_one_thread):
    """every family, target the gold label; labels = the TSV's"""
    run = Run(run_attattr(work, family + "_gold", model(family)))
    want = [int(y) for y in tsv_column(os.path.join(SST2, "dev.tsv"), 1)]
    check([int(y) for y in run.label] == [want[i] for i in run.index], "%s: labels differ from the TSV" % family)
    compare(check, family + " gold", run, model(family))


def test_pred(work, model, check, blas_one_thread):
    """--attr-target pred: the class the model predicts, which differs from gold somewhere"""
    m = model("gpt2")
    run = Run(run_attattr(work, "gpt2_pred", m, ["--attr-target", "pred"]))
    ref = compare(check, "gpt2 pred", run, m, target="pred")
    differ = [i for i in range(run.n) if ref["target"][i] != int(run.label[i])]
    assert differ, "the test needs an example the model gets wrong (predicted %s, gold %s)" % (ref["target"], run.label)
    gold = ta.run(ta.load(m), [run.ids[i] for i in differ], labels=[int(run.label[i]) for i in differ], steps=STEPS)
    for k, i in enumerate(differ):
        check(ta.excess(gold["attr"][k], ref["attr"][i]) > 100,
              "example %d: the gold map is as close to the pred map as the tolerance (test cannot tell)" % i)


def test_regression(work, model, check, blas_one_thread):
    """a BERT regression head on STS-B-format pairs: F is the output itself"""
    sts = reference.sts_b_dev(os.path.join(work, "STS-B"), n=SUBSET)
    run = Run(run_attattr(work, "bert_reg", model("bert_reg"), task="sts-b", data=sts))
    check(run.label.dtype == np.float32, "regression labels are float32")
    compare(check, "bert regression", run, model("bert_reg"))


def test_head_mask(work, model, check, blas_one_thread):
    """--head-mask with zeroed heads: their maps and scores are exactly 0, the rest as masked"""
    mask = np.ones((L, H), np.float32)
    mask[0, 1] = mask[1, 0] = mask[1, 3] = 0
    path = os.path.join(work, "mask.npy")
    np.save(path, mask)
    for fam in ("bert", "gpt2"):
        run = Run(run_attattr(work, fam + "_masked", model(fam), ["--head-mask", path]))
        compare(check, fam + " head mask", run, model(fam), gates=mask.astype(np.float64), zero=mask == 0)


def test_pruned(work, model, check, blas_one_thread):
    """a pruned BERT: the pruned heads' maps and scores are exactly 0"""
    zero = np.zeros((L, H), bool)
    for k, hs in PRUNED.items():
        zero[int(k), hs] = True
    run = Run(run_attattr(work, "bert_pruned", model("bert_pruned")))
    compare(check, "bert pruned", run, model("bert_pruned"), zero=zero)


def test_ranks(work, model, check, blas_one_thread):
    """np=1 and np=2: /importance/raw, /examples/attr_max and /attribution bitwise identical"""
    m = model("bert")
    got = {}
    for n in (1, 2):
        path = run_attattr(work, "bert_np%d" % n, m, subset=9, np_=n)
        with h5py.File(path, "r") as f:
            got[n] = {k: f[k][()] for k in ("importance/raw", "importance/normalized", "examples/attr_max",
                                            "attribution/data", "attribution/offset", "attribution/sum",
                                            "attribution/count")}
    for k, v in got[1].items():
        w = got[2][k]
        check(v.dtype == w.dtype and v.shape == w.shape and v.tobytes() == w.tobytes(), "%s differs: np=1 vs np=2" % k)
    print("np=1 vs np=2 bitwise: %s" % ", ".join(sorted(got[1])))


def test_refused(work, model, check):
    """one line, exit 2, no run.h5: --save-attributions alone, --granularity token, an LM head"""
    base = ["importance", "--model", model("bert"), "--task", "sst-2", "--data", SST2, "--subset", 4, "--threads", 1,
            "--quiet"]
    refused(check, "save-attributions", base + ["--save-attributions", "--out", os.path.join(work, "r1")],
            os.path.join(work, "r1"), ["--save-attributions", "attattr"], np=2)
    refused(check, "granularity token", base + ["--method", "attattr", "--granularity", "token", "--out",
                                                os.path.join(work, "r2")],
            os.path.join(work, "r2"), ["attattr", "--granularity"], np=2)
    text = text_file(os.path.join(work, "lm.txt"), tsv_column(os.path.join(SST2, "dev.tsv"), 0, 4))
    msg = refused(check, "lm head", ["importance", "--model", model("gpt2_lm"), "--text", text, "--method", "attattr",
                                     "--max-seq-length", MAXLEN,
                                     "--threads", 1, "--quiet", "--out", os.path.join(work, "r3")],
                  os.path.join(work, "r3"), ["attattr"], np=2)
    check(any(w in msg.lower() for w in ("classif", "head", "language model", "regression")),
          "lm head: %r does not say the model lacks a classification head" % msg)
