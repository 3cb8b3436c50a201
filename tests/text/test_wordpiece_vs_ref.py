"""`bertology tokenize` against the Python reference model (wordpiece_ref.py) of transformers'
BertTokenizer: real GLUE sentences and pairs, seeded random Unicode text, and every assigned
code point in a few contexts, over several tokenizer configurations and truncation lengths.
"""
import json
import os
import random
import unicodedata

import pytest

from bttest import BERT_CASED_VOCAB, BERT_VOCAB, GLUE, tok
from tok_inputs import fuzz_line
from wordpiece_ref import RefBert


def make_model(tmp, name, vocab, config):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(vocab, "rb") as f, open(os.path.join(d, "vocab.txt"), "wb") as g:
        g.write(f.read())
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f)
    return d


def glue_texts():
    g = GLUE

    def rows(path):
        with open(path, encoding="utf-8") as f:
            return [r.rstrip("\n").rstrip("\r").split("\t") for r in f]

    singles = [r[0] for r in rows(os.path.join(g, "SST-2", "dev.tsv"))[1:]]
    singles += [r[3] for r in rows(os.path.join(g, "CoLA", "dev.tsv"))]
    pairs = [f"{r[1]}\t{r[2]}" for r in rows(os.path.join(g, "RTE", "dev.tsv"))[1:]]
    pairs += [f"{r[1]}\t{r[2]}" for r in rows(os.path.join(g, "WNLI", "dev.tsv"))[1:]]
    return singles, pairs


def assigned_code_points():
    """Every code point Python's Unicode database assigns (private use sampled), except
    surrogates and the characters whose category differs between it and utf8proc's (newer)
    Unicode version: there the two Unicode versions disagree, not the two implementations."""
    try:
        import ctypes
        lib = ctypes.CDLL("libutf8proc.so.2")
        lib.utf8proc_category_string.restype = ctypes.c_char_p
        theirs = lambda cp: lib.utf8proc_category_string(cp).decode()  # noqa: E731
    except OSError:
        theirs = None
    cps, skipped = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat == "Cn" or (cat == "Co" and cp % 97):  # private use: all alike, keep a sample
            continue
        if theirs is not None and theirs(cp) != cat:
            skipped.append(cp)
            continue
        cps.append(cp)
    return cps, skipped


CONFIGS = [  # name, vocabulary, tokenizer_config.json (None: none), RefBert's arguments
    ("uncased", BERT_VOCAB, None, {}),
    ("cased", BERT_CASED_VOCAB, {"do_lower_case": False}, {"do_lower_case": False}),
    ("cased_strip", BERT_CASED_VOCAB, {"do_lower_case": False, "strip_accents": True},
     {"do_lower_case": False, "strip_accents": True}),
    ("uncased_keep_accents", BERT_VOCAB, {"do_lower_case": True, "strip_accents": False},
     {"do_lower_case": True, "strip_accents": False}),
    ("uncased_no_cjk_never", BERT_VOCAB,
     {"tokenize_chinese_chars": False, "never_split": ["don't", "[foo]", "Hello", "xyz"]},
     {"tokenize_chinese_chars": False, "never_split": ["don't", "[foo]", "Hello", "xyz"]}),
    ("uncased_no_basic", BERT_VOCAB, {"do_basic_tokenize": False}, {"do_basic_tokenize": False}),
    ("cased_other_specials", BERT_CASED_VOCAB,
     {"do_lower_case": False, "unk_token": "[UNK]", "mask_token": {"content": "Σ"},
      "pad_token": None},
     {"do_lower_case": False, "mask_token": "Σ", "pad_token": None}),
]


@pytest.fixture(scope="module")
def texts():
    """GLUE singles and pairs, 1500 random lines and 1500 random pairs, and every assigned code
    point in four contexts (24 per line)."""
    singles, pairs = glue_texts()
    rng = random.Random(1234)
    fuzz1 = [fuzz_line(rng, False) for _ in range(1500)]
    fuzz2 = [fuzz_line(rng, True) for _ in range(1500)]
    cps, skipped = assigned_code_points()
    print(f"code points: {len(cps)} compared, {len(skipped)} skipped (category differs between "
          f"Python's Unicode {unicodedata.unidata_version} and utf8proc's)")
    chunk = 24
    per_cp = []
    for i in range(0, len(cps), chunk):
        cs = [chr(c) for c in cps[i:i + chunk] if chr(c) not in "\n\r"]
        per_cp.append(" ".join(f"a{c}b {c} {c}{c}é Σ{c}" for c in cs))
    return dict(singles=singles, pairs=pairs, fuzz1=fuzz1, fuzz2=fuzz2, per_cp=per_cp)


@pytest.mark.parametrize("name,vocab,config,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_same_ids_as_reference(name, vocab, config, kwargs, texts, work):
    t = texts
    model = make_model(work, name, vocab, config)
    ref = RefBert(os.path.join(model, "vocab.txt"), **kwargs)
    jobs = [(t["fuzz1"], False, 512, "fuzz"), (t["fuzz2"], True, 512, "fuzz-pair")]
    for m in (3, 4, 7, 20):
        jobs.append((t["fuzz2"][:300], True, m, f"fuzz-pair-max{m}"))
    if name in ("uncased", "cased"):
        jobs += [(t["singles"], False, 128, "glue"), (t["pairs"], True, 128, "glue-pair"),
                 (t["pairs"], True, 512, "glue-pair"), (t["singles"][:200], False, 8, "glue-max8"),
                 (t["per_cp"], False, 4096, "code-points")]
    else:
        jobs.append((t["per_cp"][::7], False, 4096, "code-points"))
    failures, n_cmp = [], 0
    for lines, pair, max_len, label in jobs:
        bad = tok.mismatches(model, ref, lines, pair, max_len, f"{name}/{label}")
        n_cmp += len(lines)
        failures += bad
        print(f"{name:22s} {label:18s} max_len={max_len:<5d} lines={len(lines):<6d} mismatches={len(bad)}")
    assert not failures, "%d of %d lines differ from the reference:\n%s" % (len(failures), n_cmp,
                                                                          "\n".join(failures[:20]))
