"""analysis/report.py on a GPT-2 language-model run.

`importance --text --save-attentions` on a random GPT-2 whose directory holds GPT-2's own
vocab.json / merges.txt (the report finds the vocabulary through the run's model_dir), then
the report. Checks: exit 0 and the page written; a GPT-2 input has no [CLS] / [SEP] token, so
those columns of head_stats.csv are blank for every head and the summary table says n/a; the
importance / entropy columns equal bertology's .npy files; attention to itself, to the previous
and to the next token equal a direct numpy computation on the attention read with h5py (mean
over all query tokens), the next-token one 0 for a causal model.
"""
import csv
import os
import sys

import h5py
import numpy as np

from bttest import GLUE, SOURCE, bertology, models, run, text_file, tsv_column

L, H = 2, 4


def clark_by_hand(run_h5):
    """{stat: [L, H]} of attention to itself / previous / next token, pooled over queries."""
    sums = {k: np.zeros((L, H)) for k in ("self", "prev", "next")}
    n = 0
    with h5py.File(run_h5, "r") as f:
        lens, off, data = f["examples/length"][()], f["attentions/offset"][()], f["attentions/data"]
        for i, T in enumerate(lens):
            T = int(T)
            a = data[off[i]:off[i] + L * H * T * T].astype(np.float64).reshape(L, H, T, T)
            sums["self"] += np.trace(a, axis1=2, axis2=3)
            sums["prev"] += np.trace(a, offset=-1, axis1=2, axis2=3)
            sums["next"] += np.trace(a, offset=1, axis1=2, axis2=3)
            n += T
    return {k: v / n for k, v in sums.items()}


def test_report_on_gpt2_run(work, check, blas_one_thread):
    model = models.gpt2(os.path.join(work, "gpt2"), layers=L, heads=H)
    text = text_file(os.path.join(work, "rte.txt"), tsv_column(os.path.join(GLUE, "RTE", "dev.tsv"), 1, 8))
    run_dir = os.path.join(work, "run")
    bertology(["importance", "--model", model, "--text", text, "--max-seq-length", 32, "--threads", 1,
               "--quiet", "--save-attentions", "--out", run_dir], np=1, quiet_mpi=True, timeout=300)
    out = os.path.join(work, "report")
    run([sys.executable, os.path.join(SOURCE, "analysis", "report.py"), os.path.join(run_dir, "run.h5"), "--out", out,
         "--quiet"], timeout=300)
    for f in ("summary.md", "summary.html", "head_stats.csv"):
        check(os.path.isfile(os.path.join(out, f)), "report: %s not written" % f)
    with open(os.path.join(out, "head_stats.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == L * H, "head_stats.csv: %d rows, want %d" % (len(rows), L * H))
    check(all(r["cls"] == "" and r["sep"] == "" for r in rows),
          "head_stats.csv: [CLS]/[SEP] columns should be blank for GPT-2: %s" % [(r["cls"], r["sep"]) for r in rows])
    imp = np.load(os.path.join(run_dir, "head_importance.npy"))
    ent = np.load(os.path.join(run_dir, "attn_entropy.npy"))
    want = clark_by_hand(os.path.join(run_dir, "run.h5"))
    got = {k: np.zeros((L, H)) for k in ("importance", "entropy", "self", "prev", "next")}
    for r in rows:
        l, h = int(r["layer"]) - 1, int(r["head"]) - 1  # the report counts from 1
        for k in got:
            got[k][l, h] = float(r[k])
    check.close("head_stats.csv importance vs head_importance.npy", got["importance"], imp, 1e-5)
    check.close("head_stats.csv entropy vs attn_entropy.npy", got["entropy"], ent, 1e-4)
    for k in ("self", "prev", "next"):
        check.close("head_stats.csv %s vs numpy on run.h5" % k, got[k], want[k], 1e-5)
    check(np.all(want["next"] == 0), "stored GPT-2 attention looks at the next token: %s" % want["next"])
    with open(os.path.join(out, "summary.md")) as f:
        md = f.read()
    for stat in ("attention to [CLS]", "attention to [SEP]"):
        line = next((ln for ln in md.splitlines() if ln.startswith("| " + stat)), "")
        check("n/a" in line, "summary.md: %r row should say n/a for GPT-2: %r" % (stat, line))
