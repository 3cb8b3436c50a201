#!/usr/bin/python3
"""Independent float64 PyTorch references (no transformers) for the decoders: GPT-2 and GPT
(openai-gpt), with head gates and the statistics of torch_families.Model.

Weights are used as stored: Conv1D matrices [in, out] with y = x W + b (transformers'
Conv1D is addmm(b, x, W)), c_attn's output split into q, k, v blocks of Dl = (present heads)
* dh columns each; no transposition happens here.

What follows transformers (modeling_gpt2.py, modeling_openai.py):
  GPT-2  pre-LayerNorm: x += c_proj(attn(ln_1(x))); x += mlp(ln_2(x)); ln_f at the end.
         Scores / sqrt(dh), causal positions set to finfo.min (torch.where), softmax, times
         head_mask. activation_function (default gelu_new); n_inner null = 4 * n_embd. The
         reported last hidden state is after ln_f, as output_hidden_states gives it.
  GPT    post-LayerNorm: n = ln_1(x + attn(x)); x = ln_2(n + mlp(n)); no final LayerNorm.
         Causal scores as `w * b + -1e4 * (1 - b)`; afn "gelu" is ACT_FNS["gelu"] = gelu_new.
  Both   positions 0..T-1; LM head = hidden @ wte^T (tied); the LM loss is the mean
         next-token cross-entropy over the T-1 predictions. ForSequenceClassification: score
         (no bias) on the last token that is not pad_token_id (the last token if the config has
         no pad_token_id). Token-type ids are not used (transformers would add wte[type]
         when given any; bertology passes none).
"""

import torch

from torch_families import HEAD_LM, Model, act_fn, labels_of, layer_norm


class Decoder(Model):
    def load_decoder(self, emb_names, default_vocab, default_pos):
        c, W = self.cfg, self.W
        self.set_heads(c.get("n_layer", 12), c.get("n_head", 12), c.get("n_embd", 768))
        self.eps = c.get("layer_norm_epsilon", 1e-5)
        D = self.D
        pre = W.prefix("transformer.", emb_names[0])
        V, P = c.get("vocab_size", default_vocab), c.get("n_positions", default_pos)
        self.wte = W(pre + emb_names[0], (V, D))
        self.wpe = W(pre + emb_names[1], (P, D))
        self.layers = []
        for l in range(self.L):
            p = "%sh.%d." % (pre, l)
            Dl = len(self.present[l]) * self.dh

            def conv(name, in_f, out_f):
                return (W(p + name + ".weight", (in_f, out_f)), W(p + name + ".bias", (out_f,)))

            def ln(name):
                return (W(p + name + ".weight", (D,)), W(p + name + ".bias", (D,)))

            self.layers.append({"ln1": ln("ln_1"), "attn": conv("attn.c_attn", D, 3 * Dl),
                                "proj": conv("attn.c_proj", Dl, D), "ln2": ln("ln_2"),
                                "fc": conv("mlp.c_fc", D, self.Fd), "fc2": conv("mlp.c_proj", self.Fd, D)})
        archs = c.get("architectures") or []
        seq = ("ForSequenceClassification" in archs[0]) if archs else W.has("score.weight")
        if seq:
            self.C, self.head = labels_of(c)
            self.score = W("score.weight", (self.C, D))
            self.pad = c.get("pad_token_id")
        else:
            self.C, self.head = 0, HEAD_LM
        return pre

    def attention(self, l, x, gates, rec, mask):
        lw = self.layers[l]
        qkv = x @ lw["attn"][0] + lw["attn"][1]
        Dl = len(self.present[l]) * self.dh
        q, k, v = qkv[..., :Dl], qkv[..., Dl:2 * Dl], qkv[..., 2 * Dl:]
        out = self.attend(l, self.heads(q, l), self.heads(k, l), self.heads(v, l), gates, rec, mask)
        return self.merge(out) @ lw["proj"][0] + lw["proj"][1]

    def mlp(self, l, x):
        lw = self.layers[l]
        return self.act(x @ lw["fc"][0] + lw["fc"][1]) @ lw["fc2"][0] + lw["fc2"][1]

    def output(self, x, ids):
        if self.head == HEAD_LM:
            return x @ self.wte.T
        t = x.shape[1] - 1
        if self.pad is not None:  # the rightmost token that is not padding (0 if all are)
            real = [i for i in range(ids.shape[1]) if int(ids[0, i]) != self.pad]
            t = real[-1] if real else 0
        return x[:, t] @ self.score.T

    def embed(self, ids):
        return self.wte[ids] + self.wpe[torch.arange(ids.shape[1])][None]


class GPT2(Decoder):
    def __init__(self, model_dir, dtype=torch.float64):
        super().__init__(model_dir, dtype)
        c = self.cfg
        if not c.get("scale_attn_weights", True) or c.get("scale_attn_by_inverse_layer_idx"):
            raise ValueError("attention scaling variant not supported by the reference")
        self.act = act_fn(c.get("activation_function", "gelu_new"))
        self.Fd = c.get("n_inner") or 4 * c.get("n_embd", 768)
        pre = self.load_decoder(("wte.weight", "wpe.weight"), 50257, 1024)
        self.ln_f = (self.W(pre + "ln_f.weight", (self.D,)), self.W(pre + "ln_f.bias", (self.D,)))

    def forward(self, ids, types, gates):
        T = ids.shape[1]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))

        def mask(s):
            return torch.where(causal, s, torch.tensor(torch.finfo(s.dtype).min, dtype=s.dtype))

        x = self.embed(ids)
        rec = {"hidden": [x], "probs": [], "out": [], "ctx": []}
        for l, lw in enumerate(self.layers):
            x = x + self.attention(l, layer_norm(x, lw["ln1"], self.eps), gates, rec, mask)
            x = x + self.mlp(l, layer_norm(x, lw["ln2"], self.eps))
            rec["hidden"].append(x)
        x = layer_norm(x, self.ln_f, self.eps)
        rec["hidden"][-1] = x
        return self.output(x, ids), rec


class GPT(Decoder):
    def __init__(self, model_dir, dtype=torch.float64):
        super().__init__(model_dir, dtype)
        c = self.cfg
        afn = c.get("afn", "gelu")
        self.act = {"gelu": act_fn("gelu_new"), "relu": torch.relu}[afn]
        self.Fd = 4 * c.get("n_embd", 768)
        self.load_decoder(("tokens_embed.weight", "positions_embed.weight"), 40478, 512)

    def forward(self, ids, types, gates):
        T = ids.shape[1]
        b = torch.tril(torch.ones(T, T, dtype=self.dtype))

        def mask(s):
            return s * b + -1e4 * (1 - b)

        x = self.embed(ids)
        rec = {"hidden": [x], "probs": [], "out": [], "ctx": []}
        for l, lw in enumerate(self.layers):
            n = layer_norm(x + self.attention(l, x, gates, rec, mask), lw["ln1"], self.eps)
            x = layer_norm(n + self.mlp(l, n), lw["ln2"], self.eps)
            rec["hidden"].append(x)
        return self.output(x, ids), rec
