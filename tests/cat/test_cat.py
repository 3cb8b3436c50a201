"""`bertology cat` (CAT-probing, docs/cat.md) against the independent reference in ref_cat.py, on
random RoBERTa-architecture checkpoints (RobertaModel and RobertaForMaskedLM) with GPT-2's real
byte-level BPE, and real functions in four languages (data/code/functions.jsonl) plus edge cases.

Checked:
* every example's head and layer scores (/cat/example_*_score) equal the reference's within 1e-6,
  with the same examples and heads unscored (NaN), U-AST and plain AST;
* the per-language and pooled means and counts (/cat/*) follow from those scores;
* /code: each example's leaves (ranges, types) and each token's leaf equal the reference's;
* np = 1, 2, 3 give byte-identical /cat, /code, .npy files and printed tables;
* a run stopped after its first batch (exit 3) resumes at another rank count to the same bits;
* malformed JSON lines, unknown languages, oversized code and wrong models are refused in one
  line naming FILE:LINE on every rank, with no run.h5; --skip-bad-lines counts them.
"""
import json
import os

import h5py
import numpy as np
import pytest

import bpe_ref
import ref_cat
import torch_families
from bertology_analysis.run import load_run
from bttest import SOURCE, bertology, models, ranks_agree, refused, run_differences, same_bits

pytestmark = pytest.mark.usefixtures("blas_one_thread")
FUNCTIONS = os.path.join(SOURCE, "data", "code", "functions.jsonl")
EDGE = [
    ("python", "x"),                                          # one leaf: not scored
    ("python", "# only a comment\n"),                         # no code leaf
    ("python", "def f(\u00e9t\u00e9, x):\n    return \u00e9t\u00e9 + x  # \u00e9\n"),  # non-ASCII identifiers
    ("go", "func f() {\n\treturn\n}\n"),
    ("javascript", "const s = '\u4e2d\u6587'; let t = s + s;\n"),
    ("java", "int f(int a) { if (a > 0) { return a; } return -a; }"),
]


def write_data(path, per_language=10, long_python=True):
    rows = []
    with open(FUNCTIONS, encoding="utf-8") as f:
        by_lang = {}
        for ln in f:
            r = json.loads(ln)
            by_lang.setdefault(r["language"], []).append(r)
    for lang in ("python", "java", "go", "javascript"):
        rows += [{"code": r["code"], "language": lang} for r in by_lang[lang][:per_language]]
    rows += [{"code": c, "language": g} for g, c in EDGE]
    if long_python:  # truncated: the graph is the whole function's, the tokens only the first 64
        rows.append({"code": "\n".join(r["code"] for r in by_lang["python"][10:14]), "language": "python"})
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    w = str(tmp_path_factory.mktemp("cat"))
    base = models.roberta(os.path.join(w, "base"), labels=0, base=True, layers=2, hidden=32, heads=4, max_pos=130,
                          seed=11)
    mlm = models.roberta(os.path.join(w, "mlm"), labels=0, mlm=True, layers=3, hidden=32, heads=2, max_pos=130,
                         seed=12)
    return w, base, mlm, write_data(os.path.join(w, "code.jsonl"))


def check_against_reference(check, w, model, data, out, ast):
    ref = ref_cat.run(model, data, 64, os.path.join(w, "ts"), uast=ast == "u-ast")
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        eh, el = f["/cat/example_head_score"][()], f["/cat/example_layer_score"][()]
        hs, ls = f["/cat/head_score"][()], f["/cat/layer_score"][()]
        hn, n_ex, few = f["/cat/head_count"][()], f["/cat/examples"][()], f["/cat/too_few_leaves"][()]
        groups = list(f["/cat"].attrs["groups"])
    check(eh.shape[0] == len(ref), "%d examples, the reference has %d" % (eh.shape[0], len(ref)))
    worst, scored = 0.0, 0
    for i, (lang, rh, rl) in enumerate(ref):
        if rh is None:
            check(np.isnan(eh[i]).all() and np.isnan(el[i]).all(), "example %d: scored, the reference has < 2 leaves" % i)
            continue
        same_nan = (np.isnan(eh[i]) == np.isnan(rh)).all() and (np.isnan(el[i]) == np.isnan(rl)).all()
        check(same_nan, "example %d: other heads unscored than the reference's" % i)
        d = max(np.nanmax(np.abs(eh[i] - rh), initial=0), np.nanmax(np.abs(el[i] - rl), initial=0))
        check(d <= 1e-6, "example %d (%s): scores differ from the reference by %.3g" % (i, lang, d))
        worst, scored = max(worst, d), scored + 1
    # the summaries from the per-example scores
    for g, name in enumerate(groups):
        rows = [i for i, (lang, _, _) in enumerate(ref) if name in ("all", lang)]
        check(n_ex[g] == len(rows), "%s: %d examples, want %d" % (name, n_ex[g], len(rows)))
        check(few[g] == sum(ref[i][1] is None for i in rows), "%s: too-few count" % name)
        if rows:
            cnt = (~np.isnan(eh[rows])).sum(axis=0)
            check((hn[g] == cnt).all(), "%s: head counts" % name)
            with np.errstate(invalid="ignore"):
                check(np.allclose(hs[g], np.nansum(eh[rows], axis=0) / cnt, atol=1e-12, equal_nan=True),
                      "%s: head means" % name)
                check(np.allclose(ls[g], np.nansum(el[rows], axis=0) / (~np.isnan(el[rows])).sum(axis=0),
                                  atol=1e-12, equal_nan=True), "%s: layer means" % name)
    print("%s %s: %d examples scored, largest difference from the reference %.2g" % (os.path.basename(model), ast,
                                                                                     scored, worst))
    check(scored >= 40, "only %d examples scored" % scored)
    return ref


def test_scores_vs_reference(setup, check):
    w, base, mlm, data = setup
    for model, ast in ((base, "u-ast"), (mlm, "plain")):
        out = os.path.join(w, "ref_%s_%s" % (os.path.basename(model), ast))
        bertology(["cat", "--model", model, "--task", "code", "--data", data, "--max-seq-length", "64", "--ast", ast,
                   "--batch-tokens", "300", "--out", out], np=1, timeout=300)
        check_against_reference(check, w, model, data, out, ast)


def test_code_leaves(setup, check):
    """/code against the reference's trees and token owners."""
    w, base, _, data = setup
    out = os.path.join(w, "leaves")
    bertology(["cat", "--model", base, "--task", "code", "--data", data, "--max-seq-length", "64", "--out", out],
              timeout=300)
    ts = ref_cat.TreeSitter(os.path.join(w, "ts"))
    bpe = bpe_ref.RefBPE(os.path.join(base, "vocab.json"), os.path.join(base, "merges.txt"), style="roberta")
    with open(data, encoding="utf-8") as f:
        rows = [json.loads(ln) for ln in f]
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        c = {k: f["/code/" + k][()] for k in f["/code"]}
        types = list(f["/code"].attrs["leaf_types"])
        langs = list(f["/code"].attrs["languages"])
    tok_off = 0
    for i, r in enumerate(rows):
        code = r["code"].encode("utf-8")
        nodes, _, leaves = ts.tree(r["language"], code)
        cl = ref_cat.code_leaves(nodes, leaves)
        a, b = c["leaf_offset"][i], c["leaf_offset"][i + 1]
        got = [(types[c["leaf_type"][k]], c["leaf_start"][k], c["leaf_end"][k]) for k in range(a, b)]
        check(got == [nodes[v] for v in cl], "example %d: leaves differ from the reference's" % i)
        check(langs[c["language"][i]] == r["language"], "example %d: language" % i)
        ids = bpe.encode(r["code"], max_len=64)[0]
        for t, rng in enumerate(ref_cat.token_ranges(bpe, ids)):
            want = -1
            if rng is not None:
                s = rng[0]
                while s < rng[1] and code[s:s + 1] in b" \t\n\r\v\f":
                    s += 1
                want = next((k for k, v in enumerate(cl) if s < rng[1] and nodes[v][1] <= s < nodes[v][2]), -1)
            check(c["token_leaf"][tok_off + t] == want, "example %d token %d: leaf %d, want %d" % (
                i, t, c["token_leaf"][tok_off + t], want))
        tok_off += len(ids)


def test_ranks_bitwise(setup, check, work):
    w, base, _, data = setup

    def tables(stdout):
        return [ln for ln in stdout.splitlines() if not ln.startswith("cat: ")]

    ranks_agree(check, "cat", ["cat", "--model", base, "--task", "code", "--data", data, "--max-seq-length", "64",
                               "--batch-tokens", "200"], os.path.join(work, "ranks"), groups=("/cat", "/code"),
                tables=tables, npy=("cat_score.npy", "cat_layer_score.npy"))


def test_stop_and_resume(setup, check, work):
    w, base, _, data = setup
    argv = ["cat", "--model", base, "--task", "code", "--data", data, "--max-seq-length", "64", "--batch-tokens", "200"]
    full = os.path.join(work, "full")
    bertology(argv + ["--out", full], np=1)
    part = os.path.join(work, "part")
    p = bertology(argv + ["--out", part], np=2, expect=3, env={"BT_TEST_SIGNAL_AFTER": "1:USR1"})
    check(not os.path.exists(os.path.join(part, "run.h5")), "a stopped run left run.h5 looking complete")
    q = bertology(argv + ["--out", part], np=3)
    check("resumed from the checkpoint" in q.stdout, "the second run did not resume:\n" + q.stdout)
    diffs = run_differences(full, part, npy=("cat_score.npy", "cat_layer_score.npy"), groups=("/cat", "/code"))
    check(not diffs, "resumed run differs from the uninterrupted one:\n" + "\n".join(diffs))


def test_other_commands(setup, check, work):
    """--task code beyond cat: eval of an encoder (no metric, /code as cat writes it), eval and
    importance of a GPT-2 language model (its next-token loss against the PyTorch reference, each
    token's bytes tiling the code it covers), and analysis/'s Run.code reading /code."""
    w, base, _, data = setup
    args = ["--task", "code", "--data", data, "--max-seq-length", "64"]
    cat_out, eval_out = os.path.join(work, "cat_enc"), os.path.join(work, "eval_enc")
    bertology(["cat", "--model", base] + args + ["--out", cat_out], timeout=300)
    p = bertology(["eval", "--model", base] + args + ["--out", eval_out], np=2, timeout=300)
    check("loss =" not in p.stdout, "eval of an encoder printed a loss:\n" + p.stdout)
    with h5py.File(os.path.join(cat_out, "run.h5"), "r") as f, h5py.File(os.path.join(eval_out, "run.h5"), "r") as g:
        check(g.attrs["task"] == "code" and g.attrs["status"] == "complete", "eval --task code: task/status")
        for k in f["code"]:
            check(same_bits(f["code"][k][()], g["code"][k][()]), "eval vs cat: /code/%s differs" % k)
        check("cat" not in g, "eval wrote /cat")

    gpt2 = models.gpt2(os.path.join(w, "gpt2"), max_pos=64)
    out = os.path.join(work, "eval_lm")
    p = bertology(["eval", "--model", gpt2] + args + ["--out", out], np=3, timeout=300)
    check("loss = " in p.stdout and "perplexity = " in p.stdout, "eval of GPT-2 prints no loss:\n" + p.stdout)
    ref = torch_families.load(gpt2)
    bpe = bpe_ref.RefBPE(os.path.join(gpt2, "vocab.json"), os.path.join(gpt2, "merges.txt"), style="gpt2")
    rows = [json.loads(ln) for ln in open(data, encoding="utf-8")]
    # a function of one token has no next token: dropped and counted, not scored as loss 0
    n_short = sum(len(bpe.encode(r["code"], max_len=64)[0]) < 2 for r in rows)
    rows = [r for r in rows if len(bpe.encode(r["code"], max_len=64)[0]) >= 2]
    check(n_short >= 1, "the data has no one-token function for GPT-2 (the drop is not exercised)")
    check(("%d of one token" % n_short) in p.stderr, "eval did not report %d one-token functions:\n%s" % (
        n_short, p.stderr))
    with load_run(os.path.join(out, "run.h5"), vocab=gpt2) as run:
        check(run.has_code, "eval --task code: Run.has_code is False")
        check(run.n_examples == len(rows), "eval kept %d functions, want %d" % (run.n_examples, len(rows)))
        want = np.array([ref.example([int(t) for t in run.token_ids(i)])["loss"] for i in range(run.n_examples)])
        mean = run.metrics["loss"]
        check(abs(mean - want.mean()) <= 1e-5 * want.mean(), "eval loss %.8g, the PyTorch reference's mean %.8g" % (
            mean, want.mean()))
        for i in range(run.n_examples):
            c = run.code(i)
            code = rows[i]["code"].encode("utf-8")
            check(c["language"] == rows[i]["language"], "example %d: Run.code language" % i)
            # GPT-2 adds no special token: the tokens tile the (truncated) code from its first byte
            check(c["token_start"][0] == 0 and (c["token_start"][1:] == c["token_end"][:-1]).all(),
                  "example %d: token byte ranges do not tile the code" % i)
            if run.lengths[i] < 64:
                check(c["token_end"][-1] == len(code), "example %d: untruncated tokens end before the code" % i)
            for t in np.flatnonzero(c["token_leaf"] >= 0)[:20]:
                k = c["token_leaf"][t]
                s = c["token_start"][t]
                while s < c["token_end"][t] and code[s:s + 1] in b" \t\n\r\v\f":
                    s += 1
                check(c["leaf_start"][k] <= s < c["leaf_end"][k],
                      "example %d token %d: first byte %d outside its leaf %s" % (i, t, s, (c["leaf_start"][k],
                                                                                        c["leaf_end"][k])))
    imp = os.path.join(work, "imp_lm")
    bertology(["importance", "--model", gpt2] + args + ["--out", imp], np=2, timeout=300)
    with h5py.File(os.path.join(imp, "run.h5"), "r") as f, h5py.File(os.path.join(out, "run.h5"), "r") as g:
        loss = f["examples/loss"][()]
        worst = float(np.max(np.abs(loss - want) / want))
        check(worst <= 1e-4, "importance: per-example loss off the PyTorch reference by %.3g (relative)" % worst)
        print("GPT-2 --task code: eval's mean loss %.6f, PyTorch %.6f; importance's %d per-example losses within"
              " %.2g (relative)" % (mean, want.mean(), len(loss), worst))
        check(np.isfinite(f["importance/normalized"][()]).all(), "importance --task code: non-finite importance")
        for k in g["code"]:
            check(same_bits(f["code"][k][()], g["code"][k][()]), "importance vs eval: /code/%s differs" % k)
    refused(check, "importance of an encoder", ["importance", "--model", base] + args + ["--out", os.path.join(
        work, "bad")], os.path.join(work, "bad"), ["importance needs a loss"])


BAD = [
    ("not json", b"this is not json\n", ["not a JSON object"]),
    ("no code", b'{"language": "python"}\n', ['no "code" string']),
    ("no language", b'{"code": "x = 1"}\n', ['no "language" string']),
    ("unknown language", b'{"code": "puts 1", "language": "ruby"}\n', ['"ruby"', "python"]),
    ("invalid utf-8", b'{"code": "x = \xff", "language": "python"}\n', ["UTF-8"]),
    ("nul", b'{"code": "x\\u0000y", "language": "python"}\n', ["NUL"]),
    ("too long", ('{"code": "%s", "language": "python"}\n' % ("x" * 70000)).encode(), ["65535"]),
]


def test_bad_input(setup, check, work):
    w, base, _, data = setup
    good = open(data, "rb").read().splitlines(keepends=True)[:3]
    for name, line, words in BAD:
        path = os.path.join(work, name.replace(" ", "_") + ".jsonl")
        with open(path, "wb") as f:
            f.write(b"".join(good) + line)
        refused(check, name, ["cat", "--model", base, "--task", "code", "--data", path, "--max-seq-length", "64",
                              "--out", os.path.join(work, "bad")], os.path.join(work, "bad"), [path + ":4"] + words)
        out = os.path.join(work, "skip_" + name.replace(" ", "_"))
        p = bertology(["cat", "--model", base, "--task", "code", "--data", path, "--max-seq-length", "64",
                       "--skip-bad-lines", "--out", out])
        check("1 bad lines skipped" in p.stdout, "%s: --skip-bad-lines did not count it:\n%s" % (name, p.stdout))
    bert = models.bert(os.path.join(work, "bert"), layers=2, hidden=32, heads=4, ff=64, no_head=True)
    if bert:
        refused(check, "wordpiece model", ["cat", "--model", bert, "--task", "code", "--data", data, "--max-seq-length", "64", "--out",
                                           os.path.join(work, "bad")], os.path.join(work, "bad"), ["byte-level BPE"])
    refused(check, "cat on glue", ["cat", "--model", base, "--task", "sst-2", "--data", data, "--out",
                                   os.path.join(work, "bad")], os.path.join(work, "bad"), ["--task code"])
