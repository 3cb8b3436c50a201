#!/usr/bin/python3
"""Writes the seed corpus of fuzz_torchbin (tests/fuzz/corpus/torchbin/): the data.pkl of real
torch.save(state_dict) files (torch as installed, protocol 2 as save_pretrained uses, and 4),
hand-made edge cases, two whole small .bin files (zip archives) and one in the legacy format. Run from anywhere; rewrites the directory's files.

    torchbin_corpus.py [OUT_DIR]
"""
import collections
import io
import os
import sys
import zipfile

import torch


def data_pkl(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    return z.read([n for n in z.namelist() if n.endswith("/data.pkl")][0])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "corpus", "torchbin")
    os.makedirs(out, exist_ok=True)
    lin = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    emb = torch.nn.Embedding(5, 2)
    shared = collections.OrderedDict(wte=emb.weight.detach(), lm_head=emb.weight.detach())
    views = torch.arange(10.0)
    seeds = {
        "linear_ln_f32.pkl": data_pkl(lin.state_dict()),
        "linear_f16.pkl": data_pkl(lin.half().state_dict()),
        "linear_bf16.pkl": data_pkl(torch.nn.Linear(2, 2).bfloat16().state_dict()),
        "tied.pkl": data_pkl(shared),
        "views_offset.pkl": data_pkl(collections.OrderedDict(a=views[2:5], b=views[5:])),
        "buffers_int.pkl": data_pkl(collections.OrderedDict(pos=torch.arange(4).reshape(1, 4),
                                                            mask=torch.ones(2, dtype=torch.bool),
                                                            bias=torch.zeros(3, dtype=torch.uint8))),
        "parameter.pkl": data_pkl(collections.OrderedDict(p=torch.nn.Parameter(torch.ones(2)))),
        "protocol4.pkl": data_pkl(lin.float().state_dict(), pickle_protocol=4),
        "empty.pkl": data_pkl(collections.OrderedDict()),
        "scalar.pkl": data_pkl(collections.OrderedDict(s=torch.tensor(1.5))),
        "noncontiguous.pkl": data_pkl(collections.OrderedDict(t=torch.ones(2, 3).t())),
        "nested.pkl": data_pkl({"model": collections.OrderedDict(a=torch.ones(1))}),
        # hand-made: a disallowed global, a truncated pickle, an empty one, a bare STOP
        "global_os_system.pkl": b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.",
        "truncated.pkl": data_pkl(lin.state_dict())[:40],
        "stop_only.pkl": b".",
        "zero.pkl": b"",
    }
    # whole .bin files (zip archives), small ones
    for name, sd in (("bin_linear.bin", lin.float().state_dict()), ("bin_tied.bin", shared)):
        buf = io.BytesIO()
        torch.save(sd, buf)
        seeds[name] = buf.getvalue()
    buf = io.BytesIO()
    torch.save(shared, buf, _use_new_zipfile_serialization=False)
    seeds["bin_legacy_tied.bin"] = buf.getvalue()
    for name, b in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)
    print("%d seeds in %s" % (len(seeds), out))


if __name__ == "__main__":
    main()
