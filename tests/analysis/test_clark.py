"""Clark et al. statistics and the run.h5 reader on hand-built files with known attention.

Expected values come from hand computation (one head per pure pattern: all on [CLS], all on
[SEP], on itself, ...), from plain loops written from the definitions in the docstring of
bertology_analysis/clark.py, and from a transcription of Clark et al.'s General_Analysis
notebook; never from the package's own output.

Run by pytest (tests/analysis.cmake) in the harness's scratch directory.
"""
import os
import sys
import unittest

import numpy as np

import fake_run
from bertology_analysis import RunError, clark_stats, load_run, make_report
from bertology_analysis import masking_curve, ablation_matrices, load_vocab
from bttest import SOURCE, run, scratch

WORK = os.path.join(scratch(), "test_clark")
os.makedirs(WORK, exist_ok=True)
MODEL = fake_run.write_vocab(os.path.join(WORK, "model"))

SENTENCES = ["[CLS] the film is good . [SEP]",
             "[CLS] not a good plot , bad ##ly ! [SEP] the film is bad . [SEP]",  # a pair
             "[CLS] the plot [SEP]"]
WORDS = [s.split() for s in SENTENCES]
EXAMPLES = [fake_run.ids(s) for s in SENTENCES]
LENS = [len(w) for w in WORDS]
N, NEX = sum(LENS), len(LENS)  # 27 query tokens, 3 examples
PUNCT_ALL = {".", ",", "!", "'"}  # the punctuation of fake_run.VOCAB, listed by hand
PUNCT_CLARK = {".", ","}
L, H = 2, 4
PLACES = 6  # closed forms against float32 storage of 1/T, 1/2 ...
HEADS = ["cls", "sep", "self", "next", "prev", "uniform", "punct", "masked"]  # layer-major


def pattern(kind, words):
    """One head's map [T, T] (rows = queries) following a simple rule."""
    T = len(words)
    a = np.zeros((T, T))
    sep = [s for s, w in enumerate(words) if w == "[SEP]"]
    pun = [s for s, w in enumerate(words) if w in PUNCT_ALL]
    for t in range(T):
        if kind == "cls":
            a[t, 0] = 1
        elif kind == "sep":
            a[t, sep] = 1 / len(sep)
        elif kind == "self":
            a[t, t] = 1
        elif kind == "next":
            a[t, t + 1 if t + 1 < T else t] = 1  # the last token attends to itself
        elif kind == "prev":
            a[t, t - 1 if t > 0 else 0] = 1  # the first token attends to itself
        elif kind == "uniform":
            a[t] = 1 / T
        elif kind == "punct":
            if pun:
                a[t, pun] = 1 / len(pun)
            else:
                a[t, 0] = 1  # no punctuation in the example: all on [CLS]
    return a


def pure_maps():
    return [np.stack([pattern(k, w) for k in HEADS]).reshape(L, H, len(w), len(w))
            for w in WORDS]


def random_maps(seed, layers=L):
    rng = np.random.default_rng(seed)
    return [rng.dirichlet(np.ones(T) * 0.3, size=(layers, H, T)) for T in LENS]


def reference(maps, weighting, punct_set, words=WORDS):
    """Plain loops over examples, heads, queries and keys: {stat: [Lsel, H]}."""
    names = ("cls", "sep", "punct", "self", "next", "prev", "distance")
    Ls = maps[0].shape[0]
    tot = {k: np.zeros((Ls, H)) for k in names}
    for a, w in zip(maps, words):
        T = len(w)
        for l in range(Ls):
            for h in range(H):
                q = dict.fromkeys(names, 0.0)
                for t in range(T):
                    for s in range(T):
                        p = float(a[l, h, t, s])
                        q["cls"] += p if w[s] == "[CLS]" else 0.0
                        q["sep"] += p if w[s] == "[SEP]" else 0.0
                        q["punct"] += p if w[s] in punct_set else 0.0
                        q["self"] += p if s == t else 0.0
                        q["next"] += p if s == t + 1 else 0.0
                        q["prev"] += p if s == t - 1 else 0.0
                        q["distance"] += p * abs(t - s)
                for k in names:
                    tot[k][l, h] += q[k] / (T if weighting == "examples" else 1.0)
    d = len(maps) if weighting == "examples" else sum(len(w) for w in words)
    return {k: v / d for k, v in tot.items()}


def notebook(maps, words=WORDS):
    """Clark et al.'s General_Analysis.ipynb cell "Computing Average Attention to Particular
    Tokens/Positions", transcribed (selectors, denominators); returns their avg_attns."""
    n_docs = len(maps)
    avg = {k: np.zeros(maps[0].shape[:2]) for k in ("self", "right", "left", "sep", "cls",
                                                     "punct")}
    for tokens, attns in zip(words, maps):
        n_tokens = attns.shape[-1]
        seps, clss, puncts = (np.zeros(n_tokens) for _ in range(3))
        for position, token in enumerate(tokens):
            seps[position] = token == "[SEP]"
            clss[position] = token == "[CLS]"
            puncts[position] = token == "." or token == ","
        selectors = {"self": np.eye(n_tokens, n_tokens), "right": np.eye(n_tokens, n_tokens, 1),
                     "left": np.eye(n_tokens, n_tokens, -1),
                     "sep": np.tile(seps[np.newaxis], [n_tokens, 1]),
                     "cls": np.tile(clss[np.newaxis], [n_tokens, 1]),
                     "punct": np.tile(puncts[np.newaxis], [n_tokens, 1])}
        for key, selector in selectors.items():
            avg[key] += ((attns * selector[np.newaxis, np.newaxis]).sum(-1).sum(-1)
                         / (n_docs * n_tokens))
    return avg


class PurePatterns(unittest.TestCase):
    """One head per pattern; layer 1 head 4 all zeros (a masked head)."""

    @classmethod
    def setUpClass(cls):
        maps = pure_maps()
        for m in maps:
            m[1, 3] = 0.0
        cls.maps = [m.astype(np.float32).astype(np.float64) for m in maps]  # as stored
        cls.path = fake_run.write_run(os.path.join(WORK, "pure.h5"), EXAMPLES, maps, L, H,
                                      model_dir=MODEL)
        with load_run(cls.path) as r:
            cls.s = clark_stats(r)

    def head(self, kind):
        k = HEADS.index(kind)
        return {name: self.s[name][k // H, k % H] for name in
                ("cls", "sep", "punct", "self", "next", "prev", "distance")}

    def test_all_on_cls(self):
        v = self.head("cls")
        self.assertAlmostEqual(v["cls"], 1.0, places=PLACES)
        self.assertEqual((v["sep"], v["punct"], v["next"]), (0.0, 0.0, 0.0))
        # only query 0 ([CLS]) attends to itself, only query 1 to its previous token
        self.assertAlmostEqual(v["self"], NEX / N, places=PLACES)
        self.assertAlmostEqual(v["prev"], NEX / N, places=PLACES)
        # query t is t tokens from [CLS]: sum of 0..T-1 over the examples
        self.assertAlmostEqual(v["distance"], sum(T * (T - 1) / 2 for T in LENS) / N, places=PLACES)

    def test_all_on_sep(self):
        v = self.head("sep")
        self.assertAlmostEqual(v["sep"], 1.0, places=PLACES)
        self.assertEqual((v["cls"], v["punct"]), (0.0, 0.0))
        # [SEP] queries put 1/#SEP on themselves: 1 per example in total
        self.assertAlmostEqual(v["self"], NEX / N, places=PLACES)

    def test_self(self):
        v = self.head("self")
        self.assertAlmostEqual(v["self"], 1.0, places=PLACES)
        self.assertEqual((v["next"], v["prev"], v["distance"]), (0.0, 0.0, 0.0))
        self.assertAlmostEqual(v["cls"], NEX / N, places=PLACES)          # one [CLS] per example
        self.assertAlmostEqual(v["sep"], 4 / N, places=PLACES)            # 1 + 2 + 1 [SEP]s
        self.assertAlmostEqual(v["punct"], 4 / N, places=PLACES)          # . / , ! . / none

    def test_next_and_prev(self):
        v = self.head("next")
        self.assertAlmostEqual(v["next"], (N - NEX) / N, places=PLACES)   # all but the last tokens
        self.assertAlmostEqual(v["self"], NEX / N, places=PLACES)
        self.assertEqual(v["prev"], 0.0)
        self.assertAlmostEqual(v["distance"], (N - NEX) / N, places=PLACES)
        v = self.head("prev")
        self.assertAlmostEqual(v["prev"], (N - NEX) / N, places=PLACES)
        self.assertEqual(v["next"], 0.0)

    def test_uniform(self):
        v = self.head("uniform")
        self.assertAlmostEqual(v["cls"], NEX / N, places=PLACES)          # 1/T per query
        self.assertAlmostEqual(v["sep"], 4 / N, places=PLACES)
        # sum_t sum_s |t-s| = T(T^2-1)/3, times 1/T per pair
        self.assertAlmostEqual(v["distance"], sum((T * T - 1) / 3 for T in LENS) / N, places=PLACES)

    def test_punct(self):
        v = self.head("punct")
        # examples 0 and 1 (23 queries) all on punctuation; example 2 has none, all on [CLS]
        self.assertAlmostEqual(v["punct"], (LENS[0] + LENS[1]) / N, places=PLACES)
        self.assertAlmostEqual(v["cls"], LENS[2] / N, places=PLACES)
        self.assertEqual(v["sep"], 0.0)

    def test_masked_head_is_nan(self):
        for name, x in self.head("masked").items():
            self.assertTrue(np.isnan(x), name)

    def test_every_stat_matches_loops(self):
        for weighting in ("tokens", "examples"):
            for punct, pset in (("all", PUNCT_ALL), ("clark", PUNCT_CLARK)):
                with load_run(self.path) as r:
                    got = clark_stats(r, weighting=weighting, punct=punct)
                want = reference(self.maps, weighting, pset)
                for k, w in want.items():
                    w[1, 3] = np.nan
                    np.testing.assert_allclose(got[k], w, rtol=0, atol=1e-12,
                                               err_msg="%s %s %s" % (k, weighting, punct))


class RandomMaps(unittest.TestCase):
    def test_float16_file_matches_loops_and_notebook(self):
        maps = random_maps(1)
        path = fake_run.write_run(os.path.join(WORK, "random16.h5"), EXAMPLES, maps, L, H,
                                  model_dir=MODEL, dtype=np.float16)
        stored = [m.astype(np.float16).astype(np.float64) for m in maps]  # what the file holds
        with load_run(path) as r:
            for i, m in enumerate(stored):
                a = r.attention(i)
                self.assertEqual(a.shape, (L, H, LENS[i], LENS[i]))
                np.testing.assert_array_equal(a, m)
                self.assertEqual(r.tokens(i), WORDS[i])
            tok = clark_stats(r)
            ex = clark_stats(r, weighting="examples", punct="clark")
        want = reference(stored, "tokens", PUNCT_ALL)
        for k in want:
            np.testing.assert_allclose(tok[k], want[k], rtol=0, atol=1e-12, err_msg=k)
        nb = notebook(stored)
        for mine, theirs in (("cls", "cls"), ("sep", "sep"), ("punct", "punct"),
                             ("self", "self"), ("next", "right"), ("prev", "left")):
            np.testing.assert_allclose(ex[mine], nb[theirs], rtol=0, atol=1e-12, err_msg=mine)

    def test_layer_subset(self):
        maps = random_maps(2, layers=1)
        path = fake_run.write_run(os.path.join(WORK, "layer1.h5"), EXAMPLES, maps, L, H,
                                  layers=[1], model_dir=MODEL)
        with load_run(path) as r:
            self.assertEqual(r.attention(1).shape, (1, H, LENS[1], LENS[1]))
            s = clark_stats(r, rows=[0, 2])
        stored = [m.astype(np.float32).astype(np.float64) for m in maps]
        want = reference([stored[0], stored[2]], "tokens", PUNCT_ALL, [WORDS[0], WORDS[2]])
        for k in want:
            self.assertTrue(np.isnan(s[k][0]).all(), k)
            np.testing.assert_allclose(s[k][1], want[k][0], rtol=0, atol=1e-12, err_msg=k)
        self.assertEqual((s["n_examples"], s["n_tokens"]), (2, LENS[0] + LENS[2]))

    def test_iter_attentions_blocks(self):
        maps = random_maps(3)
        path = fake_run.write_run(os.path.join(WORK, "iter.h5"), EXAMPLES, maps, L, H)
        with load_run(path) as r:
            for max_values in (1, 100, 1 << 20):  # one row per read ... all rows in one read
                got = list(r.iter_attentions([0, 1, 2, 0], max_values=max_values))
                self.assertEqual([i for i, _ in got], [0, 1, 2, 0])
                for i, a in got:
                    np.testing.assert_array_equal(a, maps[i].astype(np.float32))


class Reader(unittest.TestCase):
    def test_bad_files(self):
        path = os.path.join(WORK, "running.h5")
        fake_run.write_run(path, EXAMPLES, random_maps(0), L, H, status="running")
        with self.assertRaisesRegex(RunError, "running.h5: status is 'running'"):
            load_run(path)
        with load_run(path, allow_incomplete=True) as r:
            self.assertEqual(r.n_examples, NEX)
        text = os.path.join(WORK, "not_h5.txt")
        with open(text, "w") as f:
            f.write("hello\n")
        with self.assertRaisesRegex(RunError, "not_h5.txt: cannot open as HDF5"):
            load_run(text)

    def test_bad_rows_and_offsets(self):
        path = fake_run.write_run(os.path.join(WORK, "badoff.h5"), EXAMPLES, random_maps(0),
                                  L, H)
        import h5py
        with h5py.File(path, "a") as f:
            f["attentions/offset"][2] = f["attentions/data"].shape[0]  # past the end
        with load_run(path) as r:
            with self.assertRaisesRegex(IndexError, "row 3 outside 0..2"):
                r.attention(3)
            with self.assertRaisesRegex(RunError, r"/attentions/offset\[2\]"):
                r.attention(2)
            with self.assertRaises(TypeError):
                r.attention(1.0)

    def test_missing_vocab(self):
        path = fake_run.write_run(os.path.join(WORK, "novocab.h5"), EXAMPLES, pure_maps(), L, H,
                                  model_dir=os.path.join(WORK, "no_such_model"))
        with load_run(path) as r:
            self.assertIsNone(r.vocab)
            self.assertIn("no_such_model", r.vocab_error)
            self.assertEqual(r.tokens(2), ["<%d>" % t for t in EXAMPLES[2]])
            s = clark_stats(r)
        self.assertTrue(np.isnan(s["cls"]).all() and np.isnan(s["punct"]).all())
        self.assertAlmostEqual(s["self"][0, 2], 1.0, places=PLACES)
        with load_run(path, vocab=MODEL) as r:  # --vocab overrides model_dir
            self.assertEqual(r.tokens(2), WORDS[2])


class Vocabularies(unittest.TestCase):
    def test_formats_and_punctuation(self):
        import json
        tj = os.path.join(WORK, "tokenizer.json")
        with open(tj, "w") as f:
            json.dump({"model": {"type": "WordPiece", "vocab": {"a": 0, "##b": 1, "...": 2}},
                       "added_tokens": [{"id": 3, "content": "[CLS]"}]}, f)
        v = load_vocab(tj)
        self.assertEqual(v.decode([3, 0, 1, 2, 9]), ["[CLS]", "a", "##b", "...", "<9>"])
        self.assertTrue(v.is_punct("..."))
        self.assertFalse(v.is_punct("...", "clark"))
        vj = os.path.join(WORK, "vocab.json")
        with open(vj, "w") as f:
            json.dump({"\u0120,": 0, "\u0120the": 1, "<|endoftext|>": 2}, f)
        v = load_vocab(vj)
        self.assertEqual(v.kind, "bpe")
        self.assertTrue(v.is_punct("\u0120,", "clark"))
        self.assertEqual(v.display("\u0120the"), "the")
        self.assertFalse(v.has_any(("[CLS]", "<s>")))
        for tok, want in (("##!", True), ("\u00bf", True), ("[SEP]", False), ("a.", False),
                          ("$", True), ("\u2014", True)):
            self.assertEqual(load_vocab(MODEL).is_punct(tok), want, tok)


class Report(unittest.TestCase):
    def test_report_sections_from_several_runs(self):
        # A separate "mask" and "ablate" run: their groups appear in the report.
        maps = random_maps(4)
        main = fake_run.write_run(os.path.join(WORK, "imp.h5"), EXAMPLES, maps, L, H,
                                  model_dir=MODEL)
        steps = np.array([[1] * 8, [1, 1, 1, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 1, 1, 1]],
                         np.float32).reshape(3, L, H)
        # names as src/cli/cmd_mask.c and cmd_ablate.c write them; step 1 is the one kept
        mask = fake_run.write_run(os.path.join(WORK, "mask.h5"), EXAMPLES, maps, L, H,
                                  groups={"/masking/mask": steps,
                                          "/masking/score": np.array([0.9, 0.88, 0.7]),
                                          "/masking/heads_remaining": np.array([8, 7, 6]),
                                          "/masking/final_step": np.int64(1),
                                          "/masking/threshold_score": 0.81})
        change = np.linspace(-.1, .1, 8).reshape(L, H)
        abl = fake_run.write_run(os.path.join(WORK, "abl.h5"), EXAMPLES, maps, L, H,
                                 groups={"/ablation/score_change": change,
                                         "/ablation/score_without_head": change + 0.5,
                                         "/ablation/score_only_head": change + 0.3,
                                         "/ablation/base_score": 0.5})
        with load_run(mask) as r:
            c = masking_curve(r)
        np.testing.assert_allclose(c["percent"], [0.0, 12.5, 25.0])  # 0, 1, 2 of 8 heads off
        self.assertEqual(c["chosen"], (12.5, 0.88))
        self.assertEqual(c["threshold_score"], 0.81)
        # head (0, 3) goes at step 1, (0, 1) at step 2, the others never
        want = np.full((L, H), np.nan)
        want[0, 3], want[0, 1] = 1, 2
        np.testing.assert_array_equal(c["masked_at"], want)
        with load_run(abl) as r:
            m = ablation_matrices(r)
        # score_without_head is score_change + base: not drawn twice
        self.assertEqual(sorted(k for k in m if "@" not in k), ["score_change", "score_only_head"])
        self.assertEqual(m["@base_score"], 0.5)
        out = os.path.join(WORK, "report")
        res = make_report([main, mask, abl], out, log=lambda *_: None)
        self.assertIn("masking_curve.png", res["figures"])
        for name in ("masking_steps.png", "ablation_score_change.png",
                     "ablation_score_only_head.png"):
            self.assertIn(name, res["figures"])
        self.assertEqual(res["skipped"], [])
        for name in res["figures"]:
            with open(os.path.join(out, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", name)

    def test_cli_errors(self):
        cli = os.path.join(SOURCE, "analysis", "report.py")
        text = os.path.join(WORK, "not_h5.txt")
        with open(text, "w") as f:
            f.write("x\n")
        good = fake_run.write_run(os.path.join(WORK, "cli.h5"), EXAMPLES, random_maps(5), L, H,
                                  model_dir=MODEL)
        for args, msg in (([text], "not_h5.txt: cannot open as HDF5"),
                          ([good, "--heads", "3:1"], "--heads 3:1: outside layers 1..2"),
                          ([good, "--examples", "7"], "--examples 7"),
                          ([os.path.join(WORK, "absent.h5")], "absent.h5")):
            p = run([sys.executable, cli, *args, "--out", os.path.join(WORK, "r2")], expect=2)
            self.assertIn(msg, p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
