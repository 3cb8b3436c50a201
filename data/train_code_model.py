#!/usr/bin/python3
"""Trains data/code-roberta: a small RoBERTa code model (masked LM) from scratch on
data/code/functions.jsonl, for the CAT-probing demo (docs/cat.md). No pretrained code model can
be downloaded where this project is built; this one is small enough to ship and to train in
minutes on two cores.

    data/train_code_model.py [--out data/code-roberta] [--steps 600] [--seed 42]
    data/train_code_model.py --steps 0 --out data/code-roberta-random   # the same model untrained

With --steps 0 the weights written are the initial ones, drawn from the same seed before any
step: the same architecture at random initialisation, the baseline its CAT-scores are compared
with (docs/cat.md).

  1. Tokenizer: GPT-2's byte-level BPE cut to its first --merges merges (a prefix of a merge list
     is a complete BPE: every token it makes is in the vocabulary), numbered as roberta-base
     numbers GPT-2's tokens (<s> <pad> </s> <unk> first, <mask> last). Tokens come from the
     Python BPE model in tests/text/bpe_ref.py (tests/text checks it against the C tokenizer).
  2. Model: RoBERTa post-LN encoder with Hugging Face's RobertaForMaskedLM tensor names (the
     LM decoder tied to the word embeddings), GELU (erf), positions from padding_idx + 1.
  3. Masked LM as RoBERTa does it: 15% of the tokens chosen, of them 80% <mask>, 10% a random
     token, 10% kept; AdamW, linear warmup and decay; float32; one torch thread per core.
  4. Writes config.json, model.safetensors (F16), vocab.json, merges.txt, tokenizer_config.json
     and training.json (settings, seed, loss curve, wall time, versions).

Needs Debian's python3-torch and python3-numpy only.
"""
import argparse
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "tests", "text"), os.path.join(REPO, "tests", "ref")]
import bpe_ref  # noqa: E402
import safetensors_np  # noqa: E402

GPT2 = os.path.join(REPO, "tests", "data", "vocab", "gpt2")


def write_tokenizer(out, n_merges):
    """vocab.json and merges.txt of the cut BPE; returns the vocabulary size."""
    with open(os.path.join(GPT2, "vocab.json"), encoding="utf-8") as f:
        gpt2 = json.load(f)
    with open(os.path.join(GPT2, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [ln for ln in lines[1:] if ln][:n_merges]
    # GPT-2 numbers its 256 byte tokens first, then each merge's result in merge order
    keep = {t: i for t, i in gpt2.items() if i < 256 + n_merges}
    for m in merges:
        assert "".join(m.split()) in keep, m
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t, i in sorted(keep.items(), key=lambda kv: kv[1]):
        vocab[t] = len(vocab)
    vocab["<mask>"] = len(vocab)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(lines[0] + "\n" + "\n".join(merges) + "\n")
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "RobertaTokenizer", "model_max_length": 256}, f)
    return len(vocab)


class Layer(nn.Module):
    def __init__(self, D, H, F_, eps):
        super().__init__()
        self.H = H
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(D, eps=eps), nn.LayerNorm(D, eps=eps)
        self.fc1, self.fc2 = nn.Linear(D, F_), nn.Linear(F_, D)

    def forward(self, x, pad):
        B, T, D = x.shape
        dh = D // self.H

        def heads(t):
            return t.view(B, T, self.H, dh).transpose(1, 2)

        s = heads(self.q(x)) @ heads(self.k(x)).transpose(-1, -2) / math.sqrt(dh)
        s = s.masked_fill(pad[:, None, None, :], float("-inf"))
        a = F.dropout(torch.softmax(s, -1), 0.1, self.training)
        ctx = (a @ heads(self.v(x))).transpose(1, 2).reshape(B, T, D)
        x = self.ln1(x + F.dropout(self.o(ctx), 0.1, self.training))
        return self.ln2(x + F.dropout(self.fc2(F.gelu(self.fc1(x))), 0.1, self.training))


class RobertaMLM(nn.Module):
    def __init__(self, V, D, L, H, F_, max_pos, eps=1e-5):
        super().__init__()
        self.wte, self.wpe, self.wtt = nn.Embedding(V, D), nn.Embedding(max_pos, D), nn.Embedding(1, D)
        self.ln = nn.LayerNorm(D, eps=eps)
        self.layers = nn.ModuleList(Layer(D, H, F_, eps) for _ in range(L))
        self.head, self.head_ln = nn.Linear(D, D), nn.LayerNorm(D, eps=eps)
        self.bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():  # transformers' init
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids, pad, at):
        """Logits of the positions at (a boolean [B, T] mask): the LM head, the costliest product
        here, runs on the masked tokens only."""
        pos = torch.arange(ids.shape[1])[None, :] + 2  # padding_idx + 1
        x = F.dropout(self.ln(self.wte(ids) + self.wpe(pos) + self.wtt(torch.zeros_like(ids))), 0.1, self.training)
        for layer in self.layers:
            x = layer(x, pad)
        return self.head_ln(F.gelu(self.head(x[at]))) @ self.wte.weight.T + self.bias

    def hf_tensors(self):
        """(name, tensor) in Hugging Face RobertaForMaskedLM names."""
        out = [("roberta.embeddings.word_embeddings.weight", self.wte.weight),
               ("roberta.embeddings.position_embeddings.weight", self.wpe.weight),
               ("roberta.embeddings.token_type_embeddings.weight", self.wtt.weight),
               ("roberta.embeddings.LayerNorm.weight", self.ln.weight),
               ("roberta.embeddings.LayerNorm.bias", self.ln.bias)]
        for i, ly in enumerate(self.layers):
            p = "roberta.encoder.layer.%d." % i
            for name, mod in (("attention.self.query", ly.q), ("attention.self.key", ly.k),
                              ("attention.self.value", ly.v), ("attention.output.dense", ly.o),
                              ("attention.output.LayerNorm", ly.ln1), ("intermediate.dense", ly.fc1),
                              ("output.dense", ly.fc2), ("output.LayerNorm", ly.ln2)):
                out += [(p + name + ".weight", mod.weight), (p + name + ".bias", mod.bias)]
        out += [("lm_head.dense.weight", self.head.weight), ("lm_head.dense.bias", self.head.bias),
                ("lm_head.layer_norm.weight", self.head_ln.weight), ("lm_head.layer_norm.bias", self.head_ln.bias),
                ("lm_head.bias", self.bias)]
        return out


def mask_batch(ids, pad, V, rng):
    """RoBERTa's 80/10/10 masking of 15% of the real tokens; labels -100 elsewhere."""
    special = (ids <= 3) | pad
    chosen = (torch.rand(ids.shape, generator=rng) < 0.15) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=rng)
    x = ids.clone()
    x[chosen & (r < 0.8)] = V - 1
    rand = chosen & (r >= 0.8) & (r < 0.9)
    x[rand] = torch.randint(4, V - 1, ids.shape, generator=rng)[rand]
    return x, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, "data", "code", "functions.jsonl"))
    ap.add_argument("--out", default=os.path.join(REPO, "data", "code-roberta"))
    ap.add_argument("--merges", type=int, default=8000)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    t0 = time.time()
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    torch.set_num_threads(os.cpu_count() or 1)
    os.makedirs(a.out, exist_ok=True)
    V = write_tokenizer(a.out, a.merges)
    bpe = bpe_ref.RefBPE(os.path.join(a.out, "vocab.json"), os.path.join(a.out, "merges.txt"), style="roberta")
    with open(a.data, encoding="utf-8") as f:
        rows = [json.loads(ln) for ln in f if ln.strip()]
    seqs = [bpe.encode(r["code"], max_len=a.max_len)[0] for r in rows]
    n_unk = sum(s.count(3) for s in seqs)
    D, L, H = a.hidden, a.layers, a.heads
    model = RobertaMLM(V, D, L, H, 4 * D, a.max_len + 2)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    rest = [p for n, p in model.named_parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.98), eps=1e-6)
    warm = max(1, a.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (a.steps - s) / max(1, a.steps - warm))))
    rng = torch.Generator().manual_seed(a.seed)
    curve, run = [], []
    model.train()
    for step in range(a.steps):
        pick = torch.randint(len(seqs), (a.batch,), generator=rng).tolist()
        T = max(len(seqs[i]) for i in pick)
        ids = torch.full((a.batch, T), 1, dtype=torch.long)
        for b, i in enumerate(pick):
            ids[b, :len(seqs[i])] = torch.tensor(seqs[i])
        pad = ids == 1
        x, labels = mask_batch(ids, pad, V, rng)
        at = labels != -100
        loss = F.cross_entropy(model(x, pad, at), labels[at])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        run.append(loss.item())
        if (step + 1) % 100 == 0:
            curve.append(round(sum(run) / len(run), 4))
            run = []
            print("step %d  loss %.3f  %.0f s" % (step + 1, curve[-1], time.time() - t0), flush=True)
    tensors = [(n, tuple(p.shape), (lambda p=p: p.detach().float().numpy())) for n, p in model.hf_tensors()]
    safetensors_np.write(os.path.join(a.out, "model.safetensors"), tensors, "F16")
    config = {"architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "torch_dtype": "float16",
              "vocab_size": V, "hidden_size": D, "num_hidden_layers": L, "num_attention_heads": H,
              "intermediate_size": 4 * D, "hidden_act": "gelu", "max_position_embeddings": a.max_len + 2,
              "type_vocab_size": 1, "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
              "eos_token_id": 2, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
              "initializer_range": 0.02, "position_embedding_type": "absolute"}
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    info = {"settings": vars(a), "data": os.path.relpath(a.data, REPO), "examples": len(seqs),
            "tokens": sum(map(len, seqs)), "unk_tokens": n_unk, "vocab_size": V,
            "parameters": sum(p.numel() for p in model.parameters()), "loss_per_100_steps": curve,
            "seconds": round(time.time() - t0, 1), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "cpu_threads": torch.get_num_threads()}
    info["settings"]["out"] = os.path.relpath(a.out, REPO)
    info["settings"]["data"] = os.path.relpath(a.data, REPO)
    with open(os.path.join(a.out, "training.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print("wrote %s: %d parameters, %d steps, final loss %s, %.0f s" % (
        a.out, info["parameters"], a.steps, "%.3f" % curve[-1] if curve else "-", info["seconds"]))


if __name__ == "__main__":
    main()
