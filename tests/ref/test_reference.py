"""Checks the reference itself before it is trusted to judge the C engine.

- safetensors_np: F16/BF16 storage matches numpy's and torch's own conversions; shards and
  a single file hold the same values.
- torch_bert forward against an independent numpy/scipy BERT written loop-per-head from the
  Hugging Face formulas (scipy's erf, softmax, entr, logsumexp), float64, to 1e-10.
- gate gradient: autograd == SPEC's sum_t <dL/d(xi ctx)_t, ctx_t> == central finite
  differences of the float64 loss.
- SPEC "Pruning": a pruned model computes what the masked model computes.
- entropy of a gated head, by hand: H(c p) = c H(p) - T c log c for a head gated by c.
"""
import math
import os
import tempfile
import unittest

import numpy as np
import scipy.special as sp
import torch

import make_checkpoint
import safetensors_np
import torch_bert

torch.set_num_threads(1)
TMP = tempfile.TemporaryDirectory(prefix="bt_ref_")


def ckpt(name, **kw):
    d = os.path.join(TMP.name, name)
    if not os.path.exists(os.path.join(d, "config.json")):
        make_checkpoint.make_checkpoint(d, **kw)
    return d


def numpy_bert(model_dir, ids, types, gates, label=None):
    """Second, deliberately different implementation: numpy, one head at a time."""
    m = torch_bert.Bert(model_dir)  # only for config / present heads bookkeeping
    W, _ = safetensors_np.read_dir(model_dir)
    pre = "bert." if "bert.embeddings.word_embeddings.weight" in W else ""
    c = m.cfg
    eps, dh = c["layer_norm_eps"], m.dh
    act = {"gelu": lambda x: x * 0.5 * (1 + sp.erf(x / np.sqrt(2))),
           "gelu_new": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi)
                                                        * (x + 0.044715 * x ** 3))),
           "relu": lambda x: np.maximum(x, 0)}[c["hidden_act"]]

    def ln(x, name):
        z = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
        return z * W[name + ".weight"] + W[name + ".bias"]

    def dense(x, name):
        return x @ W[name + ".weight"].T + W[name + ".bias"]

    T = len(ids)
    e = pre + "embeddings."
    x = (W[e + "word_embeddings.weight"][ids] + W[e + "position_embeddings.weight"][:T]
         + W[e + "token_type_embeddings.weight"][types])
    x = ln(x, e + "LayerNorm")
    hidden, attn = [x], np.zeros((m.L, m.H, T, T))
    for l in range(m.L):
        p = "%sencoder.layer.%d." % (pre, l)
        q, k, v = (dense(x, p + "attention.self." + n) for n in ("query", "key", "value"))
        ctx = np.zeros((T, q.shape[1]))
        for j, h in enumerate(m.present[l]):
            s = slice(j * dh, (j + 1) * dh)
            a = sp.softmax(q[:, s] @ k[:, s].T / np.sqrt(dh), axis=1) * gates[l, h]
            attn[l, h] = a
            ctx[:, s] = a @ v[:, s]
        x = ln(dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(dense(act(dense(x, p + "intermediate.dense")), p + "output.dense") + x,
               p + "output.LayerNorm")
        hidden.append(x)
    r = {"hidden": np.stack(hidden), "attn": attn,
         "entropy": sp.entr(attn).sum(axis=(2, 3))}
    if m.head != torch_bert.HEAD_NONE:
        logits = dense(np.tanh(dense(x[:1], pre + "pooler.dense")), "classifier")[0]
        r["logits"] = logits
        if label is not None:
            r["loss"] = ((logits[0] - label) ** 2 if m.C == 1
                         else sp.logsumexp(logits) - logits[label])
    return r


def rand_case(m, T, seed):
    rng = np.random.default_rng(seed)
    V = m.cfg["vocab_size"]
    ids = [0, V - 1] + list(rng.integers(0, V, T))
    ids = ids[:T]
    types = list(rng.integers(0, 2, T))
    gates = rng.uniform(0, 1, (m.L, m.H))
    gates[0, 0], gates[-1, -1] = 0.0, 1.0
    label = float(rng.normal()) if m.C == 1 else int(rng.integers(0, max(m.C, 1)))
    return ids, types, gates, label


def relerr(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


CONFIGS = {
    "base": dict(layers=3, hidden=64, heads=4, labels=2),
    "three": dict(layers=2, hidden=48, heads=3, labels=3, eps=1e-3),
    "regress": dict(layers=2, hidden=32, heads=2, labels=1),
    "gelu_new": dict(layers=2, hidden=32, heads=4, act="gelu_new", dtype="F16"),
    "relu": dict(layers=2, hidden=32, heads=4, act="relu", dtype="BF16"),
    "nohead": dict(layers=2, hidden=32, heads=2, no_head=True),
    "pruned": dict(layers=3, hidden=32, heads=4, pruned_heads={"0": [1], "1": [0, 1, 2, 3]}),
}


class TestStorage(unittest.TestCase):
    def test_half_formats_match_numpy_and_torch(self):
        x = np.random.default_rng(0).standard_normal(4096).astype(np.float32) * 3
        x[:4] = [0.0, -0.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8]  # BF16 ties: to even
        bf = safetensors_np.decode(safetensors_np.encode(x, "BF16").tobytes(), "BF16", x.shape)
        want = torch.tensor(x).to(torch.bfloat16).to(torch.float64).numpy()
        np.testing.assert_array_equal(bf, want)
        f16 = safetensors_np.decode(safetensors_np.encode(x, "F16").tobytes(), "F16", x.shape)
        np.testing.assert_array_equal(f16, x.astype(np.float16).astype(np.float64))

    def test_shards_hold_the_same_values(self):
        one, _ = safetensors_np.read_dir(ckpt("s1", layers=2, hidden=32, heads=2, seed=5))
        three, _ = safetensors_np.read_dir(ckpt("s3", layers=2, hidden=32, heads=2, seed=5,
                                                shards=3))
        self.assertEqual(sorted(one), sorted(three))
        for k in one:
            np.testing.assert_array_equal(one[k], three[k])

    def test_weights_are_not_tame(self):
        W, _ = safetensors_np.read_dir(ckpt("base", **CONFIGS["base"]))
        q = W["bert.encoder.layer.0.attention.self.query.weight"]
        self.assertTrue(0.1 <= q.std() <= 0.3, q.std())
        self.assertGreater(np.abs(W["bert.encoder.layer.0.attention.self.query.bias"]).min(), 0)
        g = W["bert.encoder.layer.1.output.LayerNorm.weight"]
        self.assertTrue(0.8 <= g.min() and g.max() <= 1.2 and g.std() > 0.05)


class TestReference(unittest.TestCase):
    def test_forward_matches_numpy_implementation(self):
        for name, kw in CONFIGS.items():
            d = ckpt(name, **kw)
            m = torch_bert.Bert(d)
            for T in (1, 7, 32):
                ids, types, gates, label = rand_case(m, T, T)
                lab = None if m.head == torch_bert.HEAD_NONE else label
                r = m.example(ids, types, gates, lab)
                n = numpy_bert(d, ids, types, gates, lab)
                for k in n:
                    with self.subTest(config=name, T=T, tensor=k):
                        self.assertLess(relerr(np.asarray(r[k]), np.asarray(n[k])), 1e-10)

    def test_gate_gradient_three_ways(self):
        for name in ("base", "regress", "pruned", "relu"):
            m = torch_bert.Bert(ckpt(name, **CONFIGS[name]))
            ids, types, gates, label = rand_case(m, 9, 1)
            r = m.example(ids, types, gates, label)
            g = r["gate_grad"]
            scale = np.abs(g).max()
            self.assertGreater(scale, 1e-3)
            with self.subTest(config=name, check="ctx formula"):
                self.assertLess(np.abs(r["gate_grad_ctx"] - g).max(), 1e-12 * max(scale, 1))
            # Central differences in float64: truncation ~eps^2, rounding ~1e-16/eps.
            eps, fd = 1e-5, np.zeros_like(g)
            for l in range(m.L):
                for h in range(m.H):
                    gp, gm = gates.copy(), gates.copy()
                    gp[l, h] += eps
                    gm[l, h] -= eps
                    fd[l, h] = (m.example(ids, types, gp, label)["loss"]
                                - m.example(ids, types, gm, label)["loss"]) / (2 * eps)
            with self.subTest(config=name, check="finite differences"):
                self.assertLess(np.abs(fd - g).max(), 1e-7 * scale)
            with self.subTest(config=name, check="token >= |example|"):
                self.assertTrue(np.all(r["gate_grad_tok"] >= np.abs(g) - 1e-12))
            for l, hs in enumerate(m.present):
                absent = [h for h in range(m.H) if h not in hs]
                self.assertTrue(np.all(g[l, absent] == 0) and np.all(r["entropy"][l, absent] == 0))

    def test_length_one_token_sum_equals_example(self):
        m = torch_bert.Bert(ckpt("base", **CONFIGS["base"]))
        r = m.example([5], [0], np.full((m.L, m.H), 0.7), 1)
        np.testing.assert_allclose(r["gate_grad_tok"], np.abs(r["gate_grad"]), rtol=1e-12)
        np.testing.assert_allclose(r["entropy"], np.full((m.L, m.H), -0.7 * math.log(0.7)),
                                   rtol=1e-12)  # p = 0.7 on the single key

    def test_pruned_equals_masked(self):
        pk = CONFIGS["pruned"]
        full = torch_bert.Bert(ckpt("pruned_full", **{k: v for k, v in pk.items()
                                                        if k != "pruned_heads"}))
        pruned = torch_bert.Bert(ckpt("pruned", **pk))
        ids, types, gates, label = rand_case(full, 11, 3)
        masked, keep = gates.copy(), np.ones(gates.shape, dtype=bool)
        for l, hs in pk["pruned_heads"].items():
            masked[int(l), hs] = 0.0
            keep[int(l), hs] = False
        a = full.example(ids, types, masked, label)
        b = pruned.example(ids, types, gates, label)
        for k in ("logits", "hidden", "attn", "entropy", "loss"):
            with self.subTest(tensor=k):
                self.assertLess(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k]))), 1e-12)
        np.testing.assert_allclose(a["gate_grad"][keep], b["gate_grad"][keep], atol=1e-12)
        self.assertTrue(np.all(b["gate_grad"][~keep] == 0))
        self.assertTrue(np.any(a["gate_grad"][~keep] != 0))  # masked heads keep a gradient

    def test_entropy_of_gated_head_by_hand(self):
        m = torch_bert.Bert(ckpt("base", **CONFIGS["base"]))
        ids, types, _, _ = rand_case(m, 13, 4)
        one = m.example(ids, types, np.ones((m.L, m.H)))["entropy"][0]
        c = np.array([0.0, 0.25, 0.5, 1.0])
        gates = np.ones((m.L, m.H))
        gates[0] = c
        got = m.example(ids, types, gates)["entropy"][0]
        want = c * one - 13 * sp.xlogy(c, c)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        self.assertTrue(np.all(one <= 13 * math.log(13) + 1e-12))

    def test_bert_base_sized_checkpoint_config(self):
        o = make_checkpoint.options(out="x", bert_base=True)
        specs = make_checkpoint.tensor_specs(o)
        n = sum(int(np.prod(s)) for _, s, _ in specs)
        # bert-base-uncased with a 2-label head: 109,483,778 parameters (HF's num_parameters).
        self.assertEqual(n, 109483778)
