"""Bad input under `mpirun -np 3`: every rank exits non-zero, quickly, with one message
(bttest.refused: run as a user would, exit 2, stderr exactly one "bertology importance: ..."
line with the case's key words (the file, flag or number at fault), nothing on stdout, and no
run.h5 nor tmp file in the output directory (all these are caught before anything is written);
then again with every rank's own exit code recorded: all 3 ranks exit 2).
"""
import os
import re
import shutil

import numpy as np
import pytest

import wordpiece_ref
from bttest import BERT_VOCAB, SST2, models, refused


@pytest.fixture(scope="module")
def inputs(work, blas_one_thread):
    """The model and the broken files the cases name ({x} in their arguments)."""
    w = work
    m = models.bert(os.path.join(w, "model"), layers=2, hidden=32, heads=4, seed=1)
    # a model whose weights file is cut short
    broken = os.path.join(w, "broken_model")
    shutil.copytree(m, broken)
    st = os.path.join(broken, "model.safetensors")
    with open(st, "r+b") as f:
        f.truncate(os.path.getsize(st) // 2)
    np.save(os.path.join(w, "mask_3x4.npy"), np.ones((3, 4), np.float32))
    with open(os.path.join(w, "mask_garbage.npy"), "wb") as f:
        f.write(b"not an npy file at all\n")
    # a task directory whose dev.tsv has a label outside the task's label set
    bad_tsv = os.path.join(w, "bad_sst2")
    os.makedirs(bad_tsv)
    with open(os.path.join(bad_tsv, "dev.tsv"), "w") as f:
        f.write("sentence\tlabel\na fine film .\t1\na dull one .\t7\n")
    with open(os.path.join(w, "a_file"), "w") as f:
        f.write("x\n")
    return dict(w=w, m=m, broken=broken, bad_tsv=bad_tsv, sst2=SST2)


BASE = ["--task", "sst-2", "--data", "{sst2}", "--out", "{out}", "--threads", "1", "--quiet"]
CASES = {  # name: (importance's arguments, words the message must hold)
    "bad_model_dir": (["--model", "{w}/no_such_model"] + BASE, ["no_such_model", "config.json"]),
    "truncated_model": (["--model", "{broken}"] + BASE, ["model.safetensors"]),
    "bad_task": (["--model", "{m}", "--task", "sst-3", "--data", "{sst2}", "--out", "{out}"], ["sst-3"]),
    "missing_data": (["--model", "{m}", "--task", "sst-2", "--data", "{w}/nodata", "--out", "{out}"],
                     ["nodata", "dev.tsv"]),
    "bad_label": (["--model", "{m}", "--task", "sst-2", "--data", "{bad_tsv}", "--out", "{out}"],
                  ["dev.tsv", "3"]),  # line 3 of the file
    "unknown_flag": (["--model", "{m}"] + BASE + ["--bogus-flag"], ["--bogus-flag"]),
    "hf_no_batch": (["--model", "{m}"] + BASE + ["--hf-compat"], ["--hf-compat", "batch"]),
    "batch_no_size": (["--model", "{m}"] + BASE + ["--granularity", "batch"], ["--batch-size"]),
    "mask_shape": (["--model", "{m}"] + BASE + ["--head-mask", "{w}/mask_3x4.npy"], ["mask_3x4.npy", "[2, 4]"]),
    "mask_garbage": (["--model", "{m}"] + BASE + ["--head-mask", "{w}/mask_garbage.npy"], ["mask_garbage.npy"]),
    "bad_layers": (["--model", "{m}"] + BASE + ["--save-attentions", "--layers", "0,5"], ["--layers", "0,5"]),
    "out_under_file": (["--model", "{m}", "--task", "sst-2", "--data", "{sst2}", "--out", "{w}/a_file/out"],
                       ["a_file"]),
    # about 0.4 MB of float32 attentions for 64 examples; the limit is 0.0001 GB = 0.1 MB
    "too_big": (["--model", "{m}"] + BASE + ["--subset", "64", "--save-attentions", "--dtype", "f32",
                                             "--max-output-gb", "0.0001"], ["--max-output-gb", "0.0001", "GB"]),
}


def refuse(name, inputs, check):
    argv, words = CASES[name]
    out = os.path.join(inputs["w"], name, "out")
    return refused(check, name, ["importance"] + [a.format(out=out, **inputs) for a in argv], out, words)


@pytest.mark.parametrize("name", [n for n in CASES if n != "too_big"])
def test_refused_on_every_rank(name, inputs, check):
    refuse(name, inputs, check)


def test_too_big_states_the_size(inputs, check):
    """The size refusal states the size: at least the float32 attentions of the 64 examples,
    counted here from the reference tokenizer's lengths, and at most 10 % more."""
    msg = refuse("too_big", inputs, check)
    tok = wordpiece_ref.RefBert(BERT_VOCAB)
    with open(os.path.join(SST2, "dev.tsv"), encoding="utf-8") as f:
        sents = [ln.split("\t")[0] for ln in f.read().split("\n")[1:] if ln.strip()][:64]
    lens = np.array([len(tok.encode(s_, None, 128)[0]) for s_ in sents], np.int64)
    attn_gb = 4 * 2 * 4 * int((lens ** 2).sum()) / 1e9
    m_gb = re.search(r"would be ([0-9.e+-]+) GB", msg)
    check(m_gb is not None and attn_gb <= float(m_gb.group(1)) <= 1.1 * attn_gb,
          "too_big: stated size %s GB, attentions alone are %.4g GB" % (m_gb and m_gb.group(1), attn_gb))
