#!/usr/bin/python3
"""`bertology tokenize` against the Python reference model (wordpiece_ref.py) of transformers'
BertTokenizer: real GLUE sentences and pairs, seeded random Unicode text, and every assigned
code point in a few contexts, over several tokenizer configurations and truncation lengths.

usage: wordpiece_compare.py BERTOLOGY TEST_DATA_DIR TMPDIR
"""
import json
import os
import random
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wordpiece_ref import RefBert  # noqa: E402


def make_model(tmp, name, vocab, config):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(vocab, "rb") as f, open(os.path.join(d, "vocab.txt"), "wb") as g:
        g.write(f.read())
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f)
    return d


def run(binary, model, lines, pair, max_len):
    data = b"".join(line.encode("utf-8", "surrogatepass") + b"\n" for line in lines)
    cmd = [binary, "tokenize", "--model", model, "--max-seq-length", str(max_len), "--types"]
    if pair:
        cmd.append("--pair")
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()}")
    out = p.stdout.decode().split("\n")
    assert out[-1] == "", "output must end with a newline"
    return out[:-1]


def compare(binary, model, ref, lines, pair, max_len, label):
    got = run(binary, model, lines, pair, max_len)
    if len(got) != len(lines):
        return [f"{label}: {len(got)} output lines for {len(lines)} inputs"]
    bad = []
    for line, g in zip(lines, got):
        a, b = line.split("\t") if pair else (line, None)
        ids, types = ref.encode(a, b, max_len)
        want = " ".join(map(str, ids)) + "\t" + " ".join(map(str, types))
        if g != want:
            toks = [ref.inv.get(i, "?") for i in ids]
            bad.append(f"{label}: input {line!r}\n  want {want}\n  got  {g}\n  want tokens {toks}")
    return bad


def glue_texts(testdata):
    g = os.path.join(testdata, "glue")

    def rows(path):
        with open(path, encoding="utf-8") as f:
            return [r.rstrip("\n").rstrip("\r").split("\t") for r in f]

    singles = [r[0] for r in rows(os.path.join(g, "SST-2", "dev.tsv"))[1:]]
    singles += [r[3] for r in rows(os.path.join(g, "CoLA", "dev.tsv"))]
    pairs = [f"{r[1]}\t{r[2]}" for r in rows(os.path.join(g, "RTE", "dev.tsv"))[1:]]
    pairs += [f"{r[1]}\t{r[2]}" for r in rows(os.path.join(g, "WNLI", "dev.tsv"))[1:]]
    return singles, pairs


# Characters that exercise every branch: controls, every kind of space, accents and combining
# marks, final sigma, dotted capital I, CJK and non-CJK East Asian scripts, emoji sequences,
# symbols that are not punctuation, private use, unassigned, special tokens and their pieces.
POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + list(" .,;:!?'\"()[]{}<>-_/\\@#$%^&*+=|~`")
        + ["\x00", "\x01", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "\xad",
           "\u1680", "\u2003", "\u2028", "\u2029", "\u202f", "\u3000", "\ufeff", "\u200b",
           "\u200d", "\ufe0f", "\ufffd", "\ue000", "\U000f0000", "\u0378", "\U0001fffe",
           "é", "É", "ñ", "ü", "Å", "\u212b", "ß", "ﬁ", "İ", "ı", "Σ", "σ", "ς", "Ω", "Ѐ", "ǅ",
           "\u0301", "\u0308", "\u0345", "\u20dd", "\u0903", "\U0001d165", "\U0001d16d",
           "ا", "\u064b", "ק", "क", "ि", "ก", "่", "한", "국", "\u1100", "\u1161", "あ", "ア",
           "ｱ", "中", "文", "我", "\u3400", "\U00020000", "\uf900", "\U0002f800", "～", "。",
           "、", "«", "»", "“", "”", "‘", "’", "—", "…", "€", "£", "©", "°", "½", "²", "Ⅻ",
           "ⓐ", "Ⓐ", "😀", "😶", "🌫", "🚀", "✅", "👍🏽", "🇫🇷"]
        + ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "[PAD]", "[cls]", "[Sep]", "[CL", "S]", "##",
           "##s", "don't", "Hello", "unaffable", "ΟΔΟΣ", "naïve", "Straße"])


def fuzz_line(rng, pair):
    def text():
        n = rng.choice([0, 1, 2, 5, 12, 40, 120])
        s = "".join(rng.choice(POOL) for _ in range(n))
        if rng.random() < 0.1:  # a long word: the 100-character rule
            s += " " + rng.choice("aeiouxyz") * rng.choice([99, 100, 101, 150])
        if rng.random() < 0.1:
            s += " " + "é" * rng.choice([50, 100, 101])
        return s.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return f"{text()}\t{text()}" if pair else text()


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


def main():
    binary, testdata, tmp = sys.argv[1:4]
    voc = os.path.join(testdata, "vocab")
    uncased = os.path.join(voc, "bert-base-uncased", "vocab.txt")
    cased = os.path.join(voc, "bert-base-cased", "vocab.txt")
    configs = [
        ("uncased", uncased, None, {}),
        ("cased", cased, {"do_lower_case": False}, {"do_lower_case": False}),
        ("cased_strip", cased, {"do_lower_case": False, "strip_accents": True},
         {"do_lower_case": False, "strip_accents": True}),
        ("uncased_keep_accents", uncased, {"do_lower_case": True, "strip_accents": False},
         {"do_lower_case": True, "strip_accents": False}),
        ("uncased_no_cjk_never", uncased,
         {"tokenize_chinese_chars": False, "never_split": ["don't", "[foo]", "Hello", "xyz"]},
         {"tokenize_chinese_chars": False, "never_split": ["don't", "[foo]", "Hello", "xyz"]}),
        ("uncased_no_basic", uncased, {"do_basic_tokenize": False}, {"do_basic_tokenize": False}),
        ("cased_other_specials", cased,
         {"do_lower_case": False, "unk_token": "[UNK]", "mask_token": {"content": "Σ"},
          "pad_token": None},
         {"do_lower_case": False, "mask_token": "Σ", "pad_token": None}),
    ]
    singles, pairs = glue_texts(testdata)
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

    failures, n_cmp = [], 0
    for name, vocab, config, kwargs in configs:
        model = make_model(tmp, name, vocab, config)
        ref = RefBert(os.path.join(model, "vocab.txt"), **kwargs)
        jobs = [(fuzz1, False, 512, "fuzz"), (fuzz2, True, 512, "fuzz-pair")]
        for m in (3, 4, 7, 20):
            jobs.append((fuzz2[:300], True, m, f"fuzz-pair-max{m}"))
        if name in ("uncased", "cased"):
            jobs += [(singles, False, 128, "glue"), (pairs, True, 128, "glue-pair"),
                     (pairs, True, 512, "glue-pair"), (singles[:200], False, 8, "glue-max8"),
                     (per_cp, False, 4096, "code-points")]
        else:
            jobs.append((per_cp[::7], False, 4096, "code-points"))
        for lines, pair, max_len, label in jobs:
            bad = compare(binary, model, ref, lines, pair, max_len, f"{name}/{label}/max{max_len}")
            n_cmp += len(lines)
            failures += bad
            print(f"{name:22s} {label:18s} max_len={max_len:<5d} lines={len(lines):<6d} "
                  f"mismatches={len(bad)}")
    for f in failures[:20]:
        print(f)
    print(f"{n_cmp - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
