"""`bertology syntax` against an independent re-implementation of docs/spec.md "Syntax and
probing", on random checkpoints with real vocabularies (BERT WordPiece, GPT-2 and RoBERTa
byte-level BPE) and the UD English EWT dev treebank (tests/data/ud).

The Python side reads the CoNLL-U file itself, tokenises every word with the reference
tokenizers of tests/text (wordpiece_ref.py, bpe_ref.py), rebuilds the word-level attention of
every (layer, head) from the token-level maps the run saved (--save-attentions --dtype f32),
predicts heads in both directions, and counts. Checked, exactly (integers, bit patterns):
* the first 40 sentences through the float64 PyTorch references of tests/ref: their maps equal
  the stored ones (2e-5) and give the same counts;
* the kept sentences, their token ids and the word alignment (/words/*);
* /syntax/correct, /syntax/total, /syntax/arcs, /syntax/baseline_correct, the accuracies and
  syntax_accuracy.npy;
* np = 1 and np = 3 give byte-identical /syntax, /words, /examples, /attentions and the same
  printed table;
* the table's rows: the best (layer, head, direction) and baseline per relation;
* malformed CoNLL-U files: exit 2 on every rank, one line naming FILE:LINE, no run.h5;
* stopped (exit 3, the work saved) at np 2 and np 3 and resumed at np 1, the result is the
  uninterrupted run's, bit for bit (run.h5, .npy, table); real signals to mpirun stop it too.
"""
import glob
import os
import signal
import sys
import time

import h5py
import numpy as np
import pytest

import torch_bert
import torch_families
from bttest import (BERTOLOGY, SOURCE, UD_DEV, Background, bertology, contents, example_ids, models, run,
                    run_differences, same_bits, same_files)
from ud_ref import Aligner, read_conllu

OFFSETS = [-3, -2, -1, 1, 2, 3]
TORCH_SENTENCES = 40
pytestmark = pytest.mark.usefixtures("blas_one_thread")


# ---- the statistic, from the spec -----------------------------------------------------------

def word_attention(A, spans):
    """A [..., T, T] float32 -> W [..., m, m] float64: columns of a word summed, rows averaged,
    each sum taken in increasing token order."""
    A = A.astype(np.float64)
    m = len(spans)
    cols = np.zeros(A.shape[:-1] + (m,))
    for j, (f, c) in enumerate(spans):
        acc = np.zeros(A.shape[:-1])
        for p in range(f, f + c):
            acc = acc + A[..., p]
        cols[..., j] = acc
    W = np.zeros(A.shape[:-2] + (m, m))
    for i, (f, c) in enumerate(spans):
        acc = np.zeros(A.shape[:-2] + (m,))
        for t in range(f, f + c):
            acc = acc + cols[..., t, :]
        W[..., i, :] = acc / c
    return W


def predictions(W, P, n):
    """Clark's attn_head_predictor: diagonal 0, specials dropped, argmax (first on ties)."""
    W = W.copy()
    idx = np.arange(W.shape[-1])
    W[..., idx, idx] = 0.0
    W = W[..., P:P + n, P:P + n]
    return np.argmax(W, axis=-1) + 1, np.argmax(np.swapaxes(W, -1, -2), axis=-1) + 1


def reference_counts(sents, kept, spans_of, rels, attn_of, L, H):
    R = len(rels) + 1
    correct = np.zeros((R, L, H, 2), np.int64)
    arcs = np.zeros(R, np.int64)
    base = np.zeros((R, 6), np.int64)
    rel_id = {r: k for k, r in enumerate(rels)}
    for row, s in enumerate(kept):
        words = sents[s][0]
        n = len(words)
        heads = np.array([w[2] for w in words])
        rid = np.array([rel_id[w[3].split(":")[0]] for w in words])
        spans, P, T = spans_of[row]
        S = T - spans[-1][0] - spans[-1][1]  # special tokens after the last word
        allspans = [(k, 1) for k in range(P)] + spans + [(T - S + k, 1) for k in range(S)]
        dh, hd = predictions(word_attention(attn_of(row), allspans), P, n)  # [L, H, n] each
        nonroot = heads != 0
        for r in (rid, np.full(n, R - 1)):
            np.add.at(arcs, r[nonroot], 1)
            for d, pred in enumerate((dh, hd)):
                hit = (pred == heads) & nonroot  # [L, H, n]
                for i in np.nonzero(nonroot)[0]:
                    correct[r[i], :, :, d] += hit[:, :, i]
            for k, off in enumerate(OFFSETS):
                pb = np.clip(np.arange(1, n + 1) + off, 1, n)
                np.add.at(base[:, k], r[nonroot & (pb == heads)], 1)
    return correct, arcs, base


# ---- one family -----------------------------------------------------------------------------

def torch_leg(check, name, kind, model, sents, kept, spans_of, rels, ids_want, attn_of, L, H, n=TORCH_SENTENCES):
    """The first n kept sentences through the float64 PyTorch reference (tests/ref): its maps
    equal the stored ones to float32 precision, and the counts from its maps equal the counts
    from the stored maps (no arc sits on a near-tie)."""
    ref = torch_bert.Bert(model) if kind == "bert" else torch_families.load(model)
    maps = {}
    worst = 0.0
    for row in range(min(n, len(kept))):
        maps[row] = ref.example(ids_want[row])["attn"]
        worst = max(worst, float(np.max(np.abs(maps[row] - attn_of(row)))))
    check(worst <= 2e-5, "%s: stored attention vs the torch float64 reference: max |diff| %.3g" % (name, worst))
    rows = sorted(maps)
    a = reference_counts(sents, [kept[r] for r in rows], [spans_of[r] for r in rows], rels, lambda r: maps[r], L, H)
    b = reference_counts(sents, [kept[r] for r in rows], [spans_of[r] for r in rows], rels, attn_of, L, H)
    check(all(np.array_equal(x, y) for x, y in zip(a, b)),
          "%s: counts from the torch maps differ from those of the stored maps on %d sentences" % (name, len(rows)))
    print("  torch float64 reference, %d sentences: maps within %.2g, counts equal" % (len(rows), worst))


def run_syntax(np_, model, out, maxlen, extra=()):
    return bertology(["syntax", "--model", model, "--task", "ud", "--data", UD_DEV, "--out", out,
                      "--max-seq-length", maxlen, "--batch-tokens", 512, "--threads", 1, "--quiet"] + list(extra),
                     np=np_, quiet_mpi=True, timeout=300)


def table(stdout):
    return [ln for ln in stdout.splitlines() if not ln.startswith("syntax:")]


def family(check, work, name, kind, model, maxlen):
    print("== %s (%s, max %d tokens)" % (name, kind, maxlen), flush=True)
    outs = {}
    for np_ in (1, 3):
        out = os.path.join(work, "%s_np%d" % (name, np_))
        p = run_syntax(np_, model, out, maxlen, ["--save-attentions", "--dtype", "f32", "--min-arcs", 50])
        outs[np_] = (out, p.stdout)
    ref_dir, ref_out = outs[1]
    path = os.path.join(ref_dir, "run.h5")
    a, b = contents(path)[0], contents(os.path.join(outs[3][0], "run.h5"))[0]
    for k in sorted(a):
        if k.split("/")[1] in ("syntax", "words", "examples", "attentions", "entropy"):
            check(k in b and same_bits(a[k], b[k]), "%s: np=1 vs np=3: %s differs" % (name, k))
    check(table(ref_out) == table(outs[3][1]), "%s: np=1 vs np=3: printed tables differ" % name)
    check(same_files(os.path.join(ref_dir, "syntax_accuracy.npy"),
                     os.path.join(outs[3][0], "syntax_accuracy.npy")), "%s: np=1 vs np=3: .npy differs" % name)
    print("  np=1 vs np=3: %d datasets, table and .npy identical" % len(a))

    sents = read_conllu(UD_DEV)
    al = Aligner(kind, model)
    kept, ids_want, spans_of, skipped = [], [], [], [0, 0]
    for s, (words, _) in enumerate(sents):
        ids, spans = al.encode([w[0] for w in words])
        if len(ids) > maxlen:
            skipped[0] += 1
        elif any(c == 0 for _, c in spans):
            skipped[1] += 1
        else:
            kept.append(s)
            ids_want.append(ids)
            spans_of.append((spans, len(al.pre), len(ids)))
    f = h5py.File(path, "r")
    g, w = f["syntax"], f["words"]
    check(f["syntax/skipped"][()].tolist() == skipped, "%s: skipped %s, want %s" % (name, f["syntax/skipped"][()], skipped))
    check(w["sentence"][()].tolist() == kept, "%s: kept sentences differ" % name)
    check(example_ids(path) == ids_want, "%s: token ids differ from the reference tokenizer" % name)
    first = [p[0] for sp in spans_of for p in sp[0]]
    count = [p[1] for sp in spans_of for p in sp[0]]
    check(w["first"][()].tolist() == first and w["pieces"][()].tolist() == count,
          "%s: word alignment (/words/first, /words/pieces) differs" % name)
    kw = [sents[s][0][i] for s in kept for i in range(len(sents[s][0]))]
    upos, deprel = list(w.attrs["upos_names"]), list(w.attrs["deprel_names"])
    check([upos[u] for u in w["upos"][()]] == [x[1] for x in kw], "%s: /words/upos differs" % name)
    check([deprel[u] for u in w["deprel"][()]] == [x[3] for x in kw], "%s: /words/deprel differs" % name)
    check(w["head"][()].tolist() == [x[2] for x in kw], "%s: /words/head differs" % name)
    check(w["count"][()].tolist() == [len(sents[s][0]) for s in kept], "%s: /words/count differs" % name)

    rels = sorted({x[3].split(":")[0] for s in sents for x in s[0]}, key=lambda r: r.encode())
    check(list(g.attrs["relations"]) == rels + ["all"], "%s: relation names differ" % name)
    cfg = f.attrs
    L, H = int(cfg["n_layers"]), int(cfg["n_heads"])
    aoff, adata = f["attentions/offset"][()], f["attentions/data"]
    check(adata.dtype == np.float32, "%s: attentions not float32" % name)

    def attn_of(row):
        T = len(ids_want[row])
        return adata[aoff[row]:aoff[row] + L * H * T * T].reshape(L, H, T, T)

    correct, arcs, base = reference_counts(sents, kept, spans_of, rels, attn_of, L, H)
    torch_leg(check, name, kind, model, sents, kept, spans_of, rels, ids_want, attn_of, L, H)
    got = g["correct"][()]
    check(got.dtype == np.int64 and np.array_equal(got, correct),
          "%s: /syntax/correct differs in %d of %d counts" % (name, int(np.sum(got != correct)), correct.size))
    check(np.array_equal(g["arcs"][()], arcs), "%s: /syntax/arcs differs" % name)
    check(np.array_equal(g["total"][()], np.broadcast_to(arcs[:, None, None, None], correct.shape)),
          "%s: /syntax/total differs" % name)
    check(np.array_equal(g["baseline_correct"][()], base), "%s: /syntax/baseline_correct differs" % name)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = (correct / arcs[:, None, None, None]).astype(np.float32)
    npy = np.load(os.path.join(ref_dir, "syntax_accuracy.npy"))
    check(npy.dtype == np.float32 and npy.shape == correct.shape and np.array_equal(npy, acc, equal_nan=True),
          "%s: syntax_accuracy.npy differs from correct / arcs" % name)
    check(np.array_equal(g["accuracy"][()], acc, equal_nan=True), "%s: /syntax/accuracy differs" % name)
    print("  %d sentences kept (%d too long, %d without pieces), %d arcs, %d counts equal; all-relation best %.3f"
          % (len(kept), skipped[0], skipped[1], arcs[-1], correct.size, np.nanmax(acc[-1])), flush=True)

    # the printed table: relations with >= 50 arcs by frequency, best head and baseline
    rows_ = [ln.split() for ln in table(ref_out)[2:]]
    want = []
    for q in sorted(range(len(arcs)), key=lambda q: (-arcs[q], q)):
        if arcs[q] < 50:
            continue
        flat = correct[q].reshape(-1)
        b = int(np.argmax(flat))  # first maximum in (layer, head, direction) order
        lyr, hd, d = b // (2 * H), b // 2 % H, b % 2
        kb = int(np.argmax(base[q]))
        want.append([(rels + ["all"])[q], str(arcs[q]), "%d-%d" % (lyr + 1, hd + 1), ["dep->head", "head->dep"][d],
                     "%.3f" % acc[q].reshape(-1)[b], "%.3f" % np.float32(base[q, kb] / arcs[q]), "%+d" % OFFSETS[kb]])
    check(rows_ == want, "%s: printed table differs from the reference:\n%s\nwant\n%s" % (name, rows_[:5], want[:5]))
    f.close()
    return ref_dir, want


def report(check, run_dir, want):
    """analysis/report.py on the run: the same table, and the two syntax heatmaps."""
    out = os.path.join(run_dir, "report")
    run([sys.executable, os.path.join(SOURCE, "analysis", "report.py"), os.path.join(run_dir, "run.h5"), "--out", out,
         "--min-arcs", "50", "--quiet"], timeout=300)
    md = open(os.path.join(out, "summary.md"), encoding="utf-8").read()
    sec = md.split("## Syntactic heads", 1)[1].split("\n## ", 1)[0]
    rows_ = [[c.strip() for c in ln.strip("|").split("|")] for ln in sec.splitlines() if ln.startswith("| ")][1:]
    check(rows_ == want, "report.py syntax table differs from the reference:\n%s\nwant\n%s" % (rows_[:3], want[:3]))
    for png in ("syntax_best.png", "syntax_all.png"):
        check(os.path.exists(os.path.join(out, png)), "report.py: no %s" % png)
    print("  report.py: syntax table of %d relations as printed, heatmaps written" % len(rows_))


BAD_GOOD = b"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n"
BAD_FILES = {  # file: (content, what the message says after FILE)
    "columns.conllu": (b"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\n", ":1: too few columns"),
    "head_nan.conllu": (BAD_GOOD + b"\n1\tA\ta\tDET\tDT\t_\tx\tdet\t_\t_\n", ":4: HEAD 'x' is not an integer"),
    "head_range.conllu": (BAD_GOOD.replace(b"\t2\tdet", b"\t7\tdet"), ":1: HEAD 7 is outside the sentence of 2 words"),
    "two_roots.conllu": (b"# c\n" + BAD_GOOD.replace(b"\t2\tdet", b"\t0\tdet"), ":2: the sentence has 2 roots"),
    "no_root.conllu": (BAD_GOOD.replace(b"\t0\troot", b"\t1\troot"), ":1: the sentence has 0 roots"),
    "ids.conllu": (BAD_GOOD.replace(b"2\tdog", b"3\tdog"), ":2: word ID 3 where 2 was expected"),
    "utf8.conllu": (BAD_GOOD + b"\n1\tca\xff\tx\tX\tX\t_\t0\troot\t_\t_\n", ":4: invalid UTF-8"),
    "empty.conllu": (b"# only a comment\n\n", ": no sentence"),
}


@pytest.fixture(scope="module")
def bert(work):
    """A BERT encoder (no head) over bert-base-uncased's vocabulary."""
    return models.bert(os.path.join(work, "bert"), layers=2, hidden=32, heads=4, ff=64, no_head=True, seed=11)


@pytest.mark.parametrize("fname", list(BAD_FILES))
def test_malformed_treebank(fname, bert, work):
    """Each malformed file: exit 2 at np=3, exactly one stderr line naming FILE:LINE, no run.h5."""
    text, want = BAD_FILES[fname]
    p = os.path.join(work, fname)
    with open(p, "wb") as f:
        f.write(text)
    out = os.path.join(work, "bad_" + fname)
    r = bertology(["syntax", "--model", bert, "--task", "ud", "--data", p, "--out", out, "--quiet"], np=3,
                  quiet_mpi=True, timeout=300, expect=2)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and (p + want) in lines[0] and not os.path.exists(out + "/run.h5"), \
        r.report("want one line with %r and no run.h5" % (p + want))
    print("  %-18s -> %s" % (fname, lines[0]))


@pytest.mark.parametrize("cmd,need", [("importance", "importance needs a loss"), ("mask", "mask needs a score"),
                                      ("ablate", "ablate needs a score")])
def test_ud_in_other_commands(cmd, need, bert, work):
    """--task ud elsewhere with an encoder (no head): importance needs a loss, mask and ablate a
    score; one clear line naming the file and the model, exit 2 (tests/syntax/test_ud_runs.py
    covers the commands that run)."""
    r = bertology([cmd, "--model", bert, "--task", "ud", "--data", UD_DEV, "--out", os.path.join(work, "ud_" + cmd),
                   "--quiet"], np=3, quiet_mpi=True, timeout=300, expect=2)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and need in lines[0] and UD_DEV in lines[0] and bert in lines[0], r.report("not one line")


def test_resume_bitwise(bert, work, check):
    """syntax stops and resumes like every pass (docs/resume.md), bitwise at any rank count:
    stopped by BT_TEST_SIGNAL_AFTER (rank 0 signals itself after its N-th saved batch) at np 2
    (SIGUSR1), resumed and stopped again at np 3 (SIGTERM), finished at np 1; run.h5 (every
    dataset and attribute but the run's own), syntax_accuracy.npy and the printed table equal an
    uninterrupted np 1 run's."""
    def argv(out):
        return ["syntax", "--model", bert, "--task", "ud", "--data", UD_DEV, "--out", out, "--batch-tokens", 256,
                "--threads", 1, "--quiet", "--save-attentions"]

    ref = os.path.join(work, "resume_ref")
    ref_p = bertology(argv(ref), np=1, quiet_mpi=True, timeout=300)
    out = os.path.join(work, "resume")
    for np_, sig in ((2, "USR1"), (3, "TERM")):
        p = bertology(argv(out), np=np_, quiet_mpi=True, expect=3, timeout=300,
                      env={"BT_TEST_SIGNAL_AFTER": "3:" + sig})
        check("exit status 3" in p.stderr and "resume" in p.stderr and not os.path.exists(os.path.join(out, "run.h5"))
              and os.path.exists(os.path.join(out, "checkpoint", "state.json")),
              "syntax np=%d stopped by SIG%s: run.h5 or checkpoint wrong\n%s" % (np_, sig, p.stderr[-1500:]))
    p = bertology(argv(out), np=1, quiet_mpi=True, timeout=300)
    check(" batches resumed from the checkpoint" in p.stdout, "syntax resumed: no resumed batches: %s" % p.stdout)
    check(not os.path.exists(os.path.join(out, "checkpoint")), "syntax resumed: the checkpoint is left")
    diffs = run_differences(ref, out, npy=("syntax_accuracy.npy",))
    check(not diffs, "syntax resumed differs from the uninterrupted run:\n" + "\n".join(diffs))
    check(table(ref_p.stdout) == table(p.stdout), "syntax resumed: the printed table differs")
    print("  stopped at np 2 and 3, finished at np 1: run.h5, .npy and table = the uninterrupted run's; %s"
          % p.stdout.splitlines()[-1])


def test_bert_and_report(bert, work, check):
    ref_dir, want = family(check, work, "bert", "bert", bert, 128)
    report(check, ref_dir, want)


@pytest.mark.parametrize("np_,sig,want_rc", [(2, signal.SIGUSR1, 3), (3, signal.SIGINT, 1)], ids=["np2-USR1", "np3-INT"])
def test_stop(np_, sig, want_rc, work, check):
    """SIGUSR1 (np 2) and SIGINT (np 3) to mpirun while the pass runs: every rank stops, exit 3
    (after SIGINT Open MPI's own 1: it sends the ranks SIGTERM itself), one line from rank 0
    saying that the work is saved, no run.h5 but a checkpoint; the same command then finishes,
    resuming."""
    model = os.path.join(work, "bert_wide")  # wide enough that the pass lasts seconds
    if not os.path.exists(os.path.join(model, "vocab.txt")):
        models.bert(model, layers=2, hidden=384, heads=6, ff=1536, no_head=True, seed=11)
    out = os.path.join(work, "stop_np%d" % np_)
    argv = [BERTOLOGY, "syntax", "--model", model, "--task", "ud", "--data", UD_DEV, "--out", out,
            "--batch-tokens", 256, "--threads", 1, "--quiet"]
    with Background(argv, np=np_, quiet_mpi=True) as p:
        t0 = time.time()
        while p.poll() is None and not glob.glob(os.path.join(out, "run.h5.tmp-*")) and time.time() - t0 < 120:
            time.sleep(0.01)
        time.sleep(0.5)  # inside the pass (it lasts seconds)
        assert p.poll() is None, p.wait(0).report("syntax np=%d ended before the signal" % np_)
        p.signal(sig)
        r = p.wait(timeout=60)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    check(r.returncode == want_rc and len(lines) == 1 and "the work so far is saved" in lines[0]
          and "exit status 3" in lines[0] and not os.path.exists(os.path.join(out, "run.h5"))
          and os.path.exists(os.path.join(out, "checkpoint", "state.json")),
          "syntax np=%d stopped by %s: exit %s, %s" % (np_, sig.name, r.returncode, lines))
    print("  syntax np=%d, %s after %.1f s: %s" % (np_, sig.name, time.time() - t0, lines[0] if lines else ""))
    p = bertology(argv[1:], np=1, timeout=300)
    check(os.path.exists(os.path.join(out, "run.h5")) and " batches resumed from the checkpoint" in p.stdout,
          "syntax after a stop did not finish, resuming:\n" + p.stdout)


def test_gpt2(work, check):
    """GPT-2 (causal, no special tokens) with 64 positions: the longest sentences are skipped"""
    family(check, work, "gpt2", "gpt2", models.gpt2(os.path.join(work, "gpt2"), layers=2, heads=4, hidden=32), 64)


def test_roberta(work, check):
    family(check, work, "roberta", "roberta", models.roberta(os.path.join(work, "roberta"), layers=2, heads=4, hidden=32),
           64)
