"""The bundled demo model (data/demo-sst2) as the C engine sees it.

Asserts, each against a source other than the code under test:
  - size and shape promised by issue 6: directory <= 16 MB, >= 4 layers, >= 32 heads in all,
    two labels, every tensor stored as F16 (read from the safetensors header here);
  - `bertology tokenize --model MODEL_DIR` on the dev sentences gives the same token strings
    as tests/text/wordpiece_ref.py (a Python model of transformers' BertTokenizer) with the
    full bert-base-uncased vocab, so the reduced vocab changed nothing;
  - `bertology forward` on those ids: dev accuracy (labels read from the TSV here) >= 0.80,
    equal within one example to what PyTorch measured at training time (training.json), and
    the same mean cross-entropy.
"""
import json
import os
import struct

import numpy as np

from bttest import BERT_VOCAB, DEMO_MODEL, DEMO_SST2, bertology
from wordpiece_ref import RefBert

MAX_BYTES = 16_000_000


def test_demo_model(work, check):
    check.verbose = True
    model, dev_tsv, full_vocab = DEMO_MODEL, os.path.join(DEMO_SST2, "dev.tsv"), BERT_VOCAB

    # size on disk: apparent bytes and allocated blocks, whichever is larger
    files = [os.path.join(model, f) for f in os.listdir(model)]
    apparent = sum(os.path.getsize(f) for f in files)
    allocated = sum(os.stat(f).st_blocks * 512 for f in files)
    check(max(apparent, allocated) <= MAX_BYTES,
          "directory %d bytes (%d allocated) <= %d" % (apparent, allocated, MAX_BYTES))

    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    L, H = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    check(cfg.get("model_type") == "bert"
          and cfg.get("architectures") == ["BertForSequenceClassification"],
          "config: bert, BertForSequenceClassification")
    check(L >= 4, "config: %d layers >= 4" % L)
    check(L * H >= 32 and not cfg.get("pruned_heads"), "config: %d x %d = %d heads >= 32" % (L, H, L * H))
    check(len(cfg.get("id2label", {})) == 2, "config: two labels")

    with open(os.path.join(model, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    dtypes = {v["dtype"] for v in header.values()}
    check(dtypes == {"F16"}, "safetensors: dtypes %s == {F16}" % sorted(dtypes))
    want = {"bert.embeddings.%s" % s for s in (
        "word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
        "LayerNorm.weight", "LayerNorm.bias")}
    for l in range(L):
        for s in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                  "output.dense", "output.LayerNorm"):
            want |= {"bert.encoder.layer.%d.%s.%s" % (l, s, wb) for wb in ("weight", "bias")}
    want |= {"bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"}
    check(set(header) == want, "safetensors: the %d Hugging Face tensor names" % len(want))

    # dev set, read here with the csv-free GLUE layout: header, then sentence<TAB>label
    with open(dev_tsv, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    sents = [r[0] for r in rows]
    labels = np.array([int(r[1]) for r in rows])

    out = bertology(["tokenize", "--model", model, "--types"],
                    input="".join(s + "\n" for s in sents)).stdout.split("\n")[:-1]
    check(len(out) == len(sents), "tokenize: %d lines for %d sentences" % (len(out), len(sents)))
    ids = [line.split("\t")[0] for line in out]
    types = [line.split("\t")[1] for line in out]
    with open(os.path.join(model, "vocab.txt"), encoding="utf-8") as f:
        vocab = f.read().split("\n")[:-1]
    check(len(vocab) == cfg["vocab_size"], "vocab.txt: %d tokens == vocab_size" % len(vocab))
    ref = RefBert(full_vocab, do_lower_case=True)
    differ = [k for k, s in enumerate(sents)
              if [vocab[int(i)] for i in ids[k].split()] != ["[CLS]"] + ref.tokens(s) + ["[SEP]"]]
    check(not differ, "tokenize: dev token strings equal the full-vocab reference (%d differ%s)"
          % (len(differ), ", first: line %d" % (differ[0] + 2) if differ else ""))

    for name, lines in (("ids.txt", ids), ("types.txt", types), ("labels.txt", labels)):
        with open(os.path.join(work, name), "w") as f:
            f.write("".join("%s\n" % x for x in lines))
    outdir = os.path.join(work, "forward")
    bertology(["forward", "--model", model, "--ids", os.path.join(work, "ids.txt"),
         "--types", os.path.join(work, "types.txt"), "--labels", os.path.join(work, "labels.txt"),
         "--out", outdir])
    logits = np.load(os.path.join(outdir, "logits.npy")).astype(np.float64)
    check(logits.shape == (len(sents), 2), "forward: logits shape %s" % (logits.shape,))
    correct = int((logits.argmax(1) == labels).sum())
    acc = correct / len(labels)

    with open(os.path.join(model, "training.json")) as f:
        dev = json.load(f)["dev"]
    check(acc >= 0.80, "C engine dev accuracy %.4f (%d/%d) >= 0.80" % (acc, correct, len(labels)))
    check(abs(correct - dev["correct_f16"]) <= 1,
          "C engine %d correct vs %d recorded in training.json (torch, f16 weights), within 1"
          % (correct, dev["correct_f16"]))
    # mean cross-entropy from the logits, computed here, and the engine's own per-sequence loss
    z = logits - logits.max(1, keepdims=True)
    ce = float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(labels)), labels]))
    loss = float(np.load(os.path.join(outdir, "loss.npy")).mean())
    check(abs(ce - dev["loss_f16"]) < 1e-3 and abs(loss - ce) < 1e-4,
          "dev cross-entropy %.6f (from logits), %.6f (engine) vs %.6f recorded"
          % (ce, loss, dev["loss_f16"]))
