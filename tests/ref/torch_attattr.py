#!/usr/bin/python3
"""Independent float64 reference of self-attention attribution (Hao et al., AAAI 2021), the
head score of `bertology importance --method attattr`, on the torch models of tests/ref
(torch_bert.py, torch_families.py, torch_gpt2.py): no transformers, no code of bertology.

For an example x, target class c and layer l: A = layer l's gated attention probabilities
[H, T, T] at the run's head mask xi, F_c(X) = softmax(logits)[c] with layer l's probabilities
set to X (every other layer at xi), for a regression model (one output) the output itself;
G(X) = dF_c/dX, the gradient with respect to the probabilities layer l uses, at X (no chain
factor alpha). Then

    Attr_l = A (.) (1/m) sum_{k=1..m} G((k/m) A)        (right Riemann sum, m steps)

computed as m forwards with gates (k/m) xi[l] on layer l, xi elsewhere (HF: head_mask value
alpha on every head of layer l), one backward of F_c each, G read off the gated probabilities
(retain_grad). The per-example head score is max_ij Attr_l[h, i, j] (over the whole T x T map,
so the zeros a causal mask leaves count); the run's raw importance is its sum over examples.
Heads pruned away or gated to 0 have A = 0: their map and score are 0.

target: "gold" (the label; regression: ignored) or "pred", the argmax of the logits of the
model at the run's head mask (the model the run evaluates).

As a command, the twin of `bertology importance --method attattr` on explicit token ids:
    torch_attattr.py --model DIR --ids FILE [--types FILE] [--labels FILE] [--gates G.npy]
                     [--steps M] [--target gold|pred] --out OUTDIR
writing attr_max.npy [n, L, H], raw.npy [L, H] (sum over examples) and attr_<b>.npy
[L, H, T, T] (float64).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

import torch_bert
import torch_families


def load(model_dir, dtype=torch.float64):
    """The reference model of a directory: torch_bert.Bert for BERT, else torch_families.load."""
    with open(os.path.join(model_dir, "config.json")) as f:
        mt = json.load(f).get("model_type", "bert")
    return torch_bert.Bert(model_dir, dtype) if mt == "bert" else torch_families.load(model_dir, dtype)


def is_regression(model):
    return model.head == torch_families.HEAD_REGRESS


def check_head(model):
    if model.head not in (torch_families.HEAD_CLASSIFY, torch_families.HEAD_REGRESS):
        raise ValueError("attattr needs a sequence classification or regression head (model head %r)"
                         % model.head)


class Example:
    """One sequence alone, unpadded, at the run's head mask xi [L, H] (original head ids)."""

    def __init__(self, model, ids, types=None, gates=None):
        check_head(model)
        self.m = model
        self.T = len(ids)
        self.ids = torch.tensor([list(ids)], dtype=torch.long)
        self.types = torch.tensor([list(types) if types is not None else [0] * self.T], dtype=torch.long)
        self.xi = np.ones((model.L, model.H)) if gates is None else np.asarray(gates, dtype=np.float64)

    def forward(self, gates):
        """(output [C], rec) at gates [L, H] (a tensor)."""
        if isinstance(self.m, torch_bert.Bert):
            out, rec = self.m.forward(self.ids, self.types, gates, record="probs")
        else:
            out, rec = self.m.forward(self.ids, self.types, gates)
        return out[0], rec

    def objective(self, out, c):
        """F_c: the softmax probability of class c, or the regression output."""
        if is_regression(self.m):
            return out[0]
        return torch.softmax(out, -1)[c]

    def logits(self):
        with torch.no_grad():
            return self.forward(torch.tensor(self.xi, dtype=self.m.dtype))[0].numpy().copy()

    def target(self, label, target="gold"):
        if is_regression(self.m):
            return 0
        if target == "pred":
            return int(np.argmax(self.logits()))
        if target != "gold":
            raise ValueError("target %r: gold or pred" % target)
        return int(label)

    def gates(self, l, alpha):
        g = self.xi.copy()
        g[l] = alpha * self.xi[l]
        return g

    def probs(self, l, gates=None):
        """Layer l's gated probabilities [H, T, T] (zeros for pruned heads) at gates (default xi)."""
        with torch.no_grad():
            _, rec = self.forward(torch.tensor(self.xi if gates is None else gates, dtype=self.m.dtype))
        return self.full(l, rec["probs"][l][0])

    def full(self, l, t):
        """[Hl, T, T] of the present heads -> [H, T, T] by original head id."""
        a = np.zeros((self.m.H, self.T, self.T))
        a[self.m.present[l]] = t.detach().numpy()
        return a

    def value(self, gates, c, hook=None):
        """F_c at gates [L, H] (numpy), with m.probs_hook = hook during the forward."""
        self.m.probs_hook = hook
        try:
            with torch.no_grad():
                return float(self.objective(self.forward(torch.tensor(gates, dtype=self.m.dtype))[0], c))
        finally:
            self.m.probs_hook = None

    def grad(self, gates, l, c):
        """(F_c, G [H, T, T] = dF_c / d(layer l's gated probabilities), dF_c/dgates [L, H]) at
        gates [L, H]."""
        g = torch.tensor(gates, dtype=self.m.dtype, requires_grad=True)
        out, rec = self.forward(g)
        p = rec["probs"][l]
        p.retain_grad()
        f = self.objective(out, c)
        f.backward()
        G = p.grad[0] if p.grad is not None else torch.zeros_like(p[0])
        return float(f), self.full(l, G), g.grad.numpy().copy()

    def attribution(self, l, c, steps):
        """Attr_l [H, T, T] with m = steps."""
        G = np.zeros((self.m.H, self.T, self.T))
        for k in range(1, steps + 1):
            G += self.grad(self.gates(l, k / steps), l, c)[1]
        return self.probs(l) * (G / steps)


def example(model, ids, types=None, label=None, gates=None, steps=20, target="gold"):
    """One example: {"attr": [L, H, T, T], "max": [L, H], "target": c} (float64)."""
    ex = Example(model, ids, types, gates)
    c = ex.target(label, target)
    attr = np.stack([ex.attribution(l, c, steps) for l in range(model.L)])
    return {"attr": attr, "max": attr.reshape(model.L, model.H, -1).max(-1), "target": c}


def run(model, seqs, types=None, labels=None, gates=None, steps=20, target="gold"):
    """Every sequence alone: {"attr": [per example [L, H, T, T]], "max": [n, L, H], "raw": [L, H]
    (sum of max over examples), "target": [n]}."""
    outs = [example(model, s, None if types is None else types[b], None if labels is None else labels[b], gates,
                    steps, target) for b, s in enumerate(seqs)]
    mx = np.stack([o["max"] for o in outs])
    return {"attr": [o["attr"] for o in outs], "max": mx, "raw": mx.sum(0),
            "target": np.array([o["target"] for o in outs])}


# How bertology's float32 maps are compared with this float64 reference (tests/experiments/
# test_attattr.py; tests/ref/test_attattr_ref.py checks that float32 arithmetic meets it):
# |got - want| <= RTOL * (|want| + scale), scale = max |want| over the example's whole map
# [L, H, T, T] (or its [L, H] maxima). The absolute floor RTOL * scale is there because float32
# leaves errors of a few 1e-7 of the map's scale on every entry, which exceed 1e-5 of a small
# entry (float32 torch vs float64: up to ~3e-6 of the scale, up to 2e-4 relative on entries
# above 1e-3 of it); entries of the order of the scale are held to 1e-5 relative.
RTOL = 1e-5


def excess(got, want, rtol=RTOL, scale=None):
    """max over entries of |got - want| / (rtol * (|want| + scale)): <= 1 passes; inf when the
    shapes differ. scale: default max |want|."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    if want.size == 0:
        return 0.0
    if scale is None:
        scale = float(np.abs(want).max())
    tol = rtol * (np.abs(want) + scale)
    d = np.abs(got - want)
    if not np.isfinite(got).all():
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(d == 0, 0.0, d / tol)
    return float(r.max())


def main(argv=None):
    ap = argparse.ArgumentParser(description="reference twin of `bertology importance --method attattr`")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--types")
    ap.add_argument("--labels")
    ap.add_argument("--gates")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--target", choices=("gold", "pred"), default="gold")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    m = load(a.model)
    seqs = torch_bert.read_int_lines(a.ids)
    types = torch_bert.read_int_lines(a.types) if a.types else None
    labels = torch_bert.read_labels(a.labels, is_regression(m)) if a.labels else None
    if labels is None and a.target == "gold" and not is_regression(m):
        ap.error("--target gold needs --labels")
    gates = np.load(a.gates).astype(np.float64) if a.gates else None
    r = run(m, seqs, types, labels, gates, a.steps, a.target)
    os.makedirs(a.out, exist_ok=True)
    np.save(os.path.join(a.out, "attr_max.npy"), r["max"])
    np.save(os.path.join(a.out, "raw.npy"), r["raw"])
    for b, at in enumerate(r["attr"]):
        np.save(os.path.join(a.out, "attr_%d.npy" % b), at)
    return 0


if __name__ == "__main__":
    sys.exit(main())
