"""`--task ud --data FILE.conllu` in the commands over a data set (issue 15; docs/syntax.md "Other
commands on a treebank"), on random checkpoints with real vocabularies and the UD English EWT
dev treebank (tests/data/ud). Checked:
* eval on a BERT encoder (no head) and a GPT-2 language model: run.h5's /words (sentence, word
  count, offset, each word's first piece and piece count, UPOS, HEAD, DEPREL, relation) equal an
  independent parse of the CoNLL-U file, /examples/token_ids equal the reference tokenizers'
  pieces (tests/text), and each word's pieces, read back through the fixture vocabulary, spell
  the word (GPT-2: its bytes exactly; BERT: its lower-cased, accent-stripped letters);
* the GPT-2 language model drops one-token sentences (no next token) and reports loss and
  perplexity; the encoder says it has no metric; no labels or logits in run.h5;
* np = 1 and np = 3 give byte-identical /words, /examples, /hidden and /entropy;
* importance on the GPT-2 language model runs (loss rows, /words); mask and ablate too;
* importance, mask and ablate with an encoder or a classifier are refused at np = 3: exit 2 on
  every rank, one stderr line that names the command, the need (a loss / a score), the data
  file and the model, and no run.h5; --metric accuracy on a treebank is refused too;
* eval on a malformed treebank: exit 2 at np = 3, one line naming FILE:LINE;
* bertology syntax writes the same /words as eval, stores its own flags (min_arcs) in the
  options JSON, and prints exactly the relations with at least --min-arcs arcs.
"""
import json
import os
import unicodedata

import h5py
import numpy as np
import pytest

import bpe_ref
from bertology_analysis.run import load_run
from bttest import UD_DEV, bertology, contents, models, same_bits
from ud_ref import Aligner, read_conllu  # the independent parse and pieces

SUBSET = 300  # sentences: every check below is per word, 300 sentences hold ~4000 of them
pytestmark = pytest.mark.usefixtures("blas_one_thread")


def bert_letters(form):
    """What BERT-uncased's pieces of a word spell: lower case, accents and controls dropped,
    no whitespace."""
    s = unicodedata.normalize("NFD", form.lower())
    return "".join(c for c in s if unicodedata.category(c) not in ("Mn", "Cc", "Cf") and not c.isspace())


def expected(kind, model, maxlen, lm):
    """The kept sentences with their ids and word spans, from the independent parse."""
    sents = read_conllu(UD_DEV)[:SUBSET]
    al = Aligner(kind, model)
    kept = []
    for s, (words, _) in enumerate(sents):
        ids, spans = al.encode([w[0] for w in words])
        if len(ids) > maxlen or any(c == 0 for _, c in spans) or (lm and len(ids) < 2):
            continue
        kept.append((s, ids, spans))
    return sents, kept


def check_words(check, name, path, kind, model, maxlen, lm):
    sents, kept = expected(kind, model, maxlen, lm)
    with h5py.File(path, "r") as f:
        check(f.attrs["task"] == "ud" and f.attrs["split"] == UD_DEV, "%s: task/split attributes %r %r" % (
            name, f.attrs["task"], f.attrs["split"]))
        opts = json.loads(f.attrs["options"])
        check(opts["task"] == "ud" and opts["data"] == UD_DEV and opts["split"] == "",
              "%s: options JSON task/data/split: %r" % (name, {k: opts.get(k) for k in ("task", "data", "split")}))
        for ds in ("examples/label", "examples/logits"):
            check(ds not in f, "%s: %s in a run over a treebank (no labels)" % (name, ds))
        if not check("words" in f, "%s: no /words" % name):
            return None
        w = {k: f["words"][k][()] for k in f["words"]}
        names = {k: [str(x) for x in f["words"].attrs[k]] for k in ("upos_names", "deprel_names", "relation_names")}
        n = int(f.attrs["n_examples"])
        toks, toff, lens = f["examples/token_ids"][()], f["examples/token_offset"][()], f["examples/length"][()]
    check(n == len(kept), "%s: %d examples, the independent parse keeps %d" % (name, n, len(kept)))
    if lm:  # the subset holds one-token sentences: the drop is exercised
        al = Aligner(kind, model)
        short = sum(len(al.encode([x[0] for x in ws])[0]) < 2 for ws, _ in sents)
        check(short > 0, "%s: no one-token sentence in the first %d: the drop is not tested" % (name, SUBSET))
        print("  %s: %d one-token sentences dropped (no next token)" % (name, short))
    check(list(w["sentence"]) == [k[0] for k in kept], "%s: /words/sentence differs from the kept sentences" % name)
    check(w["count"].dtype == np.int32 and w["offset"].dtype == np.int64, "%s: /words dtypes" % name)
    vocab = {}
    if kind == "gpt2":
        with open(os.path.join(model, "vocab.json"), encoding="utf-8") as fv:
            vocab = {i: t for t, i in json.load(fv).items()}
        dec = {c: b for b, c in bpe_ref.bytes_to_unicode().items()}  # GPT-2 printable character -> byte
    else:
        with open(os.path.join(model, "vocab.txt"), encoding="utf-8") as fv:
            vocab = dict(enumerate(ln.rstrip("\n") for ln in fv))
    bad = spelled = unk = 0
    for row, (s, ids, spans) in enumerate(kept[:n]):
        words = sents[s][0]
        o, c = int(w["offset"][row]), int(w["count"][row])
        got_ids = list(toks[toff[row]:toff[row] + lens[row]])
        ok = (c == len(words) and (row + 1 == n or int(w["offset"][row + 1]) == o + c) and got_ids == ids
              and [int(x) for x in w["first"][o:o + c]] == [a for a, _ in spans]
              and [int(x) for x in w["pieces"][o:o + c]] == [b for _, b in spans]
              and [names["upos_names"][k] for k in w["upos"][o:o + c]] == [x[1] for x in words]
              and [int(x) for x in w["head"][o:o + c]] == [x[2] for x in words]
              and [names["deprel_names"][k] for k in w["deprel"][o:o + c]] == [x[3] for x in words]
              and [names["relation_names"][k] for k in w["relation"][o:o + c]] == [x[3].split(":")[0] for x in words])
        if not ok:
            bad += 1
            if bad <= 2:
                print("  %s: row %d (sentence %d) differs from the independent parse" % (name, row, s))
            continue
        # the word's pieces in run.h5's token ids, through the vocabulary, spell the word
        for i, (form, *_rest) in enumerate(words):
            a, b = int(w["first"][o + i]), int(w["pieces"][o + i])
            pieces = [vocab[int(t)] for t in got_ids[a:a + b]]
            if kind == "gpt2":
                text = bytes(dec[ch] for p in pieces for ch in p).decode("utf-8", "replace")
                good = text == (form if i == 0 else " " + form)
            elif "[UNK]" in pieces:
                unk += 1
                continue
            else:
                good = "".join(p[2:] if p.startswith("##") else p for p in pieces) == bert_letters(form)
            spelled += good
            if not good:
                bad += 1
                if bad <= 4:
                    print("  %s: row %d word %d %r: pieces %r" % (name, row, i + 1, form, pieces))
    check(bad == 0, "%s: %d rows/words differ from the independent parse" % (name, bad))
    print("  %s: %d sentences, %d words equal the independent parse; %d words spelled by their pieces (%d [UNK])"
          % (name, n, int(w["count"].sum()), spelled, unk))
    return w


def loader(check, name, path, kind, model, maxlen, lm):
    """analysis/'s Run.words / word_of_token join pieces to words as the independent parse does."""
    sents, kept = expected(kind, model, maxlen, lm)
    bad = 0
    with load_run(path, vocab=model) as run:
        check(run.has_words, "%s: load_run: has_words is False" % name)
        for row, (s, ids, spans) in enumerate(kept[:run.n_examples]):
            w, words = run.words(row), sents[s][0]
            wot = run.word_of_token(row)
            want = np.full(len(ids), -1)
            for k, (a, b) in enumerate(spans):
                want[a:a + b] = k
            bad += not (w["sentence"] == s and list(w["first"]) == [a for a, _ in spans]
                        and list(w["pieces"]) == [b for _, b in spans] and w["upos"] == [x[1] for x in words]
                        and list(w["head"]) == [x[2] for x in words] and w["deprel"] == [x[3] for x in words]
                        and np.array_equal(wot, want))
    check(bad == 0, "%s: load_run words differ from the independent parse in %d rows" % (name, bad))
    print("  %s: analysis load_run().words / word_of_token agree on every row" % name)


def np_identical(check, name, a, b, groups=("words", "examples", "hidden", "entropy")):
    x, y = contents(a)[0], contents(b)[0]
    keys = [k for k in sorted(x) if k.split("/")[1] in groups]
    for k in keys:
        check(k in y and same_bits(x[k], y[k]), "%s: np=1 vs np=3: %s differs" % (name, k))
    print("  %s: np=1 and np=3 identical in %d datasets of %s" % (name, len(keys), ", ".join(groups)))


def ud_args(out, maxlen, *extra):
    return ["--task", "ud", "--data", UD_DEV, "--out", out, "--subset", SUBSET, "--max-seq-length", maxlen,
            "--batch-tokens", 512, "--threads", 1, "--quiet"] + list(extra)


def eval_family(check, work, name, kind, model, maxlen, lm):
    print("== eval --task ud: %s" % name, flush=True)
    outs = {}
    for np_ in (1, 3):
        out = os.path.join(work, "eval_%s_np%d" % (name, np_))
        p = bertology(["eval", "--model", model] + ud_args(out, maxlen, "--save-hidden", "--layers", "0,1"),
                      np=np_, quiet_mpi=True, timeout=300)
        outs[np_] = (os.path.join(out, "run.h5"), p.stdout)
    path, stdout = outs[1]
    if lm:
        check("loss = " in stdout and "perplexity = " in stdout, "%s: eval prints no loss/perplexity:\n%s" % (name, stdout))
    else:
        line = [ln for ln in stdout.splitlines() if ln.startswith("no metrics")]
        check(len(line) == 1 and "treebank without labels" in line[0] and UD_DEV in line[0],
              "%s: eval does not say why there is no metric:\n%s" % (name, stdout))
        check(not any(ln.startswith(("accuracy", "mcc", "f1")) for ln in stdout.splitlines()),
              "%s: eval prints a metric without labels:\n%s" % (name, stdout))
    with h5py.File(path, "r") as f:  # --layers 0,1: the states after layers 0 and 1
        check("hidden" in f and list(f["hidden"].attrs["layers"]) == [1, 2]
              and f["hidden/data"].shape[0] == int(f["examples/length"][()].sum()) * 2 * 32,
              "%s: /hidden does not hold 2 states of D=32 per token" % name)
    w = check_words(check, name, path, kind, model, maxlen, lm)
    loader(check, name, path, kind, model, maxlen, lm)
    np_identical(check, name, path, outs[3][0])
    return path, w


def refused(check, work, cmd, model, what, needs, extra=()):
    """At np=3: exit 2, one stderr line naming command, need, data file and model; no run.h5."""
    out = os.path.join(work, "refused_%s_%s" % (cmd, what))
    r = bertology([cmd, "--model", model] + ud_args(out, 128) + list(extra), np=3, quiet_mpi=True, timeout=300,
                  expect=None)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = (r.returncode == 2 and len(lines) == 1 and lines[0].startswith("bertology %s: " % cmd)
          and all(s in lines[0] for s in needs) and not os.path.exists(os.path.join(out, "run.h5")))
    check(ok, "%s --task ud with %s: exit %d, stderr %r (want one line with %r)" % (cmd, what, r.returncode,
                                                                                    r.stderr[-800:], needs))
    print("  %-10s %-22s -> %s" % (cmd, what, lines[0] if lines else "(nothing)"))


def lm_commands(check, work, gpt2, eval_h5):
    print("== importance / mask / ablate --task ud on the GPT-2 language model", flush=True)
    out = os.path.join(work, "imp_gpt2")
    bertology(["importance", "--model", gpt2] + ud_args(out, 64), np=3, quiet_mpi=True, timeout=300)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f, h5py.File(eval_h5, "r") as g:
        loss = f["examples/loss"][()]
        check(np.all(np.isfinite(loss)) and np.all(loss > 0), "importance: loss rows not finite and positive")
        check(np.all(np.isfinite(f["importance/normalized"][()])), "importance: non-finite importance")
        for k in g["words"]:
            check(same_bits(f["words"][k][()], g["words"][k][()]), "importance vs eval: /words/%s differs" % k)
        print("  importance: %d loss rows (mean %.4f), /words as eval's" % (len(loss), float(loss.mean())))
    out = os.path.join(work, "mask_gpt2")
    p = bertology(["mask", "--model", gpt2] + ud_args(out, 64, "--percents", "25,50", "--subset", 60), np=1,
                  quiet_mpi=True, timeout=300)
    check("inv_loss" in p.stdout, "mask --task ud on a language model does not watch inv_loss:\n%s" % p.stdout)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check("words" in f and "masking/score" in f, "mask --task ud: no /words or /masking")
    print("  mask: watched inv_loss, run.h5 with /words and /masking")
    out = os.path.join(work, "ablate_gpt2")
    bertology(["ablate", "--model", gpt2] + ud_args(out, 64, "--subset", 40), np=1, quiet_mpi=True, timeout=300)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        check("words" in f and np.isfinite(f["ablation/base_score"][()]), "ablate --task ud: no /words or base score")
    print("  ablate: base score finite, run.h5 with /words")


def refusals(check, work, bert, bert_cls):
    print("== refusals (np=3)", flush=True)
    refused(check, work, "importance", bert, "an encoder", ["importance needs a loss", UD_DEV, bert, "no head"])
    refused(check, work, "importance", bert_cls, "a classifier", ["importance needs a loss", UD_DEV, bert_cls,
                                                           "classification head"])
    refused(check, work, "mask", bert_cls, "a classifier", ["mask needs a score", UD_DEV, bert_cls])
    refused(check, work, "ablate", bert, "an encoder", ["ablate needs a score", UD_DEV, bert])
    refused(check, work, "mask", bert_cls, "--metric accuracy", ["--metric accuracy", "inv_loss"], ["--metric", "accuracy"])
    # a malformed treebank in eval: the CoNLL-U reader's FILE:LINE, once, every rank out
    bad = os.path.join(work, "two_roots.conllu")
    with open(bad, "wb") as f:
        f.write(b"# c\n1\tThe\tthe\tDET\tDT\t_\t0\tdet\t_\t_\n2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n")
    r = bertology(["eval", "--model", bert, "--task", "ud", "--data", bad, "--out", os.path.join(work, "eval_bad"),
                   "--quiet"], np=3, quiet_mpi=True, timeout=300, expect=None)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    check(r.returncode == 2 and len(lines) == 1 and bad + ":2: the sentence has 2 roots" in lines[0]
          and not os.path.exists(os.path.join(work, "eval_bad", "run.h5")),
          "eval on a malformed treebank: exit %d, stderr %r" % (r.returncode, r.stderr[-600:]))
    print("  %-10s %-22s -> %s" % ("eval", "two roots", lines[0] if lines else "(nothing)"))


def syntax_same_words(check, work, bert, eval_h5):
    print("== syntax: /words as eval's, its own options in run.h5, --min-arcs", flush=True)
    out = os.path.join(work, "syntax_bert")
    p = bertology(["syntax", "--model", bert] + ud_args(out, 128, "--min-arcs", 37), np=1, quiet_mpi=True, timeout=300)
    with h5py.File(os.path.join(out, "run.h5"), "r") as f, h5py.File(eval_h5, "r") as g:
        for k in g["words"]:
            check(same_bits(f["words"][k][()], g["words"][k][()]), "syntax vs eval: /words/%s differs" % k)
        for a in ("upos_names", "deprel_names", "relation_names"):
            check(list(f["words"].attrs[a]) == list(g["words"].attrs[a]), "syntax vs eval: /words@%s differs" % a)
        opts = json.loads(f.attrs["options"])
        arcs, rels = f["syntax/arcs"][()], [str(x) for x in f["syntax"].attrs["relations"]]
    check(opts.get("command") == "syntax" and opts.get("min_arcs") == 37 and opts.get("max_seq_length") == 128
          and opts.get("subset") == SUBSET, "syntax options JSON: %r" % opts)
    check("threshold" not in opts and "percents" not in opts, "syntax options JSON holds mask flags: %r" % opts)
    shown = [ln.split()[0] for ln in p.stdout.splitlines() if ln.split() and ln.split()[0] in rels]
    want = sorted(r for r, n in zip(rels, arcs) if n >= 37)
    check(sorted(shown) == want, "syntax --min-arcs 37 prints %r, relations with >= 37 arcs are %r" % (shown, want))
    print("  /words equal eval's; options JSON min_arcs 37; table rows %d = relations with >= 37 arcs" % len(shown))


@pytest.fixture(scope="module")
def bert(work):
    return models.bert(os.path.join(work, "bert"), layers=2, hidden=32, heads=4, ff=64, no_head=True, seed=11)


@pytest.fixture(scope="module")
def bert_cls(work):
    return models.bert(os.path.join(work, "bert_cls"), layers=2, hidden=32, heads=4, ff=64, labels=2, seed=12)


@pytest.fixture(scope="module")
def gpt2(work):
    return models.gpt2(os.path.join(work, "gpt2"), layers=2, heads=4, hidden=32)


def test_bert_encoder(work, bert, check):
    """eval on the encoder; syntax writes the same /words"""
    r = eval_family(check, work, "bert", "bert", bert, 128, lm=False)
    syntax_same_words(check, work, bert, r[0])


def test_gpt2_language_model(work, gpt2, check):
    """eval on the language model; importance, mask and ablate on it"""
    g = eval_family(check, work, "gpt2", "gpt2", gpt2, 64, lm=True)
    lm_commands(check, work, gpt2, g[0])


def test_refusals(work, bert, bert_cls, check):
    refusals(check, work, bert, bert_cls)
