"""eval, mask, prune and ablate on GPT-2 (language model, --text) and DistilBERT (RTE).

For each family:
* mask runs at np = 1 and 3 with identical head_mask.npy, head_importance.npy, attn_entropy.npy
  and run.h5 (every dataset byte for byte); its step-0 score is the run's own first-pass
  score, and the final step's score equals `eval --head-mask` of the final mask;
* prune writes a directory our loader reads: config.json is the original plus pruned_heads,
  model.safetensors equals bit for bit what make_checkpoint_family.py writes for the same seed
  with --pruned-heads (GPT-2: the fused c_attn loses 3 x dh columns per head, c_proj dh rows;
  one layer loses every head), and the pruned model scores as the masked original: GPT-2 the
  per-window loss of `forward` (pruned) vs `forward --gates MASK` (original) and eval's loss,
  DistilBERT eval's logits, within 1e-5; importance on the pruned model gives the masked
  model's losses and, at the kept heads, its gate gradients (backward through the smaller
  c_attn); the tokenizer files are copied;
* ablate's entries equal `eval --head-mask` of the same configuration (one head off; one head
  left in a layer), and its base score equals plain eval.
The language model's score is inv_loss (1 / mean window loss, the Python GPT-2 example's 1/loss).
"""
import json
import os

import h5py
import numpy as np
import pytest

import make_checkpoint_family
import safetensors_np
from bttest import GLUE, bertology, example_ids, forward_ids, models, run_differences, same_files, text_file, tsv_column

L, H = 3, 4
# heads removed by prune: layer 0 loses one, layer 1 two, layer 2 all four
PRUNE = np.ones((L, H), np.float32)
PRUNE[0, 1] = PRUNE[1, 0] = PRUNE[1, 3] = 0
PRUNE[2] = 0


class Family:
    """How to run a command on one family's data and read its score."""

    def __init__(self, work, name, model, data, prune_data, metric):
        """data: the flags naming the data; prune_data: prune's (it takes no --text)."""
        self.work, self.name, self.model, self.metric = work, name, model, metric
        self.data, self.prune_data = data, prune_data

    def run(self, np_, cmd, out, *extra, model=None):
        data = self.prune_data if cmd == "prune" else self.data
        argv = [cmd, "--model", model or self.model] + data + ["--threads", 1, "--quiet"]
        if out:
            argv += ["--out", out]
        return bertology(argv + list(extra), np=np_, quiet_mpi=True, timeout=300)

    def eval(self, name, mask=None, model=None, cmd="eval"):
        """(score, run.h5 path) of `eval [--head-mask]` (or of another sweep command)."""
        out = os.path.join(self.work, "%s_%s" % (self.name, name))
        extra = []
        if mask is not None:
            extra = ["--head-mask", save_mask(out + ".npy", mask)]
        self.run(1, cmd, out, *extra, model=model)
        with h5py.File(os.path.join(out, "run.h5"), "r") as f:
            return float(f["metrics"].attrs[self.metric]), os.path.join(out, "run.h5")


def save_mask(path, mask):
    np.save(path, np.asarray(mask, np.float32))
    return path


def check_mask(fam, check):
    outs = {}
    for np_ in (1, 3):
        out = os.path.join(fam.work, "%s_mask_np%d" % (fam.name, np_))
        fam.run(np_, "mask", out, "--amount", "0.25", "--threshold", "0.97", "--min-heads-per-layer", 1)
        outs[np_] = out
    diffs = run_differences(outs[1], outs[3], npy=("head_mask.npy", "head_importance.npy", "attn_entropy.npy"))
    check(not diffs, "%s mask np=1 vs np=3: %s" % (fam.name, "\n".join(diffs)))
    with h5py.File(os.path.join(outs[1], "run.h5"), "r") as f:
        masks, scores = f["masking/mask"][()], f["masking/score"][()]
        final, first = int(f["masking/final_step"][()]), float(f["metrics"].attrs[fam.metric])
    final_mask = np.load(os.path.join(outs[1], "head_mask.npy"))
    print("%s mask: identical at np=1 and 3; %d steps, scores %s, final step %d (%d heads on)"
          % (fam.name, len(scores), np.round(scores, 6).tolist(), final, int(final_mask.sum())))
    check(len(scores) >= 2, "%s mask: no step was taken" % fam.name)
    check(np.array_equal(final_mask, masks[final]), "%s mask: head_mask.npy is not step %d's mask" % (fam.name, final))
    check(scores[0] == first, "%s mask: step 0 score %r != the first pass's %s %r" % (fam.name, scores[0], fam.metric,
                                                                                     first))
    got, _ = fam.eval("eval_final_mask", final_mask)
    check.close("%s mask: final score vs eval --head-mask" % fam.name, scores[final], got, 1e-9 * abs(got))


def check_prune(fam, check, family, make_kw, lm_run=None):
    """prune PRUNE; tensors vs the generator; the pruned model scores as the masked one."""
    out = os.path.join(fam.work, "%s_pruned" % fam.name)
    mask = save_mask(out + "_mask.npy", PRUNE)
    p = fam.run(1, "prune", out, "--head-mask", mask)
    if "--task" in fam.prune_data:  # prune's own comparison of the two models
        line = [ln for ln in p.stdout.splitlines() if "max |logit masked - logit pruned|" in ln]
        check(line and float(line[0].split("=")[1].split()[0]) < 1e-5, "%s prune: its own comparison says %s"
              % (fam.name, line))
    pruned = {str(l): [h for h in range(H) if PRUNE[l, h] == 0] for l in range(L) if (PRUNE[l] == 0).any()}
    with open(os.path.join(fam.model, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(out, "config.json")) as f:
        got_cfg = json.load(f)
    check(got_cfg.get("pruned_heads") == pruned, "%s prune: pruned_heads %r, want %r"
          % (fam.name, got_cfg.get("pruned_heads"), pruned))
    check({k: v for k, v in got_cfg.items() if k != "pruned_heads"} == cfg,
          "%s prune: config.json keys other than pruned_heads changed" % fam.name)
    want_dir = os.path.join(fam.work, "%s_pruned_want" % fam.name)
    make_checkpoint_family.make_checkpoint(want_dir, family, pruned_heads=pruned, **make_kw)
    got, dt = safetensors_np.read(os.path.join(out, "model.safetensors"), np.float32)
    want = safetensors_np.read(os.path.join(want_dir, "model.safetensors"), np.float32)[0]
    check(sorted(got) == sorted(want), "%s prune: tensor names differ: %s" % (fam.name, set(got) ^ set(want)))
    bad = [k for k in want if k in got and (got[k].shape != want[k].shape or got[k].tobytes() != want[k].tobytes())]
    check(not bad, "%s prune: tensors differ from the generator's pruned checkpoint: %s" % (fam.name, bad))
    shapes = {k: got[k].shape for k in got if ".attn.c_attn.weight" in k or "attention.q_lin.weight" in k}
    print("%s prune: %d tensors bit-identical to make_checkpoint_family --pruned-heads; %s"
          % (fam.name, len(want), sorted(shapes.items())))

    masked, masked_h5 = fam.eval("eval_masked", PRUNE)
    got_score, pruned_h5 = fam.eval("eval_pruned", model=out)
    check.close("%s prune: eval %s pruned vs masked" % (fam.name, fam.metric), got_score, masked, 1e-5 * abs(masked))
    with h5py.File(masked_h5, "r") as a, h5py.File(pruned_h5, "r") as b:
        if "logits" in a["examples"]:
            check.close("%s prune: eval logits pruned vs masked" % fam.name, b["examples/logits"][()],
                        a["examples/logits"][()], 1e-5)
    # with gradients: the kept heads' gate gradients and the losses are the masked model's
    _, masked_h5 = fam.eval("importance_masked", PRUNE, cmd="importance")
    _, pruned_h5 = fam.eval("importance_pruned", model=out, cmd="importance")
    with h5py.File(masked_h5, "r") as a, h5py.File(pruned_h5, "r") as b:
        kept = PRUNE.astype(bool)
        ga, gb = a["examples/gate_grad"][()], b["examples/gate_grad"][()]
        check.close("%s prune: importance loss pruned vs masked" % fam.name, b["examples/loss"][()],
                    a["examples/loss"][()], 1e-5)
        check.close("%s prune: kept heads' gate_grad pruned vs masked" % fam.name, gb[:, kept], ga[:, kept],
                    1e-5 * np.abs(ga[:, kept]).max())
        check(np.all(gb[:, ~kept] == 0), "%s prune: pruned heads have gate gradients" % fam.name)
    for f in ("vocab.json", "merges.txt", "vocab.txt"):
        if os.path.exists(os.path.join(fam.model, f)):
            check(os.path.exists(os.path.join(out, f)) and same_files(os.path.join(fam.model, f),
                                                                      os.path.join(out, f)),
                  "%s prune: tokenizer file %s not copied as is" % (fam.name, f))
    if lm_run is not None:  # a language model: per-window loss through `forward`
        seqs = example_ids(lm_run)[:6]
        fp = forward_ids(out, seqs, os.path.join(fam.work, fam.name + "_fw_pruned"))
        fm = forward_ids(fam.model, seqs, os.path.join(fam.work, fam.name + "_fw_masked"), ["--gates", mask])
        check.close("%s prune: forward loss pruned vs masked" % fam.name, fp["loss"], fm["loss"], 1e-5)
        check.close("%s prune: forward entropy pruned vs masked" % fam.name, fp["entropy"], fm["entropy"], 1e-5)


def check_ablate(fam, check):
    out = os.path.join(fam.work, "%s_ablate" % fam.name)
    fam.run(1, "ablate", out)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        without, only = f["ablation/score_without_head"][()], f["ablation/score_only_head"][()]
        change, base = f["ablation/score_change"][()], float(f["ablation/base_score"][()])
    print("%s ablate: base %s %.6f, score change %.3g .. %.3g" % (fam.name, fam.metric, base, change.min(),
                                                                   change.max()))
    check(without.shape == only.shape == (L, H), "%s ablate: shapes %s %s" % (fam.name, without.shape, only.shape))
    check(np.array_equal(change, without - base), "%s ablate: score_change != without - base" % fam.name)
    got, _ = fam.eval("eval_base")
    check.close("%s ablate: base vs eval" % fam.name, base, got, 1e-9 * abs(got))
    for l, h in [(0, 2), (2, 1)]:
        g = np.ones((L, H))
        g[l, h] = 0
        got, _ = fam.eval("eval_wo_%d_%d" % (l, h), g)
        check.close("%s ablate: without (%d,%d) vs eval" % (fam.name, l, h), without[l, h], got, 1e-9 * abs(got))
    l, h = 1, 3
    g = np.ones((L, H))
    g[l] = 0
    g[l, h] = 1
    got, _ = fam.eval("eval_only_%d_%d" % (l, h), g)
    check.close("%s ablate: only (%d,%d) vs eval" % (fam.name, l, h), only[l, h], got, 1e-9 * abs(got))


GPT2_KW = dict(layers=L, hidden=32, heads=H, vocab=50257, max_pos=64, seed=7)
DISTILBERT_KW = dict(layers=L, hidden=32, heads=H, vocab=30522, max_pos=64, labels=2, seed=9)


@pytest.fixture(scope="module")
def gpt2(work, blas_one_thread):
    """GPT-2 language model on a few RTE premises, 32-token windows (prune takes no --text; its
    --max-seq-length must fit the checkpoint's 64 positions)"""
    text = text_file(os.path.join(work, "rte.txt"), tsv_column(os.path.join(GLUE, "RTE", "dev.tsv"), 1, 6))
    return Family(work, "gpt2", models.gpt2(os.path.join(work, "gpt2"), **GPT2_KW),
                  ["--text", text, "--max-seq-length", 32], ["--max-seq-length", 32], "inv_loss")


@pytest.fixture(scope="module")
def distilbert(work, blas_one_thread):
    """DistilBERT classifier on RTE"""
    data = ["--task", "rte", "--data", os.path.join(GLUE, "RTE"), "--subset", 40, "--max-seq-length", 64,
            "--batch-tokens", 500]
    return Family(work, "distilbert", models.distilbert(os.path.join(work, "distilbert"), **DISTILBERT_KW),
                  data, data, "acc")


def test_gpt2_eval_and_prune(gpt2, check):
    score, run_h5 = gpt2.eval("eval")
    with h5py.File(run_h5, "r") as f:
        m = dict(f["metrics"].attrs)
    check.close("gpt2 eval: inv_loss = 1 / loss", m["inv_loss"], 1 / m["loss"], 1e-12)
    check_prune(gpt2, check, "gpt2", GPT2_KW, lm_run=run_h5)


def test_distilbert_prune(distilbert, check):
    check_prune(distilbert, check, "distilbert", DISTILBERT_KW)


@pytest.mark.parametrize("family", ["gpt2", "distilbert"])
def test_mask(family, request, check):
    check_mask(request.getfixturevalue(family), check)


@pytest.mark.parametrize("family", ["gpt2", "distilbert"])
def test_ablate(family, request, check):
    check_ablate(request.getfixturevalue(family), check)
