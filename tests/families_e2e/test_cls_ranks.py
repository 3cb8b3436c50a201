#!/usr/bin/python3
"""RoBERTa (SST-2), DistilBERT and GPT-2 (RTE, sentence pairs) classifiers: importance is the
same for any number of ranks, and run.h5 read back equals `bertology forward` on the same ids.

For each family, a random ForSequenceClassification checkpoint with real tokenizer files:
* np = 1, 2, 3 with --save-attentions (and --save-hidden for one): byte-identical .npy files,
  every run.h5 dataset byte-identical (h5py), attributes equal but command_line / created /
  n_ranks, `h5diff` clean on /importance /entropy /examples /attentions /metrics, identical
  printed tables;
* the stored token ids equal an independent tokenizer: tests/text/bpe_ref.py in RoBERTa style
  (<s> a </s>) and GPT-2 style (a + b, nothing added), tests/text/wordpiece_ref.py (BERT's
  [CLS] a [SEP] b [SEP]);
* labels equal the TSV's; a few examples through `bertology forward` (one process, one example
  per batch): logits, loss, gate gradient, entropy, attention (and hidden states) agree, and
  the logits and gate gradient equal the float64 torch reference (tests/ref/torch_families.py).
"""
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import bpe_ref  # noqa: E402  (tests/text, through e2e)
import torch_families  # noqa: E402  (tests/ref, through e2e)
import wordpiece_ref  # noqa: E402
from e2e import check  # noqa: E402

L, H, D, MAXLEN, SUBSET = 2, 4, 32, 64, 30
PICKS = [0, 7, 29]  # examples compared with `forward` and the torch reference
GROUPS = ["/importance", "/entropy", "/examples", "/attentions", "/metrics"]


def tables(stdout):
    return [ln for ln in stdout.splitlines() if not ln.startswith("importance:")]


def ranks_identical(args, name, model, task, data, extra):
    outs = {}
    for np_ in (1, 2, 3):
        out = os.path.join(args.work, "%s_np%d" % (name, np_))
        p = e2e.run_ok(args, np_, ["importance", "--model", model, "--task", task, "--data", data,
                                   "--subset", SUBSET, "--max-seq-length", MAXLEN, "--batch-tokens", 400,
                                   "--threads", 1, "--quiet", "--out", out] + extra, "%s importance" % name)
        if p:
            outs[np_] = (out, p.stdout)
    if 1 not in outs:
        return None
    ref, ref_stdout = outs[1]
    groups = GROUPS + (["/hidden"] if "--save-hidden" in extra else [])
    for np_, (out, stdout) in sorted(outs.items()):
        if np_ == 1:
            continue
        what = "%s np=1 vs np=%d" % (name, np_)
        for f in ("head_importance.npy", "attn_entropy.npy"):
            check(e2e.same_files(os.path.join(ref, f), os.path.join(out, f)), "%s: %s differs" % (what, f))
        n = e2e.compare_h5(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), what)
        check(tables(stdout) == tables(ref_stdout), "%s: printed tables differ" % what)
        e2e.h5diff_groups(os.path.join(ref, "run.h5"), os.path.join(out, "run.h5"), groups, what)
        print("%s: %d datasets, both .npy files and the tables identical" % (what, n))
    imp = np.load(os.path.join(ref, "head_importance.npy"))
    check(imp.shape == (L, H) and np.ptp(imp) > 0, "%s: head_importance.npy %s" % (name, imp))
    return ref


def readback(args, name, model, run_dir, seqs_want, labels_want, hidden):
    """run.h5 vs the TSV (ids through an independent tokenizer, labels), then vs `forward`."""
    path = os.path.join(run_dir, "run.h5")
    seqs = e2e.rows(path)
    check(seqs == seqs_want, "%s: token ids differ from the reference tokenizer (first bad example %s)"
          % (name, next((i for i, (a, b) in enumerate(zip(seqs, seqs_want)) if a != b), None)))
    f = h5py.File(path, "r")
    labels = f["examples/label"][()].tolist()
    check(labels == labels_want, "%s: labels differ from the TSV" % name)
    fw = e2e.forward(args, model, [seqs[i] for i in PICKS], os.path.join(args.work, name + "_forward"),
                     "--attentions", "--batch-tokens", MAXLEN, *(["--hidden"] if hidden else []),
                     labels=[labels[i] for i in PICKS])
    if fw is None:
        return
    ref = torch_families.load(model)
    aoff = f["attentions/offset"][()]
    for k, i in enumerate(PICKS):
        T = len(seqs[i])
        what = "%s example %d (T=%d)" % (name, i, T)
        e2e.close(what + " logits vs forward", f["examples/logits"][i], fw["logits"][k], 1e-5)
        e2e.close(what + " loss vs forward", f["examples/loss"][i], fw["loss"][k], 1e-5)
        g = fw["gate_grad"][k]
        e2e.close(what + " gate_grad vs forward", f["examples/gate_grad"][i], g, 1e-5 * max(np.abs(g).max(), 1e-3))
        e2e.close(what + " entropy vs forward", f["examples/entropy"][i], fw["entropy"][k], 1e-4)
        a = f["attentions/data"][aoff[i]:aoff[i] + L * H * T * T].reshape(L, H, T, T)
        e2e.close(what + " attention (f16) vs forward", a, fw["attn_%d" % k], 1e-3)
        if hidden:
            hoff = f["hidden/offset"][()]
            h = f["hidden/data"][hoff[i]:hoff[i] + (L + 1) * T * D].reshape(L + 1, T, D)
            hw = fw["hidden_%d" % k]
            e2e.close(what + " hidden (f16) vs forward", h, hw, 2e-3 * max(np.abs(hw).max(), 1))
        r = ref.example(seqs[i], label=labels[i])
        e2e.close(what + " logits vs torch float64", f["examples/logits"][i], r["logits"], 1e-4)
        e2e.close(what + " gate_grad vs torch float64", f["examples/gate_grad"][i], r["gate_grad"],
                  1e-4 * max(np.abs(r["gate_grad"]).max(), 1e-3))
    f.close()


def main():
    args = e2e.setup(e2e.parser(__doc__).parse_args())

    # RoBERTa on SST-2: single sentences, <s> a </s>
    sst2 = os.path.join(args.glue, "SST-2")
    rb = e2e.roberta(args, "roberta", layers=L, heads=H, hidden=D)
    run = ranks_identical(args, "roberta", rb, "sst-2", sst2, ["--save-attentions", "--save-hidden"])
    if run:
        tok = bpe_ref.RefBPE(os.path.join(rb, "vocab.json"), os.path.join(rb, "merges.txt"), "roberta")
        tsv = os.path.join(sst2, "dev.tsv")
        want = [tok.encode(s, None, MAXLEN)[0] for s in e2e.tsv_column(tsv, 0, SUBSET)]
        check(all(w[0] == 0 and w[-1] == 2 for w in want), "reference RoBERTa ids lack <s> ... </s>")
        readback(args, "roberta", rb, run, want, [int(y) for y in e2e.tsv_column(tsv, 1, SUBSET)], True)

    # DistilBERT on RTE: sentence pairs, [CLS] a [SEP] b [SEP], no token types
    rte = os.path.join(args.glue, "RTE")
    db = e2e.distilbert(args, "distilbert", layers=L, heads=H, hidden=D)
    run = ranks_identical(args, "distilbert", db, "rte", rte, ["--save-attentions"])
    if run:
        tok = wordpiece_ref.RefBert(args.bert_vocab)
        tsv = os.path.join(rte, "dev.tsv")
        want = [tok.encode(a, b, MAXLEN)[0] for a, b in zip(e2e.tsv_column(tsv, 1, SUBSET),
                                                            e2e.tsv_column(tsv, 2, SUBSET))]
        readback(args, "distilbert", db, run, want, rte_labels(tsv), False)

    # GPT2ForSequenceClassification on RTE: the pair concatenated, scored at the last token
    g2 = e2e.gpt2(args, "gpt2_cls", layers=L, heads=H, hidden=D, labels=2)
    run = ranks_identical(args, "gpt2_cls", g2, "rte", rte, ["--save-attentions"])
    if run:
        tok = bpe_ref.RefBPE(os.path.join(g2, "vocab.json"), os.path.join(g2, "merges.txt"), "gpt2")
        tsv = os.path.join(rte, "dev.tsv")
        want = [tok.encode(a, b, MAXLEN)[0] for a, b in zip(e2e.tsv_column(tsv, 1, SUBSET),
                                                            e2e.tsv_column(tsv, 2, SUBSET))]
        readback(args, "gpt2_cls", g2, run, want, rte_labels(tsv), False)
    return e2e.finish()


def rte_labels(tsv):
    names = ["entailment", "not_entailment"]  # GLUE's RteProcessor.get_labels order
    return [names.index(y) for y in e2e.tsv_column(tsv, 3, SUBSET)]


if __name__ == "__main__":
    sys.exit(main())
