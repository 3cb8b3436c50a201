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

import h5py
import numpy as np

import bpe_ref
import torch_families
import wordpiece_ref
from bttest import BERT_VOCAB, GLUE, example_ids, forward_ids, models, ranks_agree, tsv_column

L, H, D, MAXLEN, SUBSET = 2, 4, 32, 64, 30
PICKS = [0, 7, 29]  # examples compared with `forward` and the torch reference
GROUPS = ["/importance", "/entropy", "/examples", "/attentions", "/metrics"]


def tables(stdout):
    return [ln for ln in stdout.splitlines() if not ln.startswith("importance:")]


def ranks_identical(check, work, name, model, task, data, extra):
    groups = GROUPS + (["/hidden"] if "--save-hidden" in extra else [])
    ref = ranks_agree(check, name, ["importance", "--model", model, "--task", task, "--data", data, "--subset", SUBSET,
                                    "--max-seq-length", MAXLEN, "--batch-tokens", 400, "--threads", 1, "--quiet"]
                      + extra, os.path.join(work, name), (1, 2, 3), groups, tables)
    imp = np.load(os.path.join(ref, "head_importance.npy"))
    check(imp.shape == (L, H) and np.ptp(imp) > 0, "%s: head_importance.npy %s" % (name, imp))
    return ref


def readback(check, work, name, model, run_dir, seqs_want, labels_want, hidden):
    """run.h5 vs the TSV (ids through an independent tokenizer, labels), then vs `forward`."""
    path = os.path.join(run_dir, "run.h5")
    seqs = example_ids(path)
    check(seqs == seqs_want, "%s: token ids differ from the reference tokenizer (first bad example %s)"
          % (name, next((i for i, (a, b) in enumerate(zip(seqs, seqs_want)) if a != b), None)))
    f = h5py.File(path, "r")
    labels = f["examples/label"][()].tolist()
    check(labels == labels_want, "%s: labels differ from the TSV" % name)
    fw = forward_ids(model, [seqs[i] for i in PICKS], os.path.join(work, name + "_forward"),
                     ["--attentions", "--batch-tokens", MAXLEN] + (["--hidden"] if hidden else []),
                     labels=[labels[i] for i in PICKS])
    ref = torch_families.load(model)
    aoff = f["attentions/offset"][()]
    for k, i in enumerate(PICKS):
        T = len(seqs[i])
        what = "%s example %d (T=%d)" % (name, i, T)
        check.close(what + " logits vs forward", f["examples/logits"][i], fw["logits"][k], 1e-5)
        check.close(what + " loss vs forward", f["examples/loss"][i], fw["loss"][k], 1e-5)
        g = fw["gate_grad"][k]
        check.close(what + " gate_grad vs forward", f["examples/gate_grad"][i], g, 1e-5 * max(np.abs(g).max(), 1e-3))
        check.close(what + " entropy vs forward", f["examples/entropy"][i], fw["entropy"][k], 1e-4)
        a = f["attentions/data"][aoff[i]:aoff[i] + L * H * T * T].reshape(L, H, T, T)
        check.close(what + " attention (f16) vs forward", a, fw["attn_%d" % k], 1e-3)
        if hidden:
            hoff = f["hidden/offset"][()]
            h = f["hidden/data"][hoff[i]:hoff[i] + (L + 1) * T * D].reshape(L + 1, T, D)
            hw = fw["hidden_%d" % k]
            check.close(what + " hidden (f16) vs forward", h, hw, 2e-3 * max(np.abs(hw).max(), 1))
        r = ref.example(seqs[i], label=labels[i])
        check.close(what + " logits vs torch float64", f["examples/logits"][i], r["logits"], 1e-4)
        check.close(what + " gate_grad vs torch float64", f["examples/gate_grad"][i], r["gate_grad"],
                  1e-4 * max(np.abs(r["gate_grad"]).max(), 1e-3))
    f.close()


def test_roberta_sst2(work, check, blas_one_thread):
    """RoBERTa on SST-2: single sentences, <s> a </s>"""
    sst2 = os.path.join(GLUE, "SST-2")
    rb = models.roberta(os.path.join(work, "roberta"), layers=L, heads=H, hidden=D)
    run = ranks_identical(check, work, "roberta", rb, "sst-2", sst2, ["--save-attentions", "--save-hidden"])
    tok = bpe_ref.RefBPE(os.path.join(rb, "vocab.json"), os.path.join(rb, "merges.txt"), "roberta")
    tsv = os.path.join(sst2, "dev.tsv")
    want = [tok.encode(s, None, MAXLEN)[0] for s in tsv_column(tsv, 0, SUBSET)]
    check(all(w[0] == 0 and w[-1] == 2 for w in want), "reference RoBERTa ids lack <s> ... </s>")
    readback(check, work, "roberta", rb, run, want, [int(y) for y in tsv_column(tsv, 1, SUBSET)], True)


def test_distilbert_rte(work, check, blas_one_thread):
    """DistilBERT on RTE: sentence pairs, [CLS] a [SEP] b [SEP], no token types"""
    rte = os.path.join(GLUE, "RTE")
    db = models.distilbert(os.path.join(work, "distilbert"), layers=L, heads=H, hidden=D)
    run = ranks_identical(check, work, "distilbert", db, "rte", rte, ["--save-attentions"])
    tok = wordpiece_ref.RefBert(BERT_VOCAB)
    tsv = os.path.join(rte, "dev.tsv")
    want = [tok.encode(a, b, MAXLEN)[0] for a, b in zip(tsv_column(tsv, 1, SUBSET), tsv_column(tsv, 2, SUBSET))]
    readback(check, work, "distilbert", db, run, want, rte_labels(tsv), False)


def test_gpt2_rte(work, check, blas_one_thread):
    """GPT2ForSequenceClassification on RTE: the pair concatenated, scored at the last token"""
    rte = os.path.join(GLUE, "RTE")
    g2 = models.gpt2(os.path.join(work, "gpt2_cls"), layers=L, heads=H, hidden=D, labels=2)
    run = ranks_identical(check, work, "gpt2_cls", g2, "rte", rte, ["--save-attentions"])
    tok = bpe_ref.RefBPE(os.path.join(g2, "vocab.json"), os.path.join(g2, "merges.txt"), "gpt2")
    tsv = os.path.join(rte, "dev.tsv")
    want = [tok.encode(a, b, MAXLEN)[0] for a, b in zip(tsv_column(tsv, 1, SUBSET), tsv_column(tsv, 2, SUBSET))]
    readback(check, work, "gpt2_cls", g2, run, want, rte_labels(tsv), False)


def rte_labels(tsv):
    names = ["entailment", "not_entailment"]  # GLUE's RteProcessor.get_labels order
    return [names.index(y) for y in tsv_column(tsv, 3, SUBSET)]

