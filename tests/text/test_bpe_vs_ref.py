"""`bertology tokenize` against the independent Python model of GPT-2's tokenizer (bpe_ref.py):
first the model itself is checked on llama.cpp's GPT-2 vectors, then the C tokenizer must
match it on real GLUE text (single sentences and truncated pairs), seeded random Unicode text
built to hit every branch of the pre-tokenisation pattern, and hand-picked edge cases; for GPT-2
conventions, GPT-2 with add_prefix_space, and RoBERTa conventions (special tokens, <mask>
lstrip, pair layout) on a RoBERTa-style vocabulary made from GPT-2's.
"""
import csv
import json
import os
import random
import shutil
import unicodedata

import pytest

from bpe_ref import RefBPE, white_space
from bttest import GLUE, GPT2_VOCAB, TESTDATA, TINY_GPT2, tok
from tok_inputs import EDGE

BIG = 4096  # a --max-seq-length no test text reaches


def make_dirs(tmp):
    src = GPT2_VOCAB
    dirs = {}
    # GPT-2 as a model directory: the tiny checkpoint's config.json names model_type gpt2
    d = os.path.join(tmp, "gpt2")
    os.makedirs(d, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(src, f), d)
    shutil.copy(os.path.join(TINY_GPT2, "config.json"), d)
    dirs["gpt2"] = d
    # the same with add_prefix_space
    d = os.path.join(tmp, "gpt2_prefix")
    shutil.copytree(dirs["gpt2"], d, dirs_exist_ok=True)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"add_prefix_space": True, "model_max_length": 1024}, f)
    dirs["gpt2_prefix"] = d
    # RoBERTa-style: <s> <pad> </s> <unk> first, GPT-2's tokens after them, <mask> last
    d = os.path.join(tmp, "roberta")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(src, "vocab.json"), encoding="utf-8") as f:
        gpt2 = json.load(f)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t, i in sorted(gpt2.items(), key=lambda x: x[1]):
        if t != "<|endoftext|>":
            vocab[t] = len(vocab)
    vocab["<mask>"] = len(vocab)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    shutil.copy(os.path.join(src, "merges.txt"), d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"model_type": "roberta"}, f)
    dirs["roberta"] = d
    return dirs


def test_reference_on_llama_vectors(models):
    """The Python reference itself on llama.cpp's 46 GPT-2 vectors."""
    ref = models["gpt2"][1]
    g = os.path.join(TESTDATA, "vocab", "gguf", "ggml-vocab-gpt-2.gguf")
    with open(g + ".inp", encoding="utf-8") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(g + ".out", encoding="utf-8") as f:
        outputs = f.read().split("\n")[:-1]
    assert len(inputs) == len(outputs) == 46, (len(inputs), len(outputs))
    for text, want in zip(inputs, outputs):
        got = ref.tokenize(text)
        assert got == [int(x) for x in want.split()], \
            f"the Python reference itself is wrong on {text!r}: {got} vs {want}"


def glue_texts():
    g = GLUE
    singles, pairs = [], []

    def rows(path, skip_header=True):
        with open(path, encoding="utf-8", newline="") as f:
            r = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        return r[1:] if skip_header else r

    singles += [r[0] for r in rows(os.path.join(g, "SST-2", "dev.tsv"))]
    singles += [r[3] for r in rows(os.path.join(g, "CoLA", "dev.tsv"), False)]
    pairs += [(r[1], r[2]) for r in rows(os.path.join(g, "RTE", "dev.tsv"))]
    pairs += [(r[1], r[2]) for r in rows(os.path.join(g, "WNLI", "dev.tsv"))]
    pairs += [(r[1], r[2]) for r in rows(os.path.join(g, "QNLI", "dev.tsv"))[:1500]]
    singles += [t for p in pairs[:600] for t in p]
    return singles, pairs


def assigned(cp):
    return not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) != "Cn"


def random_texts(rng, n, allow_tab):
    spaces = [chr(c) for c in range(0x110000) if white_space(chr(c)) and chr(c) != "\n"]
    spaces += ["\x1c", "\x1d", "\x1e", "\x1f"]  # str.isspace() but not \s
    if not allow_tab:
        spaces.remove("\t")
    pools = [
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        list("0123456789"),
        list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~"),
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'", "''", "'x", "'r", "'l"],
        [" "] * 6 + spaces,
        list("éèñüßøåçÉÑÜ") + ["e\u0301", "a\u0308", "\u0301"],
        list("αβγδΩπσςабвгдЖЯ"),
        list("مرحبا") + ["\u0661", "\u0662"],  # Arabic letters and Arabic-Indic digits
        list("नमस्ते") + ["\u0967", "\u093f"],  # Devanagari letters, marks, a digit
        list("我想在工作天中文字") + ["\u3000", "、", "。"],
        list("こんにちはカタカナ한국어"),
        ["😀", "😁", "🚀", "👍🏽", "👨\u200d👩\u200d👧", "❤\ufe0f", "✅", "🇫🇷"],
        ["²", "½", "Ⅻ", "①", "٣", "৩", "₂"],
        ["<|endoftext|>", "<|endoftext|", "|>", "<"],
    ]
    texts = []
    for _ in range(n):
        k = rng.randint(1, 40)
        parts = []
        for _ in range(k):
            if rng.random() < 0.08:
                cp = rng.randrange(0x20, 0x30000)
                while not assigned(cp) or chr(cp) in "\n\r" or (chr(cp) == "\t" and not allow_tab):
                    cp = rng.randrange(0x20, 0x30000)
                parts.append(chr(cp))
            else:
                parts.append(rng.choice(rng.choice(pools)))
        t = "".join(parts)
        if t.endswith("\r"):
            t += "x"
        texts.append(t)
    return texts


@pytest.fixture(scope="module")
def models(work):
    """{name: (model directory, reference)}: GPT-2, GPT-2 with add_prefix_space, RoBERTa."""
    dirs = make_dirs(work)
    vocab, merges = os.path.join(dirs["gpt2"], "vocab.json"), os.path.join(dirs["gpt2"], "merges.txt")
    return {"gpt2": (dirs["gpt2"], RefBPE(vocab, merges)),
            "gpt2_prefix": (dirs["gpt2_prefix"], RefBPE(vocab, merges, add_prefix_space=True)),
            "roberta": (dirs["roberta"], RefBPE(os.path.join(dirs["roberta"], "vocab.json"),
                                                os.path.join(dirs["roberta"], "merges.txt"), style="roberta"))}


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(20240607)
    singles, pairs = glue_texts()
    rand1 = random_texts(rng, 3000, allow_tab=True)
    rand2 = random_texts(rng, 1500, allow_tab=False)
    return dict(singles=singles, glue_pairs=[f"{a}\t{b}" for a, b in pairs], rand1=rand1,
                rand_pairs=[f"{a}\t{b}" for a, b in zip(rand2[::2], rand2[1::2])],
                edge_pairs=[f"{a}\t{b}" for a in EDGE[:25] for b in EDGE[25:35] if "\t" not in a + b])


JOBS = {  # name: (model, lines, pair, --max-seq-length values)
    "gpt2": ("gpt2", lambda t: t["singles"] + EDGE + t["rand1"], False, [BIG, 7]),
    "gpt2_pairs": ("gpt2", lambda t: t["glue_pairs"] + t["rand_pairs"] + t["edge_pairs"], True, [BIG, 16, 5]),
    "gpt2_prefix": ("gpt2_prefix", lambda t: EDGE + t["rand1"][:800] + t["singles"][:400], False, [BIG]),
    "roberta": ("roberta", lambda t: t["singles"][:800] + EDGE + t["rand1"][:1500], False, [BIG, 9, 3]),
    "roberta_pairs": ("roberta", lambda t: t["glue_pairs"][:800] + t["rand_pairs"] + t["edge_pairs"], True,
                      [BIG, 24, 5]),
}


@pytest.mark.parametrize("job", list(JOBS))
def test_same_ids_as_reference(job, models, texts):
    name, lines_of, pair, lens = JOBS[job]
    model, ref = models[name]
    lines = lines_of(texts)
    bad, n = [], 0
    for max_len in lens:
        bad += tok.mismatches(model, ref, lines, pair, max_len, name)
        n += len(lines)
    assert not bad, "%d of %d encodings differ from the Python reference:\n%s" % (len(bad), n, "\n".join(bad[:20]))
    print(f"{n} encodings equal the Python reference ({job})")
