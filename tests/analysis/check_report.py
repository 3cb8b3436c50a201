#!/usr/bin/python3
"""The report on real runs: bertology importance (--save-attentions), mask and ablate on a small
random BERT, then analysis/report.py.

Checks: exit status; every figure the summary embeds exists, is a PNG (signature) and reads back
with matplotlib; every PNG of the folder is embedded in summary.md and summary.html; the Clark
statistics in head_stats.csv and from clark_stats() equal a direct numpy computation on the
attention read with h5py (selector matrices as in Clark et al.'s notebook, not the package's
code); importance and entropy columns equal bertology's .npy files; the stored maps are
probability rows whose entropy is the run's /examples/entropy; a run saving only layer 2 leaves
layer 1 empty.

    check_report.py --bertology BIN --source DIR --testdata DIR --work DIR
"""
import argparse
import csv
import os
import re
import shutil
import string
import subprocess
import sys
import unicodedata

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bertology", required=True)
ap.add_argument("--source", required=True)
ap.add_argument("--testdata", required=True)
ap.add_argument("--work", required=True)
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.source, "analysis"))
from bertology_analysis import clark_stats, load_run  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
STATS = ("cls", "sep", "punct", "self", "next", "prev", "distance")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def run(cmd, cwd, timeout=300):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if p.returncode:
        sys.exit("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd), p.stdout,
                                                    p.stderr))
    return p.stdout


# ---- runs: model given as a relative path, as a user would type it ----------------------

work = os.path.abspath(args.work)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
run([sys.executable, os.path.join(args.source, "tests/ref/make_checkpoint.py"), "--layers", "2",
     "--hidden", "32", "--heads", "4", "--labels", "2", "--vocab", "30522", "--max-pos", "128",
     "model"], work)
shutil.copy(os.path.join(args.testdata, "vocab/bert-base-uncased/vocab.txt"), "%s/model" % work)
common = ["--model", "model", "--task", "sst-2", "--data",
          os.path.join(args.testdata, "glue/SST-2"), "--threads", "1", "--quiet"]
run([args.bertology, "importance", *common, "--subset", "24", "--out", "imp",
     "--save-attentions"], work)
run([args.bertology, "importance", *common, "--subset", "6", "--out", "imp_l2",
     "--save-attentions", "--layers", "1", "--dtype", "f32"], work)
run([args.bertology, "mask", *common, "--subset", "24", "--out", "mask"], work)
run([args.bertology, "ablate", *common, "--subset", "24", "--out", "ablate"], work)

# ---- the report, run from elsewhere: model_dir "model" is found next to imp/ --------------

report = os.path.join(work, "report")
out = run([sys.executable, os.path.join(args.source, "analysis/report.py"),
           "%s/imp/run.h5" % work, "%s/mask/run.h5" % work, "%s/ablate/run.h5" % work,
           "--out", report], "/")
print(out, end="")
md = open(os.path.join(report, "summary.md"), encoding="utf-8").read()
html = open(os.path.join(report, "summary.html"), encoding="utf-8").read()
embedded = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
on_disk = sorted(f for f in os.listdir(report) if f.endswith(".png"))
check(sorted(embedded) == on_disk, "summary.md embeds %s, folder has %s" % (embedded, on_disk))
for name in ("importance.png", "entropy.png", "importance_vs_entropy.png", "clark_stats.png",
             "masking_curve.png", "masking_steps.png", "ablation_score_change.png",
             "ablation_score_only_head.png", "attention_ex0_all.png"):
    check(name in embedded, "figure %s in the summary" % name)
check(any(re.fullmatch(r"attention_ex\d+_L\dH\d\.png", f) for f in embedded),
      "a token-labelled attention map")
check("not shown" not in md, "no section skipped with all three runs")
for name in embedded:
    path = os.path.join(report, name)
    if not check(os.path.isfile(path), "%s exists" % name):
        continue
    with open(path, "rb") as f:
        check(f.read(8) == PNG, "%s has the PNG signature" % name)
    img = matplotlib.image.imread(path)
    check(img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.shape[2] in (3, 4)
          and float(img[..., :3].std()) > 0.01, "%s reads back as a non-blank image %s"
          % (name, img.shape))
    check('src="%s"' % name in html, "summary.html embeds %s" % name)

# ---- Clark statistics by direct computation on the stored attention ----------------------

vocab = open(os.path.join(work, "model/vocab.txt"), encoding="utf-8").read().split("\n")


def is_punct(tok):
    bare = tok[2:] if tok.startswith("##") and len(tok) > 2 else tok
    return bool(bare) and all(c in string.punctuation or unicodedata.category(c)[0] == "P"
                              for c in bare)


def direct(path, weighting="tokens", punct=is_punct):
    """Notebook-style selectors [T, T] for every statistic, summed with attention."""
    with h5py.File(path, "r") as f:
        H = int(f.attrs["n_heads"])
        layers = list(f["attentions"].attrs["layers"])
        n = int(f.attrs["n_examples"])
        tot = {k: np.zeros((len(layers), H)) for k in STATS}
        ntok = 0
        for i in range(n):
            T = int(f["examples/length"][i])
            o = int(f["examples/token_offset"][i])
            toks = [vocab[t] for t in f["examples/token_ids"][o:o + T]]
            o = int(f["attentions/offset"][i])
            a = f["attentions/data"][o:o + len(layers) * H * T * T].astype(np.float64)
            a = a.reshape(len(layers), H, T, T)
            key = lambda m: np.tile(np.array(m, float)[None], (T, 1))  # noqa: E731
            pos = np.arange(T)
            sel = {"cls": key([t == "[CLS]" for t in toks]),
                   "sep": key([t == "[SEP]" for t in toks]),
                   "punct": key([punct(t) for t in toks]),
                   "self": np.eye(T), "next": np.eye(T, T, 1), "prev": np.eye(T, T, -1),
                   "distance": np.abs(pos[:, None] - pos[None, :]).astype(float)}
            for k in STATS:
                s = (a * sel[k]).sum(-1).sum(-1)
                tot[k] += s if weighting == "tokens" else s / T
            ntok += T
    return {k: v / (ntok if weighting == "tokens" else n) for k, v in tot.items()}


imp_h5 = os.path.join(work, "imp/run.h5")
want = direct(imp_h5)
with open(os.path.join(report, "head_stats.csv")) as f:
    rows = list(csv.DictReader(f))
check(len(rows) == 8, "head_stats.csv has 2 x 4 rows")
imp_npy = np.load(os.path.join(work, "imp/head_importance.npy"))
ent_npy = np.load(os.path.join(work, "imp/attn_entropy.npy"))
for r in rows:
    l, h = int(r["layer"]) - 1, int(r["head"]) - 1
    for k in STATS:
        check(np.isclose(float(r[k]), want[k][l, h], rtol=1e-5, atol=1e-9),
              "csv %s layer %d head %d: %s vs direct %.8g" % (k, l + 1, h + 1, r[k], want[k][l, h]))
    check(np.isclose(float(r["importance"]), imp_npy[l, h], rtol=1e-5, atol=1e-7),
          "csv importance %d-%d = head_importance.npy" % (l + 1, h + 1))
    check(np.isclose(float(r["entropy"]), ent_npy[l, h], rtol=1e-5, atol=1e-7),
          "csv entropy %d-%d = attn_entropy.npy" % (l + 1, h + 1))
with load_run(imp_h5) as r:
    got = clark_stats(r)
    got_ex = clark_stats(r, weighting="examples", punct="clark")
want_ex = direct(imp_h5, "examples", lambda t: t in (".", ","))
for k in STATS:
    check(np.allclose(got[k], want[k], rtol=0, atol=1e-12), "clark_stats %s = direct" % k)
    check(np.allclose(got_ex[k], want_ex[k], rtol=0, atol=1e-12),
          "clark_stats %s (examples, clark punct) = direct" % k)
check(float(np.nanmax(want["cls"])) > 0 and float(np.nanmax(want["punct"])) > 0,
      "the SST-2 sentences have [CLS] and punctuation attention to measure")

# ---- the stored maps are what the run measured ------------------------------------------

with load_run(imp_h5) as r, h5py.File(imp_h5, "r") as f:
    ent = f["examples/entropy"][()]
    worst_row = worst_ent = 0.0
    for i in range(r.n_examples):
        a = r.attention(i).astype(np.float64)
        T = a.shape[-1]
        worst_row = max(worst_row, float(np.abs(a.sum(-1) - 1).max()))
        e = -(a * np.log(np.where(a > 0, a, 1))).sum((-2, -1))
        worst_ent = max(worst_ent, float(np.abs(e - ent[i]).max() / T))
    check(worst_row < 2e-3, "float16 attention rows sum to 1 (worst %.2g)" % worst_row)
    check(worst_ent < 2e-3, "entropy of stored maps = /examples/entropy (worst %.2g per token)"
          % worst_ent)

# ---- only layer 2 saved: layer 1 empty in the statistics, maps drawn for layer 2 --------

report2 = os.path.join(work, "report_l2")
run([sys.executable, os.path.join(args.source, "analysis/report.py"), "imp_l2/run.h5",
     "--out", report2, "--heads", "2:1,1:1", "--examples", "3", "--quiet"], work)
with open(os.path.join(report2, "head_stats.csv")) as f:
    rows = list(csv.DictReader(f))
want2 = direct(os.path.join(work, "imp_l2/run.h5"))
for r in rows:
    l, h = int(r["layer"]) - 1, int(r["head"]) - 1
    if l == 0:
        check(all(r[k] == "" for k in STATS), "layer 1 not saved: empty cells, got %s" % r)
    else:
        check(all(np.isclose(float(r[k]), want2[k][0, h], rtol=1e-5, atol=1e-9) for k in STATS),
              "layer 2 head %d statistics = direct (float32 run)" % (h + 1))
pngs = sorted(f for f in os.listdir(report2) if f.endswith(".png"))
check("attention_ex3_L2H1.png" in pngs and "attention_ex3_L1H1.png" not in pngs,
      "maps only for the saved layer: %s" % pngs)
check("layer 1 not saved" in open(os.path.join(report2, "summary.md")).read(),
      "the summary says why layer 1's map is missing")

print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
