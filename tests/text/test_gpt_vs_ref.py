"""`bertology tokenize` on an OpenAI GPT (openai-gpt) tokenizer against gpt_ref.RefGPT, the
Python model of transformers' OpenAIGPTTokenizer without ftfy/spacy: every text of every GLUE
file in tests/data/glue (single sentences and pairs, with and without truncation), the tricky
strings of wordpiece_compare.py and seeded random Unicode lines. The vocabulary is
tests/data/vocab/openai-gpt-glue (trained by gpt_ref.train on GLUE text, see
tests/data/SOURCES.md), once as written and once without its <unk> plus a merges.txt with the
quirks the class's reader has (CRLF, odd lines, a pair listed twice).
"""
import json
import os
import random

import pytest

from bttest import GLUE, OPENAI_GPT_VOCAB, bertology, tok
from gpt_ref import RefGPT
from tok_inputs import POOL, fuzz_line, glue_files


def make_model(tmp, name, vocab_dir, how, drop_unk=False, quirky=False):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(vocab_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    if drop_unk:
        vocab.pop("<unk>")
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(vocab_dir, "merges.txt"), encoding="utf-8") as f:
        merges = f.read().split("\n")
    if quirky:
        # CRLF line ends, a line of three fields, a blank line, an early pair repeated late
        # (its later rank wins), no final newline (the last merge is then dropped)
        merges = merges[:5] + ["a b c", ""] + merges[5:-1] + [merges[3]]
        text = "\r\n".join(merges)
    else:
        text = "\n".join(merges)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(text)
    if how == "config":
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"model_type": "openai-gpt"}, f)
    else:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "OpenAIGPTTokenizer", "model_max_length": 512}, f)
    return d


@pytest.fixture(scope="module")
def plain(work):
    d = make_model(work, "plain", OPENAI_GPT_VOCAB, "config")
    return d, RefGPT(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))


@pytest.fixture(scope="module")
def quirky(work):
    d = make_model(work, "quirky", OPENAI_GPT_VOCAB, "class", quirky=True)
    return d, RefGPT(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))


FILES = glue_files(GLUE)


@pytest.mark.parametrize("name", list(FILES))
def test_glue_file(name, plain):
    model, ref = plain
    lines, pair = FILES[name]
    bad = []
    for max_len in (512, 24):
        bad += tok.mismatches(model, ref, lines, pair, max_len, "%s max %d" % (name, max_len))
    assert not bad, "%d lines differ:\n%s" % (len(bad), "\n".join(bad[:10]))
    print("%-12s %6d %s lines agree" % (name, len(lines), "pair" if pair else "single"))


def test_tricky_fuzz_and_quirky_merges(plain, quirky):
    rng = random.Random(16)
    tricky = [t for t in POOL] + ["<unk>", "<UNK> x", "a<Unk>b", "<unk", "\u212a<un\u212a>", "İstanbul <unk>"]
    fuzz = [fuzz_line(rng, False) for _ in range(3000)]
    fuzz_pairs = [fuzz_line(rng, True) for _ in range(1000)]
    bad = []
    for (model, r), label in ((plain, "plain"), (quirky, "quirky")):
        bad += tok.mismatches(model, r, tricky, False, 512, label + " tricky")
        bad += tok.mismatches(model, r, fuzz, False, 512, label + " fuzz")
        bad += tok.mismatches(model, r, fuzz_pairs, True, 40, label + " fuzz pairs")
    sst = FILES["SST-2/dev"][0]
    bad += tok.mismatches(quirky[0], quirky[1], sst, False, 512, "quirky SST-2/dev")
    assert not bad, "%d lines differ:\n%s" % (len(bad), "\n".join(bad[:10]))
    print("tricky/fuzz/quirky merges: %d lines agree" % (len(tricky) + len(fuzz) + len(fuzz_pairs) + len(sst)))


def test_no_unk(work):
    """No <unk> in the vocabulary: a character outside it is an error naming it, GLUE text that
    stays inside it still tokenizes."""
    nounk = make_model(work, "nounk", OPENAI_GPT_VOCAB, "config", drop_unk=True)
    p = bertology(["tokenize", "--model", nounk], input="caf\u00e9 \u2603\n".encode(), expect=2)
    msg = p.stderr.decode().strip()
    assert "\u2603" in msg and "no unk token" in msg, "no <unk>: want exit 2 naming the character, got %r" % msg
    print("no <unk>: refused: %s" % msg)
