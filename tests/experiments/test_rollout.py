"""--save-rollout (importance and eval) against a rollout computed here in NumPy.

Attention rollout (Abnar & Zuidema 2020, docs/spec.md): with A_l the gated attention
probabilities of layer l's present heads, Â_l = rownormalise(0.5 mean_h A_l + 0.5 I) and the
stored vector is row r of Â_{L-1} ... Â_0, r = 0 for BERT-style classifiers and T-1 for GPT-2's.

For random BERT and GPT-2 classifiers on SST-2 (importance at np 2, eval at np 1), with and
without a head mask that zeroes some heads and one whole layer, and a BERT with pruned heads
(the mean is over the present heads):
* /rollout/data of every example equals the NumPy rollout of the float64 torch reference's
  gated attentions (tests/ref/torch_bert.py, torch_gpt2.py) within 1e-5 relative;
* and the NumPy rollout of /attentions/data (f32) saved in the same run (a second, weaker
  check: the same probabilities the engine used);
* the comparison can tell: the rollout of the other end's row, and the unmasked rollout of a
  masked run, are each farther than the tolerance from what was stored.
"""
import os

import h5py
import numpy as np

import torch_bert
import torch_families
from bttest import GLUE, bertology, models

L, H, D, SUBSET, MAXLEN = 3, 4, 32, 12, 64
RTOL = 1e-5


def rollout(attn, present, row):
    """attn [L, H, T, T] gated (absent heads 0), present[l] = heads of layer l."""
    T = attn.shape[-1]
    v = np.zeros(T)
    v[row] = 1.0
    for l in reversed(range(attn.shape[0])):
        if present[l] == 0:
            continue
        a = 0.5 * attn[l].sum(0) / present[l] + 0.5 * np.eye(T)
        a /= a.sum(-1, keepdims=True)
        v = v @ a
    return v


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def mask_of(seed):
    """Some heads off, and all of layer 1 (its Â is then I: only the renormalisation keeps
    the rollout's mass)."""
    m = np.ones((L, H), np.float32)
    m[0, [1, 3]] = 0
    m[1, :] = 0
    m[2, seed % H] = 0
    return m


def check_run(check, work, name, model, ref, cmd, np_, last, mask=None, present=None):
    out = os.path.join(work, name)
    argv = [cmd, "--model", model, "--task", "sst-2", "--data", os.path.join(GLUE, "SST-2"), "--subset", SUBSET,
            "--max-seq-length", MAXLEN, "--batch-tokens", 200, "--threads", 1, "--quiet", "--out", out,
            "--save-rollout", "--save-attentions", "--dtype", "f32"]
    if mask is not None:
        np.save(os.path.join(work, name + "_mask.npy"), mask)
        argv += ["--head-mask", os.path.join(work, name + "_mask.npy")]
    bertology([str(a) for a in argv], np=np_)
    present = present or [H] * L
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check(f.attrs["status"] == "complete", name + ": run.h5 not complete")
        ro, tok, lens = f["rollout/data"], f["examples/token_offset"][()], f["examples/length"][()]
        check(ro.dtype == np.float32 and ro.shape == (int(lens.sum()),), "%s: /rollout/data %s %s" % (name, ro.dtype,
                                                                                                   ro.shape))
        check(f["rollout"].attrs["block_shape"] == "T", name + ": /rollout block_shape")
        aoff = f["attentions/offset"][()]
        worst = [0.0, 0.0]
        for i in range(len(lens)):
            T = int(lens[i])
            got = ro[tok[i]:tok[i] + T].astype(np.float64)
            ids = f["examples/token_ids"][tok[i]:tok[i] + T].tolist()
            row = T - 1 if last else 0
            r = ref.example(ids, gates=None if mask is None else mask.astype(np.float64))
            want = rollout(r["attn"], present, row)
            saved = f["attentions/data"][aoff[i]:aoff[i] + L * H * T * T].reshape(L, H, T, T).astype(np.float64)
            mine = rollout(saved, present, row)
            e_ref, e_saved = rel_err(got, want), rel_err(got, mine)
            worst = [max(worst[0], e_ref), max(worst[1], e_saved)]
            check(e_ref <= RTOL, "%s example %d (T=%d): rollout vs torch float64 off by %.3g relative"
                  % (name, i, T, e_ref))
            check(e_saved <= RTOL, "%s example %d (T=%d): rollout vs /attentions/data off by %.3g relative"
                  % (name, i, T, e_saved))
            check(abs(got.sum() - 1) < 1e-5, "%s example %d: rollout sums to %.8f, not 1" % (name, i, got.sum()))
            # the checks can fail: the other end's row, or the mask ignored, is far off
            if T > 2:
                other = rollout(r["attn"], present, 0 if last else T - 1)
                check(rel_err(got, other) > 100 * RTOL, "%s example %d: the other row's rollout is as close"
                      % (name, i))
            if mask is not None and T > 2:
                free = rollout(ref.example(ids)["attn"], present, row)
                check(rel_err(got, free) > 100 * RTOL, "%s example %d: the unmasked rollout is as close" % (name, i))
    print("ok %-22s %2d examples, rollout vs torch %.2g, vs /attentions/data %.2g (relative)"
          % (name, len(lens), worst[0], worst[1]))


def test_bert(work, check, blas_one_thread):
    """BERT classifier: the [CLS] row (0); importance at np 2, eval with a head mask"""
    m = models.bert(os.path.join(work, "bert"), layers=L, hidden=D, heads=H, labels=2, seed=21)
    ref = torch_bert.Bert(m)
    check_run(check, work, "bert_importance", m, ref, "importance", 2, last=False)
    check_run(check, work, "bert_eval_masked", m, ref, "eval", 1, last=False, mask=mask_of(0))
    check_run(check, work, "bert_importance_masked", m, ref, "importance", 2, last=False, mask=mask_of(1))


def test_bert_pruned(work, check, blas_one_thread):
    """BERT with pruned heads: the mean is over the present heads (layer 2 keeps one)"""
    pruned = {0: [1], 2: [0, 1, 3]}
    m = models.bert(os.path.join(work, "bert_pruned"), layers=L, hidden=D, heads=H, labels=2, seed=22,
                    pruned_heads=pruned)
    ref = torch_bert.Bert(m)
    present = [H - len(pruned.get(l, [])) for l in range(L)]
    check_run(check, work, "bert_pruned_eval", m, ref, "eval", 1, last=False, present=present)


def test_gpt2(work, check, blas_one_thread):
    """GPT-2 classifier: the last token's row (T-1); importance at np 2, eval with a head mask"""
    m = models.gpt2(os.path.join(work, "gpt2"), layers=L, hidden=D, heads=H, labels=2)
    ref = torch_families.load(m)
    check_run(check, work, "gpt2_importance", m, ref, "importance", 2, last=True)
    check_run(check, work, "gpt2_eval_masked", m, ref, "eval", 1, last=True, mask=mask_of(2))
