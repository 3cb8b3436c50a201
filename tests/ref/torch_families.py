#!/usr/bin/python3
"""Independent float64 PyTorch references (no transformers) for the model families after
BERT: RoBERTa and DistilBERT here, GPT-2 and GPT (openai-gpt) in torch_gpt2.py.

Every model gates head h of layer l by xi[l,h] multiplying its attention probabilities
(transformers: attn_weights * head_mask), runs each sequence alone and unpadded in float64 on
the stored weights, and reports what torch_bert.py reports: logits, per-example loss, gate
gradients by autograd, token-level products sum_t |<dL/d(xi ctx)_t, ctx_t>|, hidden states,
gated attentions and their entropies. Losses: cross-entropy of the gold label, squared error,
or for LM heads the mean next-token cross-entropy over the T-1 predictions of the sequence
(0, with zero gradient, for a single token: there is nothing to predict).

What follows transformers (modeling_roberta.py, modeling_distilbert.py):
  RoBERTa     position ids = padding_idx + cumsum(ids != pad) for real tokens (so pad + 1 + t
              for a sequence without pad tokens; a pad token inside a sequence takes position
              padding_idx and does not advance the count); token types from the ids
              (type_vocab_size 1: all 0); classifier.dense + tanh + classifier.out_proj on the
              first token; LayerNorm eps from the config.
  DistilBERT  word + position embeddings, LayerNorm (eps 1e-12, fixed by the code); layers
              sa_layer_norm(attn(x) + x), output_layer_norm(ffn + that); activation from
              config "activation" (gelu = erf form); pre_classifier + ReLU + classifier.

As a command, the twin of `bertology forward` for roberta, distilbert, gpt2 and openai-gpt:
    torch_families.py --model DIR --ids FILE [--types FILE] [--labels FILE] [--gates G.npy]
                      [--attentions] [--hidden] --out OUTDIR
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

HEAD_NONE, HEAD_CLASSIFY, HEAD_REGRESS, HEAD_LM = "none", "classify", "regress", "lm"


def act_fn(name):
    """transformers' ACT2FN for the names the families use."""
    if name in ("gelu", "gelu_python"):
        return lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        c = math.sqrt(2.0 / math.pi)
        return lambda x: 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return torch.relu
    raise ValueError("activation %r not supported by the reference" % name)


def layer_norm(x, wb, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * wb[0] + wb[1]


def labels_of(cfg):
    """(C, head) of a sequence classifier's config, as PretrainedConfig reads it."""
    C = len(cfg["id2label"]) if cfg.get("id2label") else cfg.get("num_labels", 2)
    pt = cfg.get("problem_type")
    regress = pt == "regression" or (pt is None and C == 1)
    return C, HEAD_REGRESS if regress else HEAD_CLASSIFY


class Weights:
    """The stored tensors of a model directory in the reference dtype, looked up by name."""

    def __init__(self, model_dir, dtype):
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        self.arrays, self.stored_dtypes = safetensors_np.read_dir(model_dir, np_dtype)
        self.dtype = dtype

    def has(self, name):
        return name in self.arrays

    def __call__(self, name, shape):
        a = self.arrays[name]
        if tuple(a.shape) != tuple(shape):
            raise ValueError("%s: shape %s, expected %s" % (name, a.shape, tuple(shape)))
        return torch.from_numpy(a).to(self.dtype)

    def prefix(self, with_prefix, probe):
        if self.has(with_prefix + probe):
            return with_prefix
        if self.has(probe):
            return ""
        raise ValueError("no tensor %s%s (or %s)" % (with_prefix, probe, probe))


class Model:
    """What every family shares: gated attention and the per-example statistics.

    A subclass sets cfg, dtype, L, H, dh, present (kept heads per layer, ascending original
    ids), head, C, and implements forward(ids [1, T] long, types [1, T] long, gates [L, H])
    -> (out, rec): out is class logits [1, C], LM logits [1, T, V], or None; rec has lists
    "hidden" ([1, T, D] each), "probs" (gated), "out" (xi * ctx, grad retained), "ctx"."""

    # probs_hook(l, gated) -> tensor: when set, layer l uses (and records) what it returns in
    # place of its gated probabilities [1, Hl, T, T] (torch_attattr.py's finite differences)
    probs_hook = None

    def __init__(self, model_dir, dtype):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        self.dtype = dtype
        self.W = Weights(model_dir, dtype)

    def set_heads(self, L, H, D):
        self.L, self.H, self.D = L, H, D
        self.dh = D // H
        pruned = {int(k): set(int(h) for h in v)
                  for k, v in (self.cfg.get("pruned_heads") or {}).items()}
        self.present = [[h for h in range(H) if h not in pruned.get(l, ())] for l in range(L)]

    def attend(self, l, q, k, v, gates, rec, mask_scores=None):
        """q, k, v [1, Hl, T, dh] -> xi * ctx [1, Hl, T, dh]; mask_scores(scores) applies a
        causal mask the way the family's code does."""
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        if mask_scores is not None:
            scores = mask_scores(scores)
        probs = torch.softmax(scores, dim=-1)
        xi = gates[l, self.present[l]].view(1, -1, 1, 1)
        gated = probs * xi
        if self.probs_hook is not None:  # tests/ref/torch_attattr.py: see or replace them
            gated = self.probs_hook(l, gated)
        out = gated @ v
        rec["probs"].append(gated)
        if out.requires_grad:
            out.retain_grad()
        rec["out"].append(out)
        rec["ctx"].append((probs @ v).detach())
        return out

    def heads(self, x, l):
        """[1, T, Hl*dh] -> [1, Hl, T, dh]"""
        return x.view(1, x.shape[1], len(self.present[l]), self.dh).transpose(1, 2)

    def merge(self, out):
        return out.transpose(1, 2).reshape(1, out.shape[2], -1)

    def loss(self, out, ids, label):
        if self.head == HEAD_LM:
            T = ids.shape[1]
            if T < 2:
                return out.sum() * 0.0
            z = out[0, :-1]
            return (torch.logsumexp(z, -1) - z.gather(1, ids[0, 1:].view(-1, 1))[:, 0]).mean()
        if self.head == HEAD_REGRESS:
            return (out[0, 0] - float(label)) ** 2
        return torch.logsumexp(out[0], -1) - out[0, int(label)]

    def example(self, ids, types=None, gates=None, label=None):
        """One sequence alone. float64 numpy: logits [C] (classifiers), loss, gate_grad [L,H],
        gate_grad_tok [L,H], gate_grad_ctx [L,H] (SPEC's sum_t <dL/d(xi ctx)_t, ctx_t>),
        hidden [L+1,T,D], attn [L,H,T,T], entropy [L,H]."""
        T = len(ids)
        ids_t = torch.tensor([list(ids)], dtype=torch.long)
        types_t = torch.tensor([list(types) if types is not None else [0] * T], dtype=torch.long)
        g = np.ones((self.L, self.H)) if gates is None else np.asarray(gates, dtype=np.float64)
        want_loss = self.head == HEAD_LM or (label is not None and self.head != HEAD_NONE)
        gates_t = torch.tensor(g, dtype=self.dtype, requires_grad=want_loss)
        out, rec = self.forward(ids_t, types_t, gates_t)
        L, H = self.L, self.H
        r = {"hidden": torch.stack(rec["hidden"])[:, 0].detach().numpy()}
        attn, ent = np.zeros((L, H, T, T)), np.zeros((L, H))
        for l in range(L):
            p = rec["probs"][l][0].detach()
            attn[l, self.present[l]] = p.numpy()
            safe = torch.where(p > 0, p, torch.ones_like(p))
            ent[l, self.present[l]] = (-(p * torch.log(safe)).sum(-1).sum(-1)).numpy()
        r["attn"], r["entropy"] = attn, ent
        if self.head in (HEAD_CLASSIFY, HEAD_REGRESS):
            r["logits"] = out[0].detach().numpy()
        if want_loss:
            loss = self.loss(out, ids_t, label)
            loss.backward()
            r["loss"] = float(loss)
            r["gate_grad"] = gates_t.grad.numpy().copy()
            tok, ctxsum = np.zeros((L, H)), np.zeros((L, H))
            for l in range(L):
                grad = rec["out"][l].grad
                if grad is None:  # nothing depends on it (a single-token LM sequence)
                    continue
                dot = (grad[0] * rec["ctx"][l][0]).sum(-1)  # [Hl, T]
                tok[l, self.present[l]] = dot.abs().sum(-1).numpy()
                ctxsum[l, self.present[l]] = dot.sum(-1).numpy()
            r["gate_grad_tok"], r["gate_grad_ctx"] = tok, ctxsum
        return r


class Encoder(Model):
    """A post-LayerNorm encoder given canonical weights by a subclass: wte, wpe, wtt (or None),
    emb_ln, layers [{q, k, v, o, ln1, ff1, ff2, ln2}] of (weight [out, in], bias), pool,
    pool_act, cls, eps, act, and positions(ids) -> position ids."""

    def forward(self, ids, types, gates):
        x = self.wte[ids] + self.wpe[self.positions(ids)]
        if self.wtt is not None:
            x = x + self.wtt[types]
        x = layer_norm(x, self.emb_ln, self.eps)
        rec = {"hidden": [x], "probs": [], "out": [], "ctx": []}
        for l, lw in enumerate(self.layers):
            q, k, v = (self.heads(F.linear(x, *lw[n]), l) for n in ("q", "k", "v"))
            out = self.attend(l, q, k, v, gates, rec)
            x = layer_norm(F.linear(self.merge(out), *lw["o"]) + x, lw["ln1"], self.eps)
            h = self.act(F.linear(x, *lw["ff1"]))
            x = layer_norm(F.linear(h, *lw["ff2"]) + x, lw["ln2"], self.eps)
            rec["hidden"].append(x)
        logits = None
        if self.head in (HEAD_CLASSIFY, HEAD_REGRESS):
            logits = F.linear(self.pool_act(F.linear(x[:, 0], *self.pool)), *self.cls)
        return logits, rec

    def classifier_head(self, archs, cls_probe):
        """head and C: a sequence classifier when the architecture says so (or names nothing)
        and its weights are there, else no head."""
        seq = not archs or "ForSequenceClassification" in archs[0]
        if seq and self.W.has(cls_probe):
            self.C, self.head = labels_of(self.cfg)
        else:
            self.C, self.head = 0, HEAD_NONE


class Roberta(Encoder):
    def __init__(self, model_dir, dtype=torch.float64):
        super().__init__(model_dir, dtype)
        c, W = self.cfg, self.W
        self.set_heads(c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"])
        self.eps = c.get("layer_norm_eps", 1e-12)
        self.act = act_fn(c.get("hidden_act", "gelu"))
        self.pad = c.get("pad_token_id", 1)
        D, Fd = self.D, c["intermediate_size"]
        pre = W.prefix("roberta.", "embeddings.word_embeddings.weight")
        e = pre + "embeddings."
        self.wte = W(e + "word_embeddings.weight", (c.get("vocab_size", 50265), D))
        self.wpe = W(e + "position_embeddings.weight", (c["max_position_embeddings"], D))
        self.wtt = W(e + "token_type_embeddings.weight", (c.get("type_vocab_size", 2), D))
        self.emb_ln = (W(e + "LayerNorm.weight", (D,)), W(e + "LayerNorm.bias", (D,)))
        self.layers = []
        for l in range(self.L):
            p = "%sencoder.layer.%d." % (pre, l)
            Dl = len(self.present[l]) * self.dh

            def lin(name, out_f, in_f):
                return (W(p + name + ".weight", (out_f, in_f)), W(p + name + ".bias", (out_f,)))

            def ln(name):
                return (W(p + name + ".weight", (D,)), W(p + name + ".bias", (D,)))

            self.layers.append({
                "q": lin("attention.self.query", Dl, D), "k": lin("attention.self.key", Dl, D),
                "v": lin("attention.self.value", Dl, D), "o": lin("attention.output.dense", D, Dl),
                "ln1": ln("attention.output.LayerNorm"), "ff1": lin("intermediate.dense", Fd, D),
                "ff2": lin("output.dense", D, Fd), "ln2": ln("output.LayerNorm")})
        self.classifier_head(c.get("architectures") or [], "classifier.out_proj.weight")
        if self.head != HEAD_NONE:
            self.pool = (W("classifier.dense.weight", (D, D)), W("classifier.dense.bias", (D,)))
            self.pool_act = torch.tanh
            self.cls = (W("classifier.out_proj.weight", (self.C, D)),
                        W("classifier.out_proj.bias", (self.C,)))

    def positions(self, ids):
        mask = (ids != self.pad).long()
        return torch.cumsum(mask, dim=1) * mask + self.pad


class DistilBert(Encoder):
    def __init__(self, model_dir, dtype=torch.float64):
        super().__init__(model_dir, dtype)
        c, W = self.cfg, self.W
        if c.get("sinusoidal_pos_embds"):
            raise ValueError("sinusoidal_pos_embds not supported by the reference")
        self.set_heads(c.get("n_layers", 6), c.get("n_heads", 12), c.get("dim", 768))
        self.eps = 1e-12
        self.act = act_fn(c.get("activation", "gelu"))
        D, Fd = self.D, c.get("hidden_dim", 3072)
        pre = W.prefix("distilbert.", "embeddings.word_embeddings.weight")
        e = pre + "embeddings."
        self.wte = W(e + "word_embeddings.weight", (c.get("vocab_size", 30522), D))
        self.wpe = W(e + "position_embeddings.weight", (c.get("max_position_embeddings", 512), D))
        self.wtt = None
        self.emb_ln = (W(e + "LayerNorm.weight", (D,)), W(e + "LayerNorm.bias", (D,)))
        self.layers = []
        for l in range(self.L):
            p = "%stransformer.layer.%d." % (pre, l)
            Dl = len(self.present[l]) * self.dh

            def lin(name, out_f, in_f):
                return (W(p + name + ".weight", (out_f, in_f)), W(p + name + ".bias", (out_f,)))

            def ln(name):
                return (W(p + name + ".weight", (D,)), W(p + name + ".bias", (D,)))

            self.layers.append({
                "q": lin("attention.q_lin", Dl, D), "k": lin("attention.k_lin", Dl, D),
                "v": lin("attention.v_lin", Dl, D), "o": lin("attention.out_lin", D, Dl),
                "ln1": ln("sa_layer_norm"), "ff1": lin("ffn.lin1", Fd, D),
                "ff2": lin("ffn.lin2", D, Fd), "ln2": ln("output_layer_norm")})
        archs = c.get("architectures") or []
        self.classifier_head(archs, "pre_classifier.weight")
        if self.head != HEAD_NONE:
            self.pool = (W("pre_classifier.weight", (D, D)), W("pre_classifier.bias", (D,)))
            self.pool_act = torch.relu
            self.cls = (W("classifier.weight", (self.C, D)), W("classifier.bias", (self.C,)))

    def positions(self, ids):
        return torch.arange(ids.shape[1]).view(1, -1)


def load(model_dir, dtype=torch.float64):
    """The reference model for a directory's model_type."""
    with open(os.path.join(model_dir, "config.json")) as f:
        mt = json.load(f).get("model_type")
    if mt == "roberta":
        return Roberta(model_dir, dtype)
    if mt == "distilbert":
        return DistilBert(model_dir, dtype)
    if mt in ("gpt2", "openai-gpt"):
        import torch_gpt2
        return torch_gpt2.GPT2(model_dir, dtype) if mt == "gpt2" else torch_gpt2.GPT(model_dir, dtype)
    raise ValueError("%s: model_type %r not handled here" % (model_dir, mt))


def run(model, seqs, types=None, labels=None, gates=None):
    """Every sequence alone; the arrays `bertology forward` writes (float64)."""
    outs = [model.example(s, None if types is None else types[b], gates,
                          None if labels is None else labels[b]) for b, s in enumerate(seqs)]
    r = {"attn": [o["attn"] for o in outs], "hidden": [o["hidden"] for o in outs],
         "entropy": np.stack([o["entropy"] for o in outs])}
    if model.head in (HEAD_CLASSIFY, HEAD_REGRESS):
        r["logits"] = np.stack([o["logits"] for o in outs])
    if "loss" in outs[0]:
        for k in ("loss", "gate_grad", "gate_grad_tok", "gate_grad_ctx"):
            r[k] = np.array([o[k] for o in outs])
    return r


def read_int_lines(path):
    with open(path) as f:
        return [[int(t) for t in line.split()] for line in f if line.strip()]


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
    m = load(a.model)
    seqs = read_int_lines(a.ids)
    types = read_int_lines(a.types) if a.types else None
    labels = None
    if a.labels:
        with open(a.labels) as f:
            vals = [line.strip() for line in f if line.strip()]
        labels = [float(v) if m.head == HEAD_REGRESS else int(v) for v in vals]
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
