"""pytorch_model.bin against model.safetensors: the same weights in both formats must load
bitwise the same and give bitwise the same `bertology forward` outputs, for torch's zip format
and its legacy (torch < 1.6) format; hostile .bin files must be refused with one clear line
each (never a crash).

Each safetensors checkpoint (make_checkpoint.py / make_checkpoint_family.py) is turned into a
torch nn.Module tree whose parameters carry the Hugging Face names, and that module's
state_dict() is written with torch.save (the zip format of torch >= 1.6, as
save_pretrained does), with what real checkpoints carry besides: an int64 position_ids buffer
(BERT), an LM head tied to the embedding (decoders: one storage under two names), and
_metadata. Sharded checkpoints get a pytorch_model.bin.index.json like transformers writes.

The checks test_torchbin.py runs (torchbin.vs_safetensors, torchbin.hostile); write_bin() is
also how test_gpt_e2e.py ships openai-gpt checkpoints.
"""
import collections
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import torch

import make_checkpoint_family as mcf
from bttest import run as run_cmd

HERE = os.path.dirname(os.path.abspath(__file__))

TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_st(path):
    """The tensors of a safetensors file as torch tensors of their stored dtype, file order."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    out = collections.OrderedDict()
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, en = e["data_offsets"]
        raw = bytearray(body[b:en])
        dt = TORCH_DTYPE[e["dtype"]]
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def st_tensors(model_dir):
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        out = collections.OrderedDict()
        for fn in files:
            out.update(read_st(os.path.join(model_dir, fn)))
        return out
    return read_st(os.path.join(model_dir, "model.safetensors"))


def module_of(tensors, tie=None, buffers=()):
    """An nn.Module tree holding tensors under their dotted names; tie = (alias, name) registers
    one Parameter twice (a tied LM head); buffers are registered as buffers."""
    root = torch.nn.Module()

    def place(name):
        m = root
        parts = name.split(".")
        for p in parts[:-1]:
            if not hasattr(m, p):
                m.add_module(p, torch.nn.Module())
            m = getattr(m, p)
        return m, parts[-1]

    for name, t in tensors.items():
        m, leaf = place(name)
        if name in buffers:
            m.register_buffer(leaf, t)
        else:
            m.register_parameter(leaf, torch.nn.Parameter(t, requires_grad=t.is_floating_point()))
    if tie:
        alias, name = tie
        src, sleaf = place(name)
        m, leaf = place(alias)
        m.register_parameter(leaf, getattr(src, sleaf))
    return root


def write_bin(model_dir, out_dir, family, shards=1, legacy=False):
    """out_dir: config.json of model_dir + its weights as pytorch_model.bin (or shards)."""
    os.makedirs(out_dir, exist_ok=True)
    shutil.copy(os.path.join(model_dir, "config.json"), out_dir)
    t = st_tensors(model_dir)
    buffers, tie = set(), None
    if family == "bert":
        pre = "bert." if any(k.startswith("bert.") for k in t) else ""
        P = t[pre + "embeddings.position_embeddings.weight"].shape[0]
        t[pre + "embeddings.position_ids"] = torch.arange(P).reshape(1, P)
        buffers.add(pre + "embeddings.position_ids")
    if family in ("gpt2", "openai-gpt") and "transformer.wte.weight" in t and "lm_head.weight" not in t:
        emb = "transformer.wte.weight" if family == "gpt2" else "transformer.tokens_embed.weight"
        tie = ("lm_head.weight", emb)
    sd = module_of(t, tie, buffers).state_dict()
    if shards == 1:
        torch.save(sd, os.path.join(out_dir, "pytorch_model.bin"), _use_new_zipfile_serialization=not legacy)
        return
    names = list(sd)
    per = (len(names) + shards - 1) // shards
    wm = {}
    for s in range(shards):
        fn = "pytorch_model-%05d-of-%05d.bin" % (s + 1, shards)
        # a plain dict, as save_pretrained(safe_serialization=False) writes its shards
        part = {k: sd[k] for k in names[s * per:(s + 1) * per]}
        torch.save(part, os.path.join(out_dir, fn))
        wm.update({k: fn for k in part})
    with open(os.path.join(out_dir, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f, indent=2)


class Failure(Exception):
    pass


def run(cmd):
    p = run_cmd(cmd, expect=None, timeout=600)
    if p.returncode < 0:
        raise Failure("%s died of signal %d: %s" % (cmd[0], -p.returncode, p.stderr[-300:]))
    return p


def same_dirs(a, b, skip=()):
    fa, fb = sorted(os.listdir(a)), sorted(os.listdir(b))
    if fa != fb:
        raise Failure("%s and %s hold different files: %s vs %s" % (a, b, fa, fb))
    for fn in fa:
        if fn in skip:
            continue
        with open(os.path.join(a, fn), "rb") as x, open(os.path.join(b, fn), "rb") as y:
            if x.read() != y.read():
                raise Failure("%s differs between %s and %s" % (fn, a, b))
    return len(fa)


def config_of(d):
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)


def make_st(work, name, family, dtype, shards):
    d = os.path.join(work, name, "st")
    if family == "bert":
        cmd = [sys.executable, os.path.join(HERE, "make_checkpoint.py"), d, "--dtype", dtype,
               "--shards", str(shards), "--layers", "2", "--hidden", "32", "--heads", "4", "--vocab", "120"]
        run_cmd(cmd)
    else:
        if shards != 1:
            raise ValueError("family checkpoints are unsharded")
        kw = {"labels": 2} if family in ("roberta", "distilbert") else {}
        mcf.make_checkpoint(d, family=family, layers=2, hidden=32, heads=4, vocab=120, max_pos=32,
                            seed=7, dtype=dtype, **kw)
    return d


def check_equal(work, name, family, dtype, shards, bin_shards, bt, dump):
    st = make_st(work, name, family, dtype, shards)
    bn = os.path.join(work, name, "bin")
    write_bin(st, bn, family, shards=max(bin_shards, 1), legacy=bin_shards == 0)
    # every parameter view, bitwise
    outs = []
    for d in (st, bn):
        o = d + ".dump"
        os.makedirs(o, exist_ok=True)
        p = run([dump, d, o])
        if p.returncode:
            raise Failure("mk_model_dump %s: %s" % (d, p.stderr.strip()))
        with open(os.path.join(o, "model.json")) as f:
            meta = json.load(f)
        os.remove(os.path.join(o, "model.json"))
        outs.append((o, meta))
    n = same_dirs(outs[0][0], outs[1][0])
    for k in ("dtype", "n_params"):
        if outs[0][1].get(k) != outs[1][1].get(k):
            raise Failure("model.json %s: %r vs %r" % (k, outs[0][1].get(k), outs[1][1].get(k)))
    # forward outputs, bitwise
    cfg = config_of(st)
    L = cfg.get("num_hidden_layers", cfg.get("n_layer", cfg.get("n_layers")))
    H = cfg.get("num_attention_heads", cfg.get("n_head", cfg.get("n_heads")))
    rng = np.random.default_rng(3)
    ids = os.path.join(work, name, "ids.txt")
    with open(ids, "w") as f:
        for n_tok in (1, 5, 17):
            f.write(" ".join(str(int(v)) for v in rng.integers(3, 120, n_tok)) + "\n")
    gates = os.path.join(work, name, "gates.npy")
    np.save(gates, rng.uniform(0, 1, (L, H)).astype(np.float32))
    fwd = []
    for d in (st, bn):
        o = d + ".fwd"
        p = run([bt, "forward", "--model", d, "--ids", ids, "--gates", gates, "--threads", "1",
                 "--hidden", "--attentions", "--out", o])
        if p.returncode:
            raise Failure("bertology forward %s: %s" % (d, p.stderr.strip()))
        fwd.append(o)
    m = same_dirs(fwd[0], fwd[1], skip=("meta.json", "run.json"))
    return "%d views, %d forward files bitwise equal" % (n, m)


# --- hostile files ---------------------------------------------------------------------------

def tiny_sd():
    sd = collections.OrderedDict()
    sd["a"] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    return sd


def zip_bytes(pkl, storages, prefix="archive", method=zipfile.ZIP_STORED, pkl_method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo(prefix + "/data.pkl"), pkl, compress_type=pkl_method)
        for k, b in storages.items():
            z.writestr(zipfile.ZipInfo(prefix + "/data/" + k), b, compress_type=method)
        z.writestr(zipfile.ZipInfo(prefix + "/version"), b"3\n")
    return buf.getvalue()


def saved_parts(sd):
    """(data.pkl, {key: bytes}) of torch.save(sd)."""
    buf = io.BytesIO()
    torch.save(sd, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    pre = pkl[:-len("data.pkl")]
    st = {n[len(pre) + 5:]: z.read(n) for n in z.namelist() if n.startswith(pre + "data/")}
    return z.read(pkl), st


def overlapping_zip(n_copies):
    """One stored storage, its central directory entry repeated under n_copies names that all
    point at the same bytes (a small file claiming n_copies times its size)."""
    big = torch.zeros(1 << 16)
    sd = collections.OrderedDict(("t%d" % i, big) for i in range(1))
    pkl, st = saved_parts(sd)
    # a pickle naming n_copies storages 0..n-1, each of 65536 floats
    sd2 = collections.OrderedDict(("t%d" % i, torch.zeros(1 << 16)) for i in range(n_copies))
    pkl2, _ = saved_parts(sd2)
    data = zip_bytes(pkl2, {"0": st["0"]})
    # duplicate the central directory record of archive/data/0 under the names 1..n-1
    eocd = data.rindex(b"PK\x05\x06")
    cd_size, cd_off = struct.unpack("<II", data[eocd + 12:eocd + 20])
    cd = data[cd_off:cd_off + cd_size]
    recs, i = [], 0
    while i < len(cd):
        nl, xl, cl = struct.unpack("<HHH", cd[i + 28:i + 34])
        recs.append(cd[i:i + 46 + nl + xl + cl])
        i += 46 + nl + xl + cl
    src = [r for r in recs if r[46:46 + 14] == b"archive/data/0"][0]
    extra = []
    for k in range(1, n_copies):
        name = ("archive/data/%d" % k).encode()
        extra.append(src[:28] + struct.pack("<H", len(name)) + src[30:46] + name)
    cd2 = b"".join(recs + extra)
    n_ent = len(recs) + len(extra)
    tail = data[eocd:eocd + 22]
    tail = tail[:8] + struct.pack("<HHII", n_ent, n_ent, len(cd2), cd_off) + tail[20:]
    return data[:cd_off] + cd2 + tail


def hostile_cases(work):
    """(name, bytes, phrase the message must contain)."""
    pkl, st = saved_parts(tiny_sd())
    cases = []
    for mod, fn in ((b"os", b"system"), (b"builtins", b"eval"), (b"posix", b"system"),
                    (b"subprocess", b"Popen"), (b"torch", b"load")):
        p = pkl.replace(b"ccollections\nOrderedDict\n", b"c" + mod + b"\n" + fn + b"\n")
        cases.append(("global_%s_%s" % (mod.decode(), fn.decode()), zip_bytes(p, st),
                      "global %s.%s is not allowed" % (mod.decode(), fn.decode())))
    # storage offset: the tensor's offset (BININT1 0 after BINPERSID) made 5 of a 6-element storage
    i = pkl.index(b"QK\x00")
    cases.append(("offset_out_of_range", zip_bytes(pkl[:i] + b"QK\x05" + pkl[i + 3:], st),
                  "runs past the end of storage"))
    cases.append(("wrong_storage_size", zip_bytes(pkl, {"0": st["0"][:-4]}), "holds 20 bytes"))
    cases.append(("missing_storage", zip_bytes(pkl, {}), "is not in the archive"))
    full = zip_bytes(pkl, st)
    cases.append(("truncated_zip", full[:len(full) // 2], "unreadable zip archive"))
    cases.append(("truncated_end", full[:-10], "unreadable zip archive"))
    # an opcode a state dict never uses (EMPTY_LIST where the OrderedDict was)
    cases.append(("opcode_list", zip_bytes(pkl.replace(b"ccollections\nOrderedDict\nq\x00)R", b"]q\x00", 1), st),
                  "opcode 0x5d (']') is not one torch.save"))
    # compressed storage: 256 MiB of zeros in a ~250 KiB file
    cases.append(("bomb_compressed_storage",
                  zip_bytes(saved_parts(collections.OrderedDict(a=torch.zeros(1)))[0].replace(
                      b"K\x01t", b"J\x00\x00\x00\x04t", 1).replace(b"K\x01\x85", b"J\x00\x00\x00\x04\x85", 1),
                      {"0": bytes(1 << 28)}, method=zipfile.ZIP_DEFLATED), "is compressed"))
    # a data.pkl that inflates to 128 MiB
    cases.append(("bomb_pickle", zip_bytes(b"\x80\x02X" + struct.pack("<I", 1 << 27) + bytes(1 << 27), {},
                                           pkl_method=zipfile.ZIP_DEFLATED), "limit"))
    # libzip's consistency check (ZIP_CHECKCONS) or the storage byte budget refuses it
    cases.append(("bomb_overlap", overlapping_zip(64), ("overlapping zip entries", "Zip archive inconsistent")))
    # non-contiguous tensor
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    p2, s2 = saved_parts(collections.OrderedDict(a=t))
    cases.append(("non_contiguous", zip_bytes(p2, s2), "not contiguous"))
    p3, s3 = saved_parts({"model": tiny_sd()})
    cases.append(("nested_dict", zip_bytes(p3, s3), "entry 'model' is not a tensor"))
    # the legacy format (torch < 1.6): the same checks, and its own framing
    buf = io.BytesIO()
    torch.save(tiny_sd(), buf, _use_new_zipfile_serialization=False)
    leg = buf.getvalue()
    cases.append(("legacy_os_system", leg.replace(b"ccollections\nOrderedDict\n", b"cos\nsystem\n"),
                  "global os.system is not allowed"))
    cases.append(("legacy_truncated", leg[:-10], "the file ends first (truncated)"))
    n_at = leg.rindex(struct.pack("<q", 6))
    cases.append(("legacy_wrong_numel", leg[:n_at] + struct.pack("<q", 7) + leg[n_at + 8:], "holds 7 elements"))
    cases.append(("legacy_trailing", leg + b"extra", "5 bytes after the last storage"))
    cases.append(("legacy_big_endian", leg.replace(b"little_endianq\x02\x88", b"little_endianq\x02\x89"),
                  "big-endian"))
    cases.append(("legacy_bad_magic", leg[:5] + b"\x00" + leg[6:], "without the magic number"))
    cases.append(("not_torch", b"hello world, not a checkpoint", "neither torch.save's zip format nor its legacy"))
    p4 = pkl.replace(b"torch\nFloatStorage", b"torch\nComplexFloatStorage"[:len(b"torch\nFloatStorage")])
    cases.append(("unknown_storage", zip_bytes(p4, st), "is not allowed"))
    return cases


def check_hostile(work, dump):
    rows = []
    for name, data, phrase in hostile_cases(work):
        d = os.path.join(work, "hostile", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 8,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
                       "vocab_size": 10, "max_position_embeddings": 8, "type_vocab_size": 2}, f)
        path = os.path.join(d, "pytorch_model.bin")
        with open(path, "wb") as f:
            f.write(data)
        os.makedirs(d + ".dump", exist_ok=True)
        p = run([dump, d, d + ".dump"])
        msg = p.stderr.strip()
        if p.returncode != 2:
            raise Failure("%s: exit %d (want 2): %s" % (name, p.returncode, msg))
        phrases = phrase if isinstance(phrase, tuple) else (phrase,)
        if "\n" in msg or path not in msg or not any(ph in msg for ph in phrases):
            raise Failure("%s: message %r should be one line naming %s and saying %r" % (name, msg, path, phrase))
        rows.append("  %-24s %s" % (name, msg[len(path) + 2:][:110]))
    return rows


CASES = [  # name, family, dtype, safetensors shards, .bin shards (0: one legacy-format file)
    ("bert_f32", "bert", "F32", 1, 1), ("bert_f16", "bert", "F16", 1, 1),
    ("bert_legacy_f32", "bert", "F32", 1, 0), ("gpt2_legacy_f16", "gpt2", "F16", 1, 0),
    ("distilbert_legacy_bf16", "distilbert", "BF16", 1, 0),
    ("bert_bf16", "bert", "BF16", 1, 1), ("bert_sharded", "bert", "F32", 3, 3),
    ("gpt2_f32", "gpt2", "F32", 1, 1), ("gpt2_bf16", "gpt2", "BF16", 1, 2),
    ("gpt_f16", "openai-gpt", "F16", 1, 1), ("roberta_f32", "roberta", "F32", 1, 1),
    ("distilbert_bf16", "distilbert", "BF16", 1, 1)]
