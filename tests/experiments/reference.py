"""The reference of the experiment tests (eval, mask, ablate, prune).

It is tests/ref/torch_bert.py (an independent float64 BERT checked against numpy
and finite differences by tests/ref/test_reference.py) with sklearn/scipy metrics. The inputs
are the token ids bertology stored in run.h5: tokenisation is tested elsewhere, and taking the
ids from the file keeps these tests about the experiments. Token types follow SPEC: 0 up to
and including the first [SEP], 1 after.
"""
import os

import h5py
import numpy as np
import scipy.stats
import sklearn.metrics
import torch

import torch_bert
from bttest import BERT_VOCAB, GLUE, example_ids


def sep_id():
    with open(BERT_VOCAB) as f:
        return [line.rstrip("\n") for line in f].index("[SEP]")


def examples(run_h5):
    """(ids, types, label or target) of every example stored in run.h5, in data order."""
    sep = sep_id()
    with h5py.File(run_h5, "r") as f:
        lab = f["examples/label"][()]
    out = []
    for t, y in zip(example_ids(run_h5), lab):
        first = t.index(sep)
        out.append((t, [0] * (first + 1) + [1] * (len(t) - first - 1), y))
    return out


def metric(name, pred, gold):
    """HF's glue_compute_metrics, from sklearn and scipy."""
    if name == "acc":
        return float(sklearn.metrics.accuracy_score(gold, pred))
    if name == "mcc":
        return float(sklearn.metrics.matthews_corrcoef(gold, pred))
    if name == "f1":
        return float(sklearn.metrics.f1_score(gold, pred))
    if name == "acc_and_f1":
        return (metric("acc", pred, gold) + metric("f1", pred, gold)) / 2
    if name == "pearson":
        return float(scipy.stats.pearsonr(pred, gold)[0])
    if name == "spearmanr":
        return float(scipy.stats.spearmanr(pred, gold)[0])
    if name == "corr":
        return (metric("pearson", pred, gold) + metric("spearmanr", pred, gold)) / 2
    raise ValueError(name)


class Reference:
    """One padded float64 batch of every example; per-example gate gradients come from one gate
    tensor per sequence ([B, L, H]), so each row's gradient is that example's own."""

    def __init__(self, model_dir, exs):
        self.m = torch_bert.Bert(model_dir)
        self.L, self.H = self.m.L, self.m.H
        n, T = len(exs), max(len(e[0]) for e in exs)
        self.ids = torch.zeros((n, T), dtype=torch.long)
        self.types = torch.zeros((n, T), dtype=torch.long)
        self.mask = torch.zeros((n, T))
        for b, (ids, types, _) in enumerate(exs):
            self.ids[b, :len(ids)] = torch.tensor(ids)
            self.types[b, :len(ids)] = torch.tensor(types)
            self.mask[b, :len(ids)] = 1
        self.regression = self.m.head == torch_bert.HEAD_REGRESS
        gold = [e[2] for e in exs]
        self.gold = np.array(gold, dtype=np.float64 if self.regression else np.int64)
        self.labels = torch.tensor(self.gold)
        self.n_tokens = int(self.mask.sum())

    def run(self, gates, grad=True):
        """logits [n, C] and, with grad, per-example gate gradients [n, L, H] at gates [L, H]."""
        n = self.ids.shape[0]
        g = torch.tensor(np.asarray(gates, dtype=np.float64)).expand(n, self.L, self.H).clone()
        g.requires_grad_(grad)
        logits, _ = self.m.forward(self.ids, self.types, g, self.mask)
        if not grad:
            return logits.detach().numpy(), None
        self.m.loss(logits, self.labels).sum().backward()
        return logits.detach().numpy(), g.grad.numpy()

    def predictions(self, logits):
        return logits[:, 0] if self.regression else logits.argmax(1)

    def score(self, name, logits):
        return metric(name, self.predictions(logits), self.gold)

    def importance(self, grads):
        """SPEC 'Importance' at example granularity, with all three normalisations (HF's
        compute_heads_importance with --batch_size 1)."""
        imp = torch.tensor(np.abs(grads).sum(0)) / self.n_tokens
        imp = imp / (imp.pow(2).sum(-1, keepdim=True).pow(0.5) + 1e-20)
        return ((imp - imp.min()) / (imp.max() - imp.min())).numpy()


def sts_b_dev(path, n=60, constant=False):
    """An STS-B-format dev.tsv (10 columns, score last) made of RTE sentence pairs, scores
    drawn in [0, 5] (or all 2.5): the real STS-B is not among the test fixtures."""
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(5)
    with open(os.path.join(GLUE, "RTE", "dev.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:n + 1]
    with open(os.path.join(path, "dev.tsv"), "w") as f:
        f.write("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n")
        for i, r in enumerate(rows):
            s = 2.5 if constant else round(float(rng.uniform(0, 5)), 3)
            f.write("%d\tmain\trte\t2006\t%d\tnone\tnone\t%s\t%s\t%.3f\n" % (i, i, r[1], r[2], s))
    return path
