#!/usr/bin/python3
"""Writes a random Hugging Face BERT model directory (config.json + safetensors) for tests.

Weights are deliberately far from BERT's std-0.02 init so that every path matters: linear
weights have std init_scale/sqrt(fan_in) (0.1-0.3 at the test sizes, and O(1) activations at
bert-base size, where a fixed 0.2 would saturate every softmax), LayerNorm weights 1 +- 0.2,
and all biases are nonzero.

Every tensor is drawn from its own stream seeded by (seed, tensor name), so a pruned model is
exactly the unpruned model of the same seed with the pruned heads' rows/columns removed, and
sharding does not change any value.

    make_checkpoint.py OUT [--layers 2 --hidden 64 --heads 4 --ff 256 --vocab 100 --labels 2
                            --act gelu|gelu_new|relu --seed 0 --max-pos 32 --dtype F32|F16|BF16
                            --no-head --shards N --pruned-heads '{"1": [0, 2]}' --vocab-txt]
    make_checkpoint.py OUT --bert-base      (12 x 768, 12 heads, 3072, vocab 30522, 512 pos)
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np

import safetensors_np

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _rng(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _normal(seed, name, shape, std, mean=0.0):
    a = _rng(seed, name).standard_normal(size=shape, dtype=np.float32)
    a *= np.float32(std)
    if mean:
        a += np.float32(mean)
    return a


def _uniform(seed, name, shape, lo, hi):
    return _rng(seed, name).uniform(lo, hi, size=shape).astype(np.float32)


def tensor_specs(o):
    """(name, shape, make) for every tensor, in Hugging Face's order."""
    D, H, F, L = o.hidden, o.heads, o.ff, o.layers
    dh = D // H
    pre = "" if o.no_head else "bert."
    pruned = {int(k): sorted(set(int(h) for h in v)) for k, v in (o.pruned_heads or {}).items()}
    s = o.init_scale
    specs = []

    def lin(name, out_f, in_f, rows=None, cols=None):
        # Full (unpruned) weights are drawn, then the kept heads' rows or columns selected.
        def w():
            a = _normal(o.seed, name + ".weight", (out_f, in_f), s / np.sqrt(in_f))
            if rows is not None:
                a = a[rows]
            if cols is not None:
                a = a[:, cols]
            return np.ascontiguousarray(a)

        def b():
            a = _normal(o.seed, name + ".bias", (out_f,), o.bias_std)
            return a[rows] if rows is not None else a

        n_out = len(rows) if rows is not None else out_f
        n_in = len(cols) if cols is not None else in_f
        specs.append((name + ".weight", (n_out, n_in), w))
        specs.append((name + ".bias", (n_out,), b))

    def ln(name):
        specs.append((name + ".weight", (D,), lambda: _uniform(o.seed, name + ".weight", (D,),
                                                                0.8, 1.2)))
        specs.append((name + ".bias", (D,), lambda: _normal(o.seed, name + ".bias", (D,),
                                                             o.bias_std)))

    def emb(name, rows):
        specs.append((name, (rows, D), lambda: _normal(o.seed, name, (rows, D), o.emb_std)))

    emb(pre + "embeddings.word_embeddings.weight", o.vocab)
    emb(pre + "embeddings.position_embeddings.weight", o.max_pos)
    emb(pre + "embeddings.token_type_embeddings.weight", o.type_vocab)
    ln(pre + "embeddings.LayerNorm")
    for i in range(L):
        p = "%sencoder.layer.%d." % (pre, i)
        kept = [h for h in range(H) if h not in pruned.get(i, [])]
        idx = np.array([h * dh + j for h in kept for j in range(dh)], dtype=np.int64)
        for qkv in ("query", "key", "value"):
            lin(p + "attention.self." + qkv, D, D, rows=idx)
        lin(p + "attention.output.dense", D, D, cols=idx)
        ln(p + "attention.output.LayerNorm")
        lin(p + "intermediate.dense", F, D)
        lin(p + "output.dense", D, F)
        ln(p + "output.LayerNorm")
    lin(pre + "pooler.dense", D, D)
    if not o.no_head:
        lin("classifier", o.labels, D)
    return specs


def config_dict(o):
    torch_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[o.dtype]
    c = {
        "architectures": ["BertModel" if o.no_head else "BertForSequenceClassification"],
        "model_type": "bert",
        "hidden_size": o.hidden,
        "num_hidden_layers": o.layers,
        "num_attention_heads": o.heads,
        "intermediate_size": o.ff,
        "vocab_size": o.vocab,
        "max_position_embeddings": o.max_pos,
        "type_vocab_size": o.type_vocab,
        "layer_norm_eps": o.eps,
        "hidden_act": o.act,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": torch_dtype,
    }
    if not o.no_head:
        if not o.omit_num_labels:
            c["num_labels"] = o.labels
        c["id2label"] = {str(i): "LABEL_%d" % i for i in range(o.labels)}
        c["label2id"] = {"LABEL_%d" % i: i for i in range(o.labels)}
        c["problem_type"] = "regression" if o.labels == 1 else "single_label_classification"
    if o.pruned_heads:
        c["pruned_heads"] = {str(k): sorted(int(h) for h in v) for k, v in o.pruned_heads.items()}
    return c


def write_checkpoint(o):
    os.makedirs(o.out, exist_ok=True)
    with open(os.path.join(o.out, "config.json"), "w") as f:
        json.dump(config_dict(o), f, indent=2)
        f.write("\n")
    specs = tensor_specs(o)
    if o.shards <= 1:
        safetensors_np.write(os.path.join(o.out, "model.safetensors"), specs, o.dtype)
    else:
        # Contiguous groups of roughly equal bytes, named as transformers names its shards.
        item = 4 if o.dtype == "F32" else 2
        sizes = [int(np.prod(sh)) * item for _, sh, _ in specs]
        total, target = sum(sizes), sum(sizes) / o.shards
        groups, acc = [[] for _ in range(o.shards)], 0
        for spec, n in zip(specs, sizes):
            g = min(int(acc / target), o.shards - 1)
            groups[g].append(spec)
            acc += n
        weight_map = {}
        for k, group in enumerate(groups):
            fn = "model-%05d-of-%05d.safetensors" % (k + 1, o.shards)
            safetensors_np.write(os.path.join(o.out, fn), group, o.dtype)
            weight_map.update({name: fn for name, _, _ in group})
        with open(os.path.join(o.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    if o.vocab_txt:
        with open(os.path.join(o.out, "vocab.txt"), "w") as f:
            for i in range(o.vocab):
                f.write((SPECIAL[i] if i < len(SPECIAL) else "tok%d" % i) + "\n")
        with open(os.path.join(o.out, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True, "model_max_length": o.max_pos,
                       "tokenizer_class": "BertTokenizer"}, f, indent=2)
    return o.out


def parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ff", type=int, default=None, help="default 4 * hidden")
    ap.add_argument("--vocab", type=int, default=100)
    ap.add_argument("--labels", type=int, default=2, help="1 = regression")
    ap.add_argument("--act", choices=["gelu", "gelu_new", "relu"], default="gelu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-pos", type=int, default=32)
    ap.add_argument("--type-vocab", type=int, default=2)
    ap.add_argument("--eps", type=float, default=1e-12, help="layer_norm_eps")
    ap.add_argument("--dtype", choices=list(safetensors_np.DTYPES), default="F32")
    ap.add_argument("--no-head", action="store_true", help="BertModel: no classifier, no prefix")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--pruned-heads", type=json.loads, default=None,
                    help='JSON map layer -> removed head ids, e.g. \'{"1": [0, 2]}\'')
    ap.add_argument("--vocab-txt", action="store_true", help="also write vocab.txt (V tokens)")
    ap.add_argument("--omit-num-labels", action="store_true",
                    help="leave num_labels out of config.json (as transformers writes it)")
    ap.add_argument("--init-scale", type=float, default=1.5)
    ap.add_argument("--emb-std", type=float, default=0.3)
    ap.add_argument("--bias-std", type=float, default=0.1)
    ap.add_argument("--bert-base", action="store_true",
                    help="12 layers, 768 hidden, 12 heads, 3072 ff, vocab 30522, 512 positions")
    return ap


def options(argv=None, **kw):
    """Parsed options from argv and/or keyword overrides (for use from other scripts)."""
    o = parser().parse_args(argv if argv is not None else [kw.pop("out")])
    for k, v in kw.items():
        if not hasattr(o, k):
            raise TypeError("unknown option %s" % k)
        setattr(o, k, v)
    if o.bert_base:
        o.layers, o.hidden, o.heads, o.ff, o.vocab, o.max_pos = 12, 768, 12, 3072, 30522, 512
    if o.ff is None:
        o.ff = 4 * o.hidden
    if o.hidden % o.heads:
        raise ValueError("hidden %d is not a multiple of heads %d" % (o.hidden, o.heads))
    if o.no_head:
        o.labels = 0
    elif o.labels < 1:
        raise ValueError("--labels must be >= 1")
    for k, v in (o.pruned_heads or {}).items():
        if not 0 <= int(k) < o.layers or any(not 0 <= int(h) < o.heads for h in v):
            raise ValueError("pruned_heads %s: layer or head out of range" % k)
    return o


def make_checkpoint(out, **kw):
    return write_checkpoint(options(out=out, **kw))


if __name__ == "__main__":
    write_checkpoint(options(sys.argv[1:]))
