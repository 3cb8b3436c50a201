"""Writes run.h5-like files with h5py, following docs/run_h5.md, for tests of the analysis
package: the attention maps are whatever the test chooses, so every statistic has a known value.
What a test does not choose is filled in from the schema (zeros of the right dtype and shape,
empty strings), so the files follow it as bertology's do (test_schema checks that).
"""
import json
import os

import h5py
import numpy as np

from bertology_analysis.schema import load_schema

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "'", "the", "film",
         "is", "good", "bad", "##ly", "not", "a", "plot"]
ID = {t: i for i, t in enumerate(VOCAB)}


def write_vocab(model_dir):
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    return model_dir


def ids(words):
    return [ID[w] for w in words.split()]


def write_run(path, examples, attn, n_layers, n_heads, layers=None, model_dir="",
              dtype=np.float32, status="complete", groups=None, importance=None,
              entropy=None):
    """examples: token-id lists; attn: per example an array [len(layers), H, T, T];
    groups: {"/masking/score": array, ...} extra datasets, attributes as {"/masking@x": v}."""
    layers = list(range(n_layers)) if layers is None else list(layers)
    n = len(examples)
    T = np.array([len(e) for e in examples], dtype=np.int32)
    tok_off = np.concatenate([[0], np.cumsum(T)[:-1]]).astype(np.int64)
    sizes = [len(layers) * n_heads * t * t for t in T]
    att_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["format"], a["format_version"], a["status"] = "bertology-run", 1, status
        a["task"], a["split"], a["model_dir"] = "sst-2", "dev", model_dir
        a["model_config"] = json.dumps({"num_hidden_layers": n_layers,
                                        "num_attention_heads": n_heads})
        a["options"] = json.dumps({"command": "importance"})
        a["command_line"] = "fake_run.py"
        for k, v in (("n_layers", n_layers), ("n_heads", n_heads), ("n_labels", 2),
                     ("n_examples", n), ("n_ranks", 1)):
            a[k] = np.int64(v)
        f["examples/index"] = np.arange(n, dtype=np.int64)
        f["examples/length"] = T
        f["examples/token_offset"] = tok_off
        f["examples/token_ids"] = np.concatenate([np.asarray(e, np.int32) for e in examples])
        f["examples/label"] = np.zeros(n, dtype=np.int32)
        f["examples/logits"] = np.zeros((n, 2), dtype=np.float32)
        f["examples/loss"] = np.linspace(0.1, 1.0, n)
        f["attentions/data"] = np.concatenate([np.asarray(x, dtype).ravel() for x in attn])
        f["attentions/offset"] = att_off
        g = f["attentions"]
        g.attrs["layers"] = np.asarray(layers, np.int32)
        g.attrs["n_heads"] = np.int64(n_heads)
        g.attrs["block_shape"] = "layers,heads,T,T"
        g.attrs["dtype"] = np.dtype(dtype).name
        rng = np.random.default_rng(0)
        imp = importance if importance is not None else rng.random((n_layers, n_heads))
        f["importance/normalized"] = imp.astype(np.float32)
        f["importance/raw"] = imp.astype(np.float64)
        order = np.argsort(-imp.ravel(), kind="stable")
        ranks = np.empty(imp.size, np.int32)
        ranks[order] = np.arange(imp.size)
        f["importance/ranks"] = ranks.reshape(imp.shape)
        ent = entropy if entropy is not None else rng.random((n_layers, n_heads))
        f["entropy/normalized"] = ent.astype(np.float32)
        f["importance"].attrs["n_tokens"] = np.int64(T.sum())
        f.create_group("metrics").attrs["acc"] = 0.5
        complete(f)
        for k, v in (groups or {}).items():
            if "@" in k:
                obj, name = k.split("@")
                f.require_group(obj).attrs[name] = v
            else:
                f[k] = v
    return path


def complete(f):
    """Adds what the schema requires and the file lacks: zeros, empty strings."""
    sc = load_schema()
    for a in sc.root_attributes:
        if a.name not in f.attrs:
            f.attrs[a.name] = np.int64(0) if a.type == "int64" else (a.values[0] if a.values else "")
    dims = sc.dims(f)
    for g in sc.groups:
        if g.when != "always" and g.path not in f:
            continue
        grp = f.require_group(g.path)
        for a in g.attributes:
            if a.name not in grp.attrs:
                grp.attrs[a.name] = np.int64(0) if a.type == "int64" else (a.values[0] if a.values else "")
    on = {d.when for d in sc.datasets if d.path in f} | {"always"}  # a dataset there: its companions too
    for d in sc.datasets:
        if d.when in on and d.path not in f:
            f.create_dataset(d.path, data=np.zeros(sc.expected_shape(d.path, dims), d.dtypes[0]))
