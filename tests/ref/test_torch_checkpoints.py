"""bt_model against torch: random BERT checkpoints written here the way transformers stores
them, loaded by mk_model_dump, every view compared bitwise with torch's own F16/BF16 -> F32
conversion, and the saved copy read back by an independent safetensors parser.

Pruning follows transformers' prune_heads: the rows of the removed heads go from query, key
and value (weights and biases) and the same columns from attention.output.dense.weight.
"""
import json
import os
import random
import struct

import numpy as np
import pytest
import torch

from bttest import run, tool

ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
NP_DTYPE = {"F32": np.float32, "I64": np.int64}


def raw_bytes(t):
    """Little-endian storage bytes of a tensor (bf16 through its int16 bit pattern)."""
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().tobytes()
    return t.contiguous().numpy().tobytes()


def write_safetensors(path, tensors, pad=True, shuffle=None):
    names = list(tensors)
    if shuffle is not None:
        shuffle.shuffle(names)
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for n in names:
        b = raw_bytes(tensors[n])
        header[n] = {"dtype": ST_DTYPE[tensors[n].dtype], "shape": list(tensors[n].shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    """Independent reader with the safetensors library's own checks (no holes, no overlap)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", None)
    body = data[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1]) for v in header.values())
    pos = 0
    for b, e in spans:
        assert b == pos, "hole or overlap at %d" % b
        pos = e
    assert pos == len(body), "data region has %d bytes, tensors cover %d" % (len(body), pos)
    out = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        out[k] = (v["dtype"], np.frombuffer(body[b:e], dtype=NP_DTYPE[v["dtype"]]).reshape(v["shape"]))
    return n, meta, out


def bert_state_dict(L, D, H, F, V, P, TT, C, dtype, prefix, classifier, pooler, gen):
    sd = {}

    def r(*shape):
        # magnitudes from 2^-28 to 2^12: F16 subnormals occur, nothing overflows F16
        scale = torch.exp2(torch.rand(*shape, generator=gen) * 40 - 28)
        x = torch.randn(*shape, generator=gen).clamp(-8, 8) * scale
        return x.to(dtype)

    p = prefix
    sd[p + "embeddings.position_ids"] = torch.arange(P, dtype=torch.int64).unsqueeze(0)
    sd[p + "embeddings.word_embeddings.weight"] = r(V, D)
    sd[p + "embeddings.position_embeddings.weight"] = r(P, D)
    sd[p + "embeddings.token_type_embeddings.weight"] = r(TT, D)
    sd[p + "embeddings.LayerNorm.weight"] = r(D)
    sd[p + "embeddings.LayerNorm.bias"] = r(D)
    for l in range(L):
        a = p + "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            sd[a + "attention.self.%s.weight" % m] = r(D, D)
            sd[a + "attention.self.%s.bias" % m] = r(D)
        sd[a + "attention.output.dense.weight"] = r(D, D)
        sd[a + "attention.output.dense.bias"] = r(D)
        sd[a + "attention.output.LayerNorm.weight"] = r(D)
        sd[a + "attention.output.LayerNorm.bias"] = r(D)
        sd[a + "intermediate.dense.weight"] = r(F, D)
        sd[a + "intermediate.dense.bias"] = r(F)
        sd[a + "output.dense.weight"] = r(D, F)
        sd[a + "output.dense.bias"] = r(D)
        sd[a + "output.LayerNorm.weight"] = r(D)
        sd[a + "output.LayerNorm.bias"] = r(D)
    if pooler:
        sd[p + "pooler.dense.weight"] = r(D, D)
        sd[p + "pooler.dense.bias"] = r(D)
    if classifier:
        sd["classifier.weight"] = r(C, D)
        sd["classifier.bias"] = r(C)
    return sd


def prune_state_dict(sd, pruned, L, H, dh, prefix):
    """transformers' prune_heads: keep the other heads' rows of q/k/v and columns of o."""
    sd = dict(sd)
    for l in range(L):
        gone = set(pruned.get(str(l), []))
        keep = torch.tensor([h * dh + i for h in range(H) if h not in gone for i in range(dh)], dtype=torch.long)
        a = prefix + "encoder.layer.%d." % l
        for m in ("query", "key", "value"):
            for k in ("weight", "bias"):
                sd[a + "attention.self.%s.%s" % (m, k)] = sd[a + "attention.self.%s.%s" % (m, k)].index_select(0, keep)
        sd[a + "attention.output.dense.weight"] = sd[a + "attention.output.dense.weight"].index_select(1, keep)
    return sd


def f32(t):
    """torch's own conversion to float32, as a numpy array (the reference for every view)."""
    return t.to(torch.float32).numpy()


def same_bits(a, b, what):
    a = np.ascontiguousarray(a, dtype=np.float32).ravel()
    b = np.ascontiguousarray(b, dtype=np.float32).ravel()
    assert a.shape == b.shape, "%s: %s vs %s" % (what, a.shape, b.shape)
    bad = np.flatnonzero(a.view(np.uint32) != b.view(np.uint32))
    assert bad.size == 0, "%s differs at %d: %r vs %r" % (what, bad[0], a[bad[0]], b[bad[0]])


def check_case(tool, work, name, dtype, pruned, prefix, classifier, pooler, shards, gen, rnd, prune_in_c=False):
    """pruned: heads absent from the checkpoint, or with prune_in_c heads that bt_model_prune
    removes from a full checkpoint; the expectations are the same either way."""
    L, D, H, F, V, P, TT, C = 3, 16, 4, 24, 50, 20, 2, 3
    mdir, odir, sdir = (os.path.join(work, name, x) for x in ("model", "dump", "saved"))
    for d in (mdir, odir):
        os.makedirs(d, exist_ok=True)
    full = bert_state_dict(L, D, H, F, V, P, TT, C, dtype, prefix, classifier, pooler, gen)
    full["cls.predictions.transform.dense.weight"] = torch.zeros(D, D, dtype=dtype)  # unused: ignored
    sd = prune_state_dict(full, pruned, L, H, D // H, prefix)
    arch = "BertForSequenceClassification" if classifier else "BertModel"
    config = {"architectures": [arch], "model_type": "bert", "hidden_size": D, "num_hidden_layers": L,
              "num_attention_heads": H, "intermediate_size": F, "vocab_size": V, "max_position_embeddings": P,
              "type_vocab_size": TT, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "pad_token_id": 0,
              "id2label": {str(i): "L%d" % i for i in range(C)}, "label2id": {"L%d" % i: i for i in range(C)},
              "pruned_heads": {} if prune_in_c else pruned, "transformers_version": "4.40.0", "attention_probs_dropout_prob": 0.1}
    with open(os.path.join(mdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    stored = full if prune_in_c else sd
    if shards == 1:
        write_safetensors(os.path.join(mdir, "model.safetensors"), stored, pad=False, shuffle=rnd)
    else:
        names = list(stored)
        parts = [names[i::shards] for i in range(shards)]
        wm = {}
        for i, part in enumerate(parts):
            fn = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
            write_safetensors(os.path.join(mdir, fn), {n: stored[n] for n in part}, shuffle=rnd)
            wm.update({n: fn for n in part})
        with open(os.path.join(mdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)

    cmd = [tool, mdir, odir, sdir]
    if prune_in_c:
        mask = np.ones((L, H), dtype="<f4")
        for l, heads in pruned.items():
            mask[int(l), heads] = 0
        mask.tofile(os.path.join(work, name, "mask.f32"))
        cmd.append(os.path.join(work, name, "mask.f32"))
    run(cmd)
    with open(os.path.join(odir, "model.json")) as f:
        got = json.load(f)

    def view(v, n):
        a = np.fromfile(os.path.join(odir, v + ".f32"), dtype="<f4")
        assert a.size == n, "%s: %s has %d floats, want %d" % (name, v, a.size, n)
        return a

    # config as transformers would read it
    assert got["dtype"] == ST_DTYPE[dtype], got["dtype"]
    assert (got["n_layers"], got["d_model"], got["n_heads"], got["d_ff"]) == (L, D, H, F)
    assert (got["vocab_size"], got["max_pos"], got["type_vocab"]) == (V, P, TT)
    assert got["head"] == (1 if classifier else 0) and got["n_labels"] == (C if classifier else 0)
    assert got["has_pooler"] == int(pooler)
    for l in range(L):
        gone = set(pruned.get(str(l), []))
        assert got["head_id"][l] == [h for h in range(H) if h not in gone], (l, got["head_id"][l])
    # transformers' num_parameters(): every parameter once; position_ids is a buffer
    want_count = sum(t.numel() for k, t in sd.items() if not k.endswith("position_ids") and not k.startswith("cls."))
    assert got["param_count"] == want_count, (got["param_count"], want_count)

    p = prefix
    same_bits(view("wte", V * D), f32(sd[p + "embeddings.word_embeddings.weight"]), "wte")
    same_bits(view("wpe", P * D), f32(sd[p + "embeddings.position_embeddings.weight"]), "wpe")
    same_bits(view("wtt", TT * D), f32(sd[p + "embeddings.token_type_embeddings.weight"]), "wtt")
    same_bits(view("emb_ln_g", D), f32(sd[p + "embeddings.LayerNorm.weight"]), "emb_ln_g")
    same_bits(view("emb_ln_b", D), f32(sd[p + "embeddings.LayerNorm.bias"]), "emb_ln_b")
    for l in range(L):
        a = p + "encoder.layer.%d." % l
        Dl = len(got["head_id"][l]) * (D // H)
        qkv = torch.cat([sd[a + "attention.self.%s.weight" % m] for m in ("query", "key", "value")])
        bqkv = torch.cat([sd[a + "attention.self.%s.bias" % m] for m in ("query", "key", "value")])
        same_bits(view("L%d.wqkv" % l, 3 * Dl * D), f32(qkv), "L%d.wqkv" % l)
        same_bits(view("L%d.bqkv" % l, 3 * Dl), f32(bqkv), "L%d.bqkv" % l)
        for v, t in (("wo", "attention.output.dense.weight"), ("bo", "attention.output.dense.bias"),
                     ("ln1_g", "attention.output.LayerNorm.weight"), ("ln1_b", "attention.output.LayerNorm.bias"),
                     ("w1", "intermediate.dense.weight"), ("b1", "intermediate.dense.bias"),
                     ("w2", "output.dense.weight"), ("b2", "output.dense.bias"),
                     ("ln2_g", "output.LayerNorm.weight"), ("ln2_b", "output.LayerNorm.bias")):
            same_bits(view("L%d.%s" % (l, v), sd[a + t].numel()), f32(sd[a + t]), "L%d.%s" % (l, v))
    if pooler:
        same_bits(view("pool_w", D * D), f32(sd[p + "pooler.dense.weight"]), "pool_w")
        same_bits(view("pool_b", D), f32(sd[p + "pooler.dense.bias"]), "pool_b")
    if classifier:
        same_bits(view("cls_w", C * D), f32(sd["classifier.weight"]), "cls_w")
        same_bits(view("cls_b", C), f32(sd["classifier.bias"]), "cls_b")

    # the saved copy: what BertForSequenceClassification / BertModel.save_pretrained would write
    hlen, meta, saved = read_safetensors(os.path.join(sdir, "model.safetensors"))
    assert hlen % 8 == 0 and meta == {"format": "pt"}, (hlen, meta)
    save_prefix = "bert." if classifier else ""

    def saved_name(k):
        if k.startswith("classifier."):
            return k
        return save_prefix + (k[len(p):] if p and k.startswith(p) else k)

    want = {saved_name(k): t for k, t in sd.items() if not k.endswith("position_ids") and not k.startswith("cls.")}
    assert set(saved) == set(want), sorted(set(saved) ^ set(want))
    for k, t in want.items():
        dt, a = saved[k]
        assert dt == "F32" and list(a.shape) == list(t.shape), (k, dt, a.shape, t.shape)
        same_bits(a, f32(t), "saved " + k)
    with open(os.path.join(sdir, "config.json")) as f:
        sc = json.load(f)
    assert {k: sorted(v) for k, v in sc["pruned_heads"].items()} == {k: sorted(v) for k, v in pruned.items() if v}
    for k in ("transformers_version", "attention_probs_dropout_prob", "pad_token_id", "id2label", "label2id"):
        assert sc[k] == config[k], k
    assert sc["architectures"] == [arch]
    print("%s: ok (%s, %d shard(s), prefix %r, %s %s, %d parameters)" % (
        name, ST_DTYPE[dtype], shards, prefix, "pruned here" if prune_in_c else "pruned", pruned, want_count))


def check_bad(tool, work):
    """A truncated shard must fail with exit code 2 and name the file."""
    d = os.path.join(work, "f32_classifier", "model")
    bad = os.path.join(work, "truncated")
    os.makedirs(bad, exist_ok=True)
    with open(os.path.join(d, "config.json")) as f:
        cfg = f.read()
    with open(os.path.join(bad, "config.json"), "w") as f:
        f.write(cfg)
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "model.safetensors"), "wb") as f:
        f.write(data[:len(data) // 2])
    r = run([tool, bad, bad], expect=2)
    assert "model.safetensors: tensor " in r.stderr and "outside the data region" in r.stderr, r.stderr
    print("truncated file: ok (%s)" % r.stderr.strip())


def check_corruptions(tool, work, n=60):
    """Flipped bytes in the header or the config must give a clean error or a clean load, never
    a crash (run under -DBT_SANITIZE=ON this also catches out-of-bounds reads)."""
    src = os.path.join(work, "f32_classifier", "model")
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        data = f.read()
    with open(os.path.join(src, "config.json"), "rb") as f:
        cfg = f.read()
    (hlen,) = struct.unpack("<Q", data[:8])
    rnd = random.Random(11)
    d = os.path.join(work, "corrupt")
    os.makedirs(d, exist_ok=True)
    codes = {}
    for i in range(n):
        buf, c = bytearray(data), bytearray(cfg)
        target = buf if i % 3 else c
        limit = 8 + hlen if target is buf else len(c)
        for _ in range(rnd.randint(1, 4)):
            target[rnd.randrange(limit)] = rnd.choice(b'0123456789[]{},:"-.eE \x00\xff')
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(buf)
        with open(os.path.join(d, "config.json"), "wb") as f:
            f.write(c)
        r = run([tool, d, d], expect=(0, 2))
        assert r.returncode in (0, 2) and "Sanitizer" not in r.stderr, (i, r.returncode, r.stderr[-2000:])
        assert r.returncode == 0 or r.stderr.count("\n") == 1, r.stderr
        codes[r.returncode] = codes.get(r.returncode, 0) + 1
    print("corruptions: ok (%s)" % ", ".join("%d x exit %d" % (v, k) for k, v in sorted(codes.items())))


CASES = [  # name, dtype, pruned heads, prefix, classifier, pooler, shards, pruned by bt_model_prune
    ("f32_classifier", torch.float32, {"0": [1, 3]}, "bert.", True, True, 1, False),
    ("f16_sharded", torch.float16, {"1": [0], "2": [0, 1, 2, 3]}, "bert.", True, True, 3, False),
    ("bf16_encoder", torch.bfloat16, {}, "", False, True, 1, False),
    ("bf16_pretraining_prefix", torch.bfloat16, {"2": [2]}, "bert.", False, False, 2, False),
    ("bf16_pruned_by_mask", torch.bfloat16, {"0": [3], "1": [0, 1, 2, 3], "2": [1, 2]}, "bert.", True, True, 1, True),
]


@pytest.fixture(scope="module")
def streams():
    """One torch generator and one random.Random for the cases in order (their draws depend on
    the order, as the cases were written)."""
    return torch.Generator().manual_seed(1234), random.Random(5)


@pytest.mark.parametrize("name,dtype,pruned,prefix,classifier,pooler,shards,prune_in_c", CASES,
                         ids=[c[0] for c in CASES])
def test_checkpoint(name, dtype, pruned, prefix, classifier, pooler, shards, prune_in_c, streams, work):
    gen, rnd = streams
    check_case(tool("mk_model_dump"), work, name, dtype, pruned, prefix, classifier, pooler, shards, gen, rnd,
               prune_in_c=prune_in_c)


@pytest.fixture
def f32_classifier(streams, work):
    """The files of test_checkpoint[f32_classifier] (made here when that test did not run)."""
    if not os.path.exists(os.path.join(work, "f32_classifier", "model", "model.safetensors")):
        test_checkpoint(*CASES[0], streams, work)


def test_truncated_shard(f32_classifier, work):
    check_bad(tool("mk_model_dump"), work)


def test_corruptions(f32_classifier, work):
    check_corruptions(tool("mk_model_dump"), work)
