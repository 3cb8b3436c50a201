"""bertology prune: the written directory against independent expectations.

- model.safetensors equals, tensor for tensor and bit for bit, the checkpoint that
  tests/ref/make_checkpoint.py writes for the same seed with --pruned-heads (it draws every
  tensor full-size and keeps the remaining heads' rows / columns, which is what HF's
  prune_linear_layer leaves and what from_pretrained expects after pruning the freshly built
  model by config.pruned_heads);
- config.json is the original plus pruned_heads in HF's form ({"layer": [original ids]});
- tokenizer files are copied byte for byte;
- a layer losing every head works; pruning a pruned model takes the union;
- round trip: our loader reads the directory, and `eval` of the pruned model equals `eval
  --head-mask` of the original within 1e-5 (logits), the float64 torch reference of the pruned
  directory equals the reference's masked original to 1e-10, and prune's own comparison prints
  max |diff| < 1e-5 with equal scores.
"""
import filecmp
import json
import os
import re

import h5py
import numpy as np

import make_checkpoint
import reference
import safetensors_np
from bttest import GLUE, bertology, models

L, H, SEED = 3, 4, 6
KW = dict(layers=L, hidden=32, heads=H, seed=SEED)


def pruned_of(mask):
    return {str(l): [h for h in range(H) if mask[l, h] == 0] for l in range(L) if (mask[l] == 0).any()}


def same_tensors(got_dir, want_dir):
    got, dt = safetensors_np.read(os.path.join(got_dir, "model.safetensors"), np.float32)
    want = safetensors_np.read(os.path.join(want_dir, "model.safetensors"), np.float32)[0]
    assert set(dt.values()) == {"F32"}, set(dt.values())
    assert sorted(got) == sorted(want), set(got) ^ set(want)
    for k in want:
        assert got[k].shape == want[k].shape, (k, got[k].shape, want[k].shape)
        assert got[k].tobytes() == want[k].tobytes(), "%s differs" % k
    return sum(a.size for a in want.values())


def eval_logits(work, m, name, mask=None):
    out = os.path.join(work, name)
    cmd = ["eval", "--model", m, "--task", "sst-2", "--data", os.path.join(GLUE, "SST-2"),
           "--subset", "80", "--max-seq-length", "64", "--threads", "1", "--quiet", "--out", out]
    if mask is not None:
        cmd += ["--head-mask", mask]
    bertology(cmd)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        return f["examples/logits"][()], out


def test_prune(work):
    m = models.bert(os.path.join(work, "model"), **KW)
    for name, obj in (("tokenizer_config.json", {"do_lower_case": True, "tokenizer_class": "BertTokenizer"}),
                      ("special_tokens_map.json", {"cls_token": "[CLS]", "sep_token": "[SEP]"})):
        with open(os.path.join(m, name), "w") as f:
            json.dump(obj, f)
    mask = np.ones((L, H), np.float32)
    mask[0, [0, 2]] = 0
    mask[1, :] = 0          # a layer that loses every head
    mask[2, 3] = 0
    mask_path = os.path.join(work, "mask.npy")
    np.save(mask_path, mask)

    out = os.path.join(work, "pruned")
    p = bertology(["prune", "--model", m, "--head-mask", mask_path, "--out", out, "--task", "sst-2",
                    "--data", os.path.join(GLUE, "SST-2"), "--subset", "80", "--max-seq-length", "64",
                    "--threads", "1", "--quiet"])

    want = make_checkpoint.make_checkpoint(os.path.join(work, "expected"), vocab=30522, max_pos=128,
                                           pruned_heads=pruned_of(mask), **KW)
    n_after = same_tensors(out, want)
    n_before = sum(a.size for a in safetensors_np.read(os.path.join(m, "model.safetensors"), np.float32)[0].values())
    with open(os.path.join(m, "config.json")) as f:
        c0 = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        c1 = json.load(f)
    assert set(c1) - set(c0) == {"pruned_heads"} and all(c1[k] == c0[k] for k in c0), (c0, c1)
    assert c1["pruned_heads"] == {"0": [0, 2], "1": [0, 1, 2, 3], "2": [3]}, c1["pruned_heads"]
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        assert filecmp.cmp(os.path.join(m, name), os.path.join(out, name), shallow=False), name
    assert not os.path.exists(os.path.join(out, "tokenizer.json"))  # only what the model had

    assert "parameters %d -> %d" % (n_before, n_after) in p.stdout, p.stdout
    assert "attention heads 12 -> 5 of 12" in p.stdout, p.stdout
    diff = float(re.search(r"max \|logit masked - logit pruned\| = (\S+)", p.stdout).group(1))
    assert diff < 1e-5, p.stdout
    scores = re.findall(r"^acc = (\S+)$", p.stdout, re.M)
    assert len(scores) == 2 and scores[0] == scores[1], p.stdout
    assert "speed-up" in p.stdout

    # round trip through our loader, and the reference on both directories
    lp, ev = eval_logits(work, out, "eval_pruned")
    lm, _ = eval_logits(work, m, "eval_masked", mask_path)
    assert np.abs(lp - lm).max() < 1e-5, np.abs(lp - lm).max()
    exs = reference.examples(os.path.join(ev, "run.h5"))
    rp, rm = reference.Reference(out, exs), reference.Reference(m, exs)
    assert rp.m.present[1] == [] and rp.m.present[0] == [1, 3]
    zp, _ = rp.run(np.ones((L, H)), grad=False)
    zm, _ = rm.run(mask, grad=False)
    assert np.abs(zp - zm).max() < 1e-10, np.abs(zp - zm).max()
    assert np.abs(lp - zp).max() < 1e-4, np.abs(lp - zp).max()

    # pruning the pruned model: union of the old and the new heads, entries of absent heads ignored
    mask2 = np.ones((L, H), np.float32)
    mask2[0, [0, 1]] = 0    # head 0 is gone already, head 1 goes now
    mask2[1, 2] = 1         # absent whatever the mask says
    np.save(os.path.join(work, "mask2.npy"), mask2)
    out2 = os.path.join(work, "pruned2")
    bertology(["prune", "--model", out, "--head-mask", os.path.join(work, "mask2.npy"), "--out", out2])
    union = mask.copy()
    union[0, 1] = 0
    want2 = make_checkpoint.make_checkpoint(os.path.join(work, "expected2"), vocab=30522, max_pos=128,
                                            pruned_heads=pruned_of(union), **KW)
    same_tensors(out2, want2)
    with open(os.path.join(out2, "config.json")) as f:
        assert json.load(f)["pruned_heads"] == {"0": [0, 1, 2], "1": [0, 1, 2, 3], "2": [3]}
    print("ok prune: tensors = make_checkpoint --pruned-heads bitwise, %d -> %d parameters, masked vs pruned "
          "logits %.2g (prune), %.2g (eval round trip), union on re-pruning" % (n_before, n_after, diff,
                                                                                 np.abs(lp - lm).max()))


def lowest_heads(scores, n, keep_per_layer):
    """The n heads of lowest score, ties to the lower (layer, head), after protecting the
    keep_per_layer highest of every layer (ties: the lower head kept)."""
    keep = {(l, h) for l in range(L) for h in sorted(range(H), key=lambda h: (-scores[l, h], h))[:keep_per_layer]}
    cand = sorted((scores[l, h], l, h) for l in range(L) for h in range(H) if (l, h) not in keep)
    mask = np.ones((L, H), np.float32)
    for _, l, h in cand[:n]:
        mask[l, h] = 0
    return mask


def test_prune_by_scores(work):
    """prune --scores S --percent P: the floor(L*H*P/100) lowest-scored heads go (layer minimum kept)"""
    m = models.bert(os.path.join(work, "model_scores"), **KW)
    scores = np.array([[0.5, -1.0, 0.2, 0.2], [-3.0, -2.5, -2.0, -2.9], [1.0, 0.1, 0.3, 0.0]])
    path = os.path.join(work, "scores.npy")
    np.save(path, scores)  # float64: read as float32, these values are exact in both
    for pct, keep in ((50, 1), (40, 0)):
        out = os.path.join(work, "pruned_scores_%d_%d" % (pct, keep))
        bertology(["prune", "--model", m, "--scores", path, "--percent", str(pct), "--min-heads-per-layer", str(keep),
                   "--out", out])
        mask = lowest_heads(scores, L * H * pct // 100, keep)
        with open(os.path.join(out, "config.json")) as f:
            got = json.load(f)["pruned_heads"]
        assert got == pruned_of(mask), (pct, keep, got, pruned_of(mask))
        want = make_checkpoint.make_checkpoint(os.path.join(work, "expected_scores_%d_%d" % (pct, keep)), vocab=30522,
                                               max_pos=128, pruned_heads=pruned_of(mask), **KW)
        same_tensors(out, want)
        print("prune --scores --percent %d --min-heads-per-layer %d: pruned %s" % (pct, keep, got))
    # the layer minimum changed the choice: layer 1 (all lowest) keeps a head only with it
    assert pruned_of(lowest_heads(scores, 6, 1)) != pruned_of(lowest_heads(scores, 6, 0))
