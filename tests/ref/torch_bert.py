#!/usr/bin/python3
"""Independent reference BERT in PyTorch (no transformers), with per-head gates.

Mirrors Hugging Face's BertForSequenceClassification / BertModel in eval mode: post-LayerNorm
encoder, gate xi[l,h] multiplying each head's attention probabilities (HF:
attention_probs * head_mask), pooler tanh(W h[CLS] + b), linear classifier. Weights are taken
exactly as stored (F32/F16/BF16 decoded by safetensors_np) and, for the reference, computed in
float64, each sequence alone and unpadded. The same module runs batched and padded in float32
for the speed baseline (bench_torch.py).

As a command it is a drop-in twin of `bertology forward`:
    torch_bert.py --model DIR --ids FILE [--types FILE] [--labels FILE] [--gates G.npy]
                  [--attentions] [--hidden] --out OUTDIR
writing logits.npy, loss.npy, gate_grad.npy, gate_grad_tok.npy, entropy.npy, attn_<b>.npy,
hidden_<b>.npy with the same shapes (float64 here).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_np

HEAD_NONE, HEAD_CLASSIFY, HEAD_REGRESS = "none", "classify", "regress"


def _act(name):
    if name == "gelu":
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        c = math.sqrt(2.0 / math.pi)
        return lambda x: 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * x * x * x)))
    if name == "relu":
        return torch.relu
    raise ValueError("hidden_act %r not supported by the reference" % name)


class Bert:
    # probs_hook(l, gated) -> tensor: when set, layer l uses (and records) what it returns in
    # place of its gated probabilities [B, Hl, T, T] (torch_attattr.py's finite differences)
    probs_hook = None

    def __init__(self, model_dir, dtype=torch.float64):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        self.cfg = c
        self.dtype = dtype
        self.L = c["num_hidden_layers"]
        self.D = c["hidden_size"]
        self.H = c["num_attention_heads"]
        self.dh = self.D // self.H
        self.eps = c.get("layer_norm_eps", 1e-12)
        self.act = _act(c.get("hidden_act", "gelu"))
        pruned = {int(k): set(int(h) for h in v) for k, v in (c.get("pruned_heads") or {}).items()}
        # HF keeps the remaining heads in ascending original order after pruning.
        self.present = [[h for h in range(self.H) if h not in pruned.get(l, ())]
                        for l in range(self.L)]

        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        arrays, self.stored_dtypes = safetensors_np.read_dir(model_dir, np_dtype)
        pre = "bert." if "bert.embeddings.word_embeddings.weight" in arrays else ""
        archs = c.get("architectures") or []
        has_cls = "classifier.weight" in arrays and "BertModel" not in archs
        if has_cls:
            self.C = c.get("num_labels", len(c.get("id2label", {})) or 2)
            self.head = HEAD_REGRESS if self.C == 1 else HEAD_CLASSIFY
        else:
            self.C, self.head = 0, HEAD_NONE

        def t(name, shape):
            a = arrays[name]
            if tuple(a.shape) != tuple(shape):
                raise ValueError("%s: shape %s, expected %s" % (name, a.shape, shape))
            return torch.from_numpy(a).to(dtype)

        D, F_ = self.D, c["intermediate_size"]
        e = pre + "embeddings."
        self.wte = t(e + "word_embeddings.weight", (c["vocab_size"], D))
        self.wpe = t(e + "position_embeddings.weight", (c["max_position_embeddings"], D))
        self.wtt = t(e + "token_type_embeddings.weight", (c.get("type_vocab_size", 2), D))
        self.emb_ln = (t(e + "LayerNorm.weight", (D,)), t(e + "LayerNorm.bias", (D,)))
        self.layers = []
        for l in range(self.L):
            p = "%sencoder.layer.%d." % (pre, l)
            Dl = len(self.present[l]) * self.dh
            lw = {}
            for k in ("query", "key", "value"):
                lw[k] = (t(p + "attention.self.%s.weight" % k, (Dl, D)),
                         t(p + "attention.self.%s.bias" % k, (Dl,)))
            lw["o"] = (t(p + "attention.output.dense.weight", (D, Dl)),
                       t(p + "attention.output.dense.bias", (D,)))
            lw["ln1"] = (t(p + "attention.output.LayerNorm.weight", (D,)),
                         t(p + "attention.output.LayerNorm.bias", (D,)))
            lw["ff1"] = (t(p + "intermediate.dense.weight", (F_, D)),
                         t(p + "intermediate.dense.bias", (F_,)))
            lw["ff2"] = (t(p + "output.dense.weight", (D, F_)), t(p + "output.dense.bias", (D,)))
            lw["ln2"] = (t(p + "output.LayerNorm.weight", (D,)),
                         t(p + "output.LayerNorm.bias", (D,)))
            self.layers.append(lw)
        if has_cls:
            self.pool = (t(pre + "pooler.dense.weight", (D, D)), t(pre + "pooler.dense.bias", (D,)))
            self.cls = (t("classifier.weight", (self.C, D)), t("classifier.bias", (self.C,)))

    def parameters(self):
        ps = [self.wte, self.wpe, self.wtt, *self.emb_ln]
        for lw in self.layers:
            for pair in lw.values():
                ps.extend(pair)
        if self.head != HEAD_NONE:
            ps.extend([*self.pool, *self.cls])
        return ps

    def _ln(self, x, wb):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased, as torch.nn.LayerNorm
        return (x - mu) / torch.sqrt(var + self.eps) * wb[0] + wb[1]

    def forward(self, ids, types, gates, mask=None, record=False):
        """ids, types: [B, T] long; gates: [L, H] (original head ids), or [B, L, H] for a gate
        per sequence (its gradient is then every sequence's own); mask: [B, T] 1 = real token,
        or None for unpadded. record: False, "probs" (keep the gated probabilities), or True
        (also what the token-level gradient needs)."""
        B, T = ids.shape
        pos = torch.arange(T)
        x = self.wte[ids] + self.wpe[pos][None] + self.wtt[types]
        x = self._ln(x, self.emb_ln)
        rec = {"hidden": [x], "probs": [], "out": [], "ctx": []}
        bias = None
        if mask is not None:
            bias = (1.0 - mask.to(x.dtype))[:, None, None, :] * torch.finfo(x.dtype).min
        for l, lw in enumerate(self.layers):
            Hl = len(self.present[l])

            def heads(wb):
                return F.linear(x, *wb).view(B, T, Hl, self.dh).transpose(1, 2)

            q, k, v = heads(lw["query"]), heads(lw["key"]), heads(lw["value"])
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
            if bias is not None:
                scores = scores + bias
            probs = torch.softmax(scores, dim=-1)
            if gates.dim() == 3:
                xi = gates[:, l, self.present[l]].view(B, Hl, 1, 1)
            else:
                xi = gates[l, self.present[l]].view(1, Hl, 1, 1)
            gated = probs * xi
            if self.probs_hook is not None:  # tests/ref/torch_attattr.py: see or replace them
                gated = self.probs_hook(l, gated)
            out = gated @ v  # = xi * ctx
            if record:
                rec["probs"].append(gated)
            if record is True:
                if out.requires_grad:
                    out.retain_grad()
                rec["out"].append(out)
                rec["ctx"].append((probs @ v).detach())
            a = F.linear(out.transpose(1, 2).reshape(B, T, Hl * self.dh), *lw["o"])
            x = self._ln(a + x, lw["ln1"])
            h = self.act(F.linear(x, *lw["ff1"]))
            x = self._ln(F.linear(h, *lw["ff2"]) + x, lw["ln2"])
            rec["hidden"].append(x)
        logits = None
        if self.head != HEAD_NONE:
            pooled = torch.tanh(F.linear(x[:, 0], *self.pool))
            logits = F.linear(pooled, *self.cls)
        return logits, rec

    def loss(self, logits, labels):
        """Per-example loss [B]: cross-entropy of the gold label, or squared error."""
        if self.head == HEAD_REGRESS:
            return (logits[:, 0] - labels.to(logits.dtype)) ** 2
        return torch.logsumexp(logits, dim=-1) - logits.gather(1, labels.view(-1, 1))[:, 0]

    def example(self, ids, types=None, gates=None, label=None):
        """One sequence alone, unpadded. Returns float64 numpy arrays: logits [C], loss,
        gate_grad [L,H], gate_grad_tok [L,H], gate_grad_ctx [L,H] (= sum_t <dL/d(xi ctx)_t,
        ctx_t>, the SPEC formula, which must equal the autograd gate_grad), hidden [L+1,T,D],
        attn [L,H,T,T], entropy [L,H]."""
        T = len(ids)
        ids_t = torch.tensor([ids], dtype=torch.long)
        types_t = torch.tensor([types if types is not None else [0] * T], dtype=torch.long)
        g = np.ones((self.L, self.H)) if gates is None else np.asarray(gates, dtype=np.float64)
        gates_t = torch.tensor(g, dtype=self.dtype, requires_grad=label is not None)
        logits, rec = self.forward(ids_t, types_t, gates_t, record=True)
        r = {"hidden": torch.stack(rec["hidden"])[:, 0].detach().numpy()}
        L, H = self.L, self.H
        attn = np.zeros((L, H, T, T))
        ent = np.zeros((L, H))
        for l in range(L):
            p = rec["probs"][l][0].detach()
            attn[l, self.present[l]] = p.numpy()
            ent[l, self.present[l]] = (-torch.xlogy(p, p).sum(-1).sum(-1)).numpy()  # 0 log 0 = 0
        r["attn"], r["entropy"] = attn, ent
        if logits is not None:
            r["logits"] = logits[0].detach().numpy()
        if label is not None and logits is not None:
            lab = torch.tensor([label], dtype=torch.long if self.head == HEAD_CLASSIFY
                               else self.dtype)
            loss = self.loss(logits, lab)[0]
            loss.backward()
            r["loss"] = float(loss)
            r["gate_grad"] = gates_t.grad.numpy().copy()
            tok, ctxsum = np.zeros((L, H)), np.zeros((L, H))
            for l in range(L):
                dot = (rec["out"][l].grad[0] * rec["ctx"][l][0]).sum(-1)  # [Hl, T]
                tok[l, self.present[l]] = dot.abs().sum(-1).numpy()
                ctxsum[l, self.present[l]] = dot.sum(-1).numpy()
            r["gate_grad_tok"], r["gate_grad_ctx"] = tok, ctxsum
        return r


def run(model, seqs, types=None, labels=None, gates=None):
    """Every sequence alone; returns the arrays `bertology forward` writes (float64)."""
    outs = [model.example(s, None if types is None else types[b], gates,
                          None if labels is None else labels[b]) for b, s in enumerate(seqs)]
    r = {"attn": [o["attn"] for o in outs], "hidden": [o["hidden"] for o in outs],
         "entropy": np.stack([o["entropy"] for o in outs])}
    if model.head != HEAD_NONE:
        r["logits"] = np.stack([o["logits"] for o in outs])
    if labels is not None and model.head != HEAD_NONE:
        for k in ("loss", "gate_grad", "gate_grad_tok", "gate_grad_ctx"):
            r[k] = np.array([o[k] for o in outs])
    return r


def read_int_lines(path):
    with open(path) as f:
        return [[int(t) for t in line.split()] for line in f if line.strip()]


def read_labels(path, regression):
    with open(path) as f:
        vals = [line.strip() for line in f if line.strip()]
    return [float(v) for v in vals] if regression else [int(v) for v in vals]


def main(argv=None):
    ap = argparse.ArgumentParser(description="reference twin of `bertology forward`")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--types")
    ap.add_argument("--labels")
    ap.add_argument("--gates")
    ap.add_argument("--attentions", action="store_true")
    ap.add_argument("--hidden", action="store_true")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    m = Bert(a.model)
    seqs = read_int_lines(a.ids)
    types = read_int_lines(a.types) if a.types else None
    labels = read_labels(a.labels, m.head == HEAD_REGRESS) if a.labels else None
    gates = np.load(a.gates).astype(np.float64) if a.gates else None
    r = run(m, seqs, types, labels, gates)
    os.makedirs(a.out, exist_ok=True)
    for k in ("logits", "loss", "gate_grad", "gate_grad_tok", "entropy"):
        if k in r:
            np.save(os.path.join(a.out, k + ".npy"), r[k])
    for b in range(len(seqs)):
        if a.attentions:
            np.save(os.path.join(a.out, "attn_%d.npy" % b), r["attn"][b])
        if a.hidden:
            np.save(os.path.join(a.out, "hidden_%d.npy" % b), r["hidden"][b])
    return 0


if __name__ == "__main__":
    sys.exit(main())
