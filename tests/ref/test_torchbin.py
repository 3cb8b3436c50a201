"""pytorch_model.bin (src/model/torch_bin.c, torch_pickle.c) against model.safetensors: the same
weights in both formats load bitwise the same and give bitwise the same `bertology forward`
outputs (F32/F16/BF16, sharded, every family, torch's zip and legacy formats); safetensors wins
when both are there; hostile .bin files are refused with one line each (compare_torchbin.py).
"""
import os

import pytest

import compare_torchbin as ct
from bttest import BERTOLOGY, tool


@pytest.mark.parametrize("name,family,dtype,shards,bin_shards", ct.CASES, ids=[c[0] for c in ct.CASES])
def test_equal(name, family, dtype, shards, bin_shards, work):
    print("%-22s ok: %s" % (name, ct.check_equal(work, name, family, dtype, shards, bin_shards, BERTOLOGY,
                                                  tool("mk_model_dump"))))


def test_both_formats(work):
    """safetensors wins when both exist: a broken .bin next to a good safetensors is never read"""
    st = os.path.join(work, "bert_f32", "st")
    if not os.path.exists(st):
        ct.make_st(work, "bert_f32", "bert", "F32", 1)
    with open(os.path.join(st, "pytorch_model.bin"), "wb") as f:
        f.write(b"not read")
    os.makedirs(st + ".both", exist_ok=True)
    p = ct.run([tool("mk_model_dump"), st, st + ".both"])
    assert p.returncode == 0, p.report("the .bin was read")


def test_hostile(work):
    rows = ct.check_hostile(work, tool("mk_model_dump"))
    print("hostile: %d files refused with one line each" % len(rows))
    print("\n".join(rows))
