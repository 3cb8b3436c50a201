#!/usr/bin/python3
"""Writes a random Hugging Face model directory of GPT-2, GPT (openai-gpt), RoBERTa or
DistilBERT (config.json + model.safetensors) with the tensor names, layouts and config keys
transformers uses for that model type.

Weights follow make_checkpoint.py: std init_scale/sqrt(fan_in) for matrices, LayerNorm
weights 1 +- 0.2, nonzero biases, and one random stream per (seed, tensor name), so a pruned
model is the unpruned model of the same seed with the pruned heads removed.

Layouts (transformers):
  gpt2, openai-gpt  Conv1D weights stored [in, out]; attn.c_attn is [D, 3D] with q, k, v as
                    column blocks. Pruning head h removes columns h*dh..(h+1)*dh-1 of each of
                    the three blocks of c_attn (and its bias) and the same rows of attn.c_proj
                    (GPT2Attention.prune_heads).
  roberta           BERT's names under "roberta.", classifier.dense / classifier.out_proj.
  distilbert        q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2,
                    output_layer_norm under "distilbert.", pre_classifier + classifier.

    make_checkpoint_family.py OUT --family gpt2|openai-gpt|roberta|distilbert
        [--layers 2 --hidden 32 --heads 4 --ff N --vocab 100 --max-pos 32 --seed 0
         --labels C (sequence classifier; 1 = regression) | --base (no head, no prefix)
         --act NAME --eps E --dtype F32|F16|BF16 --pruned-heads '{"1": [0, 2]}'
         --pad-token-id P --extra]
Decoders without --labels are LM-head models (GPT2LMHeadModel / OpenAIGPTLMHeadModel);
--extra adds what real checkpoints carry and the loader must skip (a tied lm_head.weight,
GPT-2's attn.bias / attn.masked_bias buffers, RoBERTa's lm_head).
"""
import argparse
import json
import os
import sys

import numpy as np

import safetensors_np
from make_checkpoint import _normal, _uniform

FAMILIES = ("gpt2", "openai-gpt", "roberta", "distilbert")
DEFAULT_ACT = {"gpt2": "gelu_new", "openai-gpt": "gelu", "roberta": "gelu", "distilbert": "gelu"}
PREFIX = {"gpt2": "transformer.", "openai-gpt": "transformer.", "roberta": "roberta.",
          "distilbert": "distilbert."}


class Specs:
    """(name, shape, make) of every tensor, in the order transformers' state dict has them."""

    def __init__(self, o):
        self.o, self.list = o, []
        H, dh = o.heads, o.hidden // o.heads
        pruned = {int(k): set(int(h) for h in v) for k, v in (o.pruned_heads or {}).items()}
        self.kept = [np.array([h * dh + j for h in range(H) if h not in pruned.get(l, ())
                               for j in range(dh)], dtype=np.int64) for l in range(o.layers)]

    def add(self, name, shape, make):
        self.list.append((name, tuple(int(s) for s in shape), make))

    def matrix(self, name, shape, fan_in, rows=None, cols=None):
        """A weight drawn at full size, then the kept rows/columns selected."""
        o = self.o

        def make():
            a = _normal(o.seed, name, shape, o.init_scale / np.sqrt(fan_in))
            if rows is not None:
                a = a[rows]
            if cols is not None:
                a = a[:, cols]
            return np.ascontiguousarray(a)

        out = (len(rows) if rows is not None else shape[0],
               len(cols) if cols is not None else shape[1])
        self.add(name, out, make)

    def bias(self, name, n, idx=None):
        o = self.o
        self.add(name, (n if idx is None else len(idx),),
                 lambda: _normal(o.seed, name, (n,), o.bias_std)[idx if idx is not None else
                                                                  slice(None)])

    def linear(self, name, out_f, in_f, rows=None, cols=None):
        """nn.Linear: weight [out, in]."""
        self.matrix(name + ".weight", (out_f, in_f), in_f, rows, cols)
        self.bias(name + ".bias", out_f, rows)

    def conv1d(self, name, in_f, out_f, rows=None, cols=None):
        """transformers' Conv1D: weight [in, out], y = x W + b."""
        self.matrix(name + ".weight", (in_f, out_f), in_f, rows, cols)
        self.bias(name + ".bias", out_f, cols)

    def ln(self, name):
        o, D = self.o, self.o.hidden
        self.add(name + ".weight", (D,), lambda: _uniform(o.seed, name + ".weight", (D,), 0.8, 1.2))
        self.add(name + ".bias", (D,), lambda: _normal(o.seed, name + ".bias", (D,), o.bias_std))

    def emb(self, name, rows):
        o = self.o
        self.add(name, (rows, o.hidden), lambda: _normal(o.seed, name, (rows, o.hidden), o.emb_std))


def decoder_specs(o, s, pre):
    D, F = o.hidden, o.ff
    gpt2 = o.family == "gpt2"
    wte = pre + ("wte.weight" if gpt2 else "tokens_embed.weight")
    s.emb(wte, o.vocab)
    s.emb(pre + ("wpe.weight" if gpt2 else "positions_embed.weight"), o.max_pos)
    for l in range(o.layers):
        p = "%sh.%d." % (pre, l)
        idx = s.kept[l]
        s.ln(p + "ln_1")
        if gpt2 and o.extra:  # buffers of checkpoints saved before transformers 4.x
            P = o.max_pos
            s.add(p + "attn.bias", (1, 1, P, P),
                  lambda P=P: np.tril(np.ones((P, P), np.float32))[None, None])
            s.add(p + "attn.masked_bias", (), lambda: np.array(-1e4, np.float32))
        s.conv1d(p + "attn.c_attn", D, 3 * D, cols=np.concatenate([idx, idx + D, idx + 2 * D]))
        s.conv1d(p + "attn.c_proj", D, D, rows=idx)
        s.ln(p + "ln_2")
        s.conv1d(p + "mlp.c_fc", D, F)
        s.conv1d(p + "mlp.c_proj", F, D)
    if gpt2:
        s.ln(pre + "ln_f")
    if o.labels:
        s.add("score.weight", (o.labels, D),
              lambda: _normal(o.seed, "score.weight", (o.labels, D), o.init_scale / np.sqrt(D)))
    elif o.extra:  # the tied LM head, as torch.save would store it
        s.add("lm_head.weight", (o.vocab, D),
              lambda: _normal(o.seed, wte, (o.vocab, o.hidden), o.emb_std))


def encoder_specs(o, s, pre):
    D, F = o.hidden, o.ff
    e = pre + "embeddings."
    s.emb(e + "word_embeddings.weight", o.vocab)
    s.emb(e + "position_embeddings.weight", o.max_pos)
    if o.family == "roberta":
        s.emb(e + "token_type_embeddings.weight", o.type_vocab)
    s.ln(e + "LayerNorm")
    for l in range(o.layers):
        idx = s.kept[l]
        if o.family == "roberta":
            p = "%sencoder.layer.%d." % (pre, l)
            for k in ("query", "key", "value"):
                s.linear(p + "attention.self." + k, D, D, rows=idx)
            s.linear(p + "attention.output.dense", D, D, cols=idx)
            s.ln(p + "attention.output.LayerNorm")
            s.linear(p + "intermediate.dense", F, D)
            s.linear(p + "output.dense", D, F)
            s.ln(p + "output.LayerNorm")
        else:
            p = "%stransformer.layer.%d." % (pre, l)
            for k in ("q_lin", "k_lin", "v_lin"):
                s.linear(p + "attention." + k, D, D, rows=idx)
            s.linear(p + "attention.out_lin", D, D, cols=idx)
            s.ln(p + "sa_layer_norm")
            s.linear(p + "ffn.lin1", F, D)
            s.linear(p + "ffn.lin2", D, F)
            s.ln(p + "output_layer_norm")
    if o.family == "roberta":
        if o.labels:
            s.linear("classifier.dense", D, D)
            s.linear("classifier.out_proj", o.labels, D)
        elif o.mlm:  # RobertaForMaskedLM: no pooler; the decoder is tied to the embeddings
            s.linear("lm_head.dense", D, D)
            s.ln("lm_head.layer_norm")
            s.bias("lm_head.bias", o.vocab)
        else:
            s.linear("pooler.dense", D, D)  # RobertaModel has add_pooling_layer=True
        if o.extra:
            s.linear("lm_head.dense", D, D)
    elif o.labels:
        s.linear("pre_classifier", D, D)
        s.linear("classifier", o.labels, D)


def arch_name(o):
    base = {"gpt2": "GPT2", "openai-gpt": "OpenAIGPT", "roberta": "Roberta",
            "distilbert": "DistilBert"}[o.family]
    if o.labels:
        return base + "ForSequenceClassification"
    if o.mlm:
        return base + "ForMaskedLM"
    if o.base:
        return base + "Model"
    return base + "LMHeadModel"  # decoders only (options() refuses an encoder without a head)


def config_dict(o):
    c = {"architectures": [arch_name(o)], "model_type": o.family,
         "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[o.dtype],
         "vocab_size": o.vocab, "initializer_range": 0.02}
    if o.family == "gpt2":
        c.update(n_embd=o.hidden, n_layer=o.layers, n_head=o.heads, n_positions=o.max_pos,
                 n_ctx=o.max_pos, n_inner=None if o.ff == 4 * o.hidden else o.ff,
                 activation_function=o.act, layer_norm_epsilon=o.eps, resid_pdrop=0.1,
                 embd_pdrop=0.1, attn_pdrop=0.1, scale_attn_weights=True,
                 bos_token_id=o.vocab - 1, eos_token_id=o.vocab - 1)
    elif o.family == "openai-gpt":
        c.update(n_embd=o.hidden, n_layer=o.layers, n_head=o.heads, n_positions=o.max_pos,
                 afn=o.act, layer_norm_epsilon=o.eps, resid_pdrop=0.1, embd_pdrop=0.1,
                 attn_pdrop=0.1)
    elif o.family == "roberta":
        c.update(hidden_size=o.hidden, num_hidden_layers=o.layers, num_attention_heads=o.heads,
                 intermediate_size=o.ff, max_position_embeddings=o.max_pos,
                 type_vocab_size=o.type_vocab, hidden_act=o.act, layer_norm_eps=o.eps,
                 pad_token_id=o.pad_token_id, bos_token_id=0, eos_token_id=2,
                 hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                 position_embedding_type="absolute")
    else:
        c.update(dim=o.hidden, n_layers=o.layers, n_heads=o.heads, hidden_dim=o.ff,
                 max_position_embeddings=o.max_pos, activation=o.act,
                 sinusoidal_pos_embds=False, dropout=0.1, attention_dropout=0.1,
                 seq_classif_dropout=0.2, qa_dropout=0.1, pad_token_id=0)
    if o.labels:
        c["id2label"] = {str(i): "LABEL_%d" % i for i in range(o.labels)}
        c["label2id"] = {"LABEL_%d" % i: i for i in range(o.labels)}
        c["problem_type"] = "regression" if o.labels == 1 else "single_label_classification"
        if o.family in ("gpt2", "openai-gpt") and o.pad_token_id is not None:
            c["pad_token_id"] = o.pad_token_id
    if o.pruned_heads:
        c["pruned_heads"] = {str(k): sorted(int(h) for h in v) for k, v in o.pruned_heads.items()}
    return c


def write_checkpoint(o):
    os.makedirs(o.out, exist_ok=True)
    with open(os.path.join(o.out, "config.json"), "w") as f:
        json.dump(config_dict(o), f, indent=2)
        f.write("\n")
    s = Specs(o)
    pre = "" if o.base else PREFIX[o.family]
    (decoder_specs if o.family in ("gpt2", "openai-gpt") else encoder_specs)(o, s, pre)
    safetensors_np.write(os.path.join(o.out, "model.safetensors"), s.list, o.dtype)
    return o.out


def parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--family", choices=FAMILIES, required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=None, help="default 4 * hidden (always, for openai-gpt)")
    ap.add_argument("--vocab", type=int, default=100)
    ap.add_argument("--max-pos", type=int, default=32, help="rows of the position table")
    ap.add_argument("--labels", type=int, default=0, help="sequence classifier with C labels")
    ap.add_argument("--base", action="store_true", help="the bare model: no head, no prefix")
    ap.add_argument("--mlm", action="store_true", help="roberta: RobertaForMaskedLM (prefix, LM head)")
    ap.add_argument("--act", default=None)
    ap.add_argument("--eps", type=float, default=None, help="LayerNorm eps (not distilbert)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=list(safetensors_np.DTYPES), default="F32")
    ap.add_argument("--pruned-heads", type=json.loads, default=None)
    ap.add_argument("--pad-token-id", type=int, default=None,
                    help="roberta: padding_idx (default 1); decoders with --labels: pad_token_id")
    ap.add_argument("--type-vocab", type=int, default=1, help="roberta's type_vocab_size")
    ap.add_argument("--extra", action="store_true", help="tensors the loader must ignore")
    ap.add_argument("--init-scale", type=float, default=1.5)
    ap.add_argument("--emb-std", type=float, default=0.3)
    ap.add_argument("--bias-std", type=float, default=0.1)
    return ap


def options(argv=None, **kw):
    o = parser().parse_args(argv if argv is not None else [kw.pop("out"), "--family", kw.pop("family")])
    for k, v in kw.items():
        if not hasattr(o, k):
            raise TypeError("unknown option %s" % k)
        setattr(o, k, v)
    if o.ff is None or o.family == "openai-gpt":
        o.ff = 4 * o.hidden
    if o.act is None:
        o.act = DEFAULT_ACT[o.family]
    if o.eps is None:
        o.eps = {"gpt2": 1e-5, "openai-gpt": 1e-5, "roberta": 1e-5, "distilbert": 1e-12}[o.family]
    if o.family == "roberta" and o.pad_token_id is None:
        o.pad_token_id = 1
    if o.hidden % o.heads:
        raise ValueError("hidden %d is not a multiple of heads %d" % (o.hidden, o.heads))
    if o.family in ("roberta", "distilbert") and not o.labels and not o.base and not (o.mlm and o.family == "roberta"):
        raise ValueError("%s needs --labels or --base (or, roberta, --mlm)" % o.family)
    if o.mlm and (o.labels or o.base):
        raise ValueError("--mlm is a head of its own")
    if o.labels and o.base:
        raise ValueError("--base has no head")
    for k, v in (o.pruned_heads or {}).items():
        if not 0 <= int(k) < o.layers or any(not 0 <= int(h) < o.heads for h in v):
            raise ValueError("pruned_heads %s: layer or head out of range" % k)
    return o


def make_checkpoint(out, family, **kw):
    return write_checkpoint(options(out=out, family=family, **kw))


if __name__ == "__main__":
    write_checkpoint(options(sys.argv[1:]))
