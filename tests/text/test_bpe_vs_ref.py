#!/usr/bin/python3
"""`bertology tokenize` against the independent Python model of GPT-2's tokenizer (bpe_ref.py):
first the model itself is checked on llama.cpp's GPT-2 vectors, then the C tokenizer must
match it on real GLUE text (single sentences and truncated pairs), seeded random Unicode text
built to hit every branch of the pre-tokenisation pattern, and hand-picked edge cases; for GPT-2
conventions, GPT-2 with add_prefix_space, and RoBERTa conventions (special tokens, <mask>
lstrip, pair layout) on a RoBERTa-style vocabulary made from GPT-2's.

usage: bpe_compare.py BERTOLOGY TEST_DATA_DIR TMPDIR
"""
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe_ref import RefBPE, white_space  # noqa: E402

BIG = 4096  # a --max-seq-length no test text reaches


def make_dirs(testdata, tmp):
    src = os.path.join(testdata, "vocab", "gpt2")
    dirs = {}
    # GPT-2 as a model directory: the tiny checkpoint's config.json names model_type gpt2
    d = os.path.join(tmp, "gpt2")
    os.makedirs(d, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(src, f), d)
    shutil.copy(os.path.join(testdata, "models", "tiny-gpt2", "config.json"), d)
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


def check_ref_on_llama_vectors(testdata, ref):
    g = os.path.join(testdata, "vocab", "gguf", "ggml-vocab-gpt-2.gguf")
    with open(g + ".inp", encoding="utf-8") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(g + ".out", encoding="utf-8") as f:
        outputs = f.read().split("\n")[:-1]
    assert len(inputs) == len(outputs) == 46, (len(inputs), len(outputs))
    for text, want in zip(inputs, outputs):
        got = ref.tokenize(text)
        if got != [int(x) for x in want.split()]:
            sys.exit(f"FAIL: the Python reference itself is wrong on {text!r}: {got} vs {want}")
    print("reference model matches the 46 llama.cpp GPT-2 vectors")


def run(binary, model, lines, pair, max_len):
    data = b"".join(line.encode("utf-8") + b"\n" for line in lines)
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
            bad.append(f"{label} max_len={max_len}: input {line!r}\n  want {want}\n  got  {g}")
    return bad


def glue_texts(testdata):
    g = os.path.join(testdata, "glue")
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


EDGE = [
    "Hello world", " Hello world", "  Hello", "   Hello", "Hello  ", "Hello \t", " \t x",
    "I'm here, they're gone; we've seen it, you'll see, he'd go, it's done, don't",
    "I'M HERE 'S 'T", "''s", "x!'s", " 's", "'", "'re'", "rock'n'roll",
    "123 4567 89012345 1,000,000 3.14159 -5 +6", "2024-01-01T12:00:00Z", "a1b2c3 ½²³",
    "multiple     spaces   between", "trailing spaces   ", "   ", " ", "\t", "\u3000x",
    "\u00a0nbsp\u00a0", "a\u2028b\u2029c", "\x1c\x1d\x1e\x1f", "x\x1fy", "\x0b\x0c",
    "Zürich café naïve façade crème brûlée São Paulo", "e\u0301 vs é", "Ωμέγα Привет мир",
    "我想在apple工作1314151天～", "日本語のテキスト", "한국어 텍스트", "مرحبا بالعالم ١٢٣",
    "🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅", "👍🏽👍🏽", "🇫🇷🇩🇪",
    "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<|endoftext|><|endoftext|>",
    "<|endoftext", "<s> </s> <mask> <pad> <unk>", "Hello <mask>!", "<mask>", "  <mask>  x",
    "a<s>b</s>c", "<s><mask></s>", "</s></s>", "x" * 300, "ab" * 200, "1" * 250,
    "!" * 100 + "?" * 50, ".,;:" * 30, "\u0301" * 20, "é" * 60, "😀" * 30,
]


def main():
    binary, testdata, tmp = sys.argv[1:4]
    os.makedirs(tmp, exist_ok=True)
    dirs = make_dirs(testdata, tmp)
    rng = random.Random(20240607)
    gpt2 = RefBPE(os.path.join(dirs["gpt2"], "vocab.json"),
                  os.path.join(dirs["gpt2"], "merges.txt"))
    check_ref_on_llama_vectors(testdata, gpt2)
    gpt2_prefix = RefBPE(os.path.join(dirs["gpt2"], "vocab.json"),
                         os.path.join(dirs["gpt2"], "merges.txt"), add_prefix_space=True)
    roberta = RefBPE(os.path.join(dirs["roberta"], "vocab.json"),
                     os.path.join(dirs["roberta"], "merges.txt"), style="roberta")

    singles, pairs = glue_texts(testdata)
    rand1 = random_texts(rng, 3000, allow_tab=True)
    rand2 = random_texts(rng, 1500, allow_tab=False)
    rand_pairs = [f"{a}\t{b}" for a, b in zip(rand2[::2], rand2[1::2])]
    glue_pairs = [f"{a}\t{b}" for a, b in pairs]
    edge_pairs = [f"{a}\t{b}" for a in EDGE[:25] for b in EDGE[25:35] if "\t" not in a + b]

    bad, n = [], 0
    jobs = [
        ("gpt2", gpt2, singles + EDGE + rand1, False, [BIG, 7]),
        ("gpt2", gpt2, glue_pairs + rand_pairs + edge_pairs, True, [BIG, 16, 5]),
        ("gpt2_prefix", gpt2_prefix, EDGE + rand1[:800] + singles[:400], False, [BIG]),
        ("roberta", roberta, singles[:800] + EDGE + rand1[:1500], False, [BIG, 9, 3]),
        ("roberta", roberta, glue_pairs[:800] + rand_pairs + edge_pairs, True, [BIG, 24, 5]),
    ]
    for name, ref, lines, pair, lens in jobs:
        for max_len in lens:
            bad += compare(binary, dirs[name], ref, lines, pair, max_len, name)
            n += len(lines)
    for b in bad[:20]:
        print(b)
    if bad:
        sys.exit(f"FAIL: {len(bad)} of {n} encodings differ from the Python reference")
    print(f"OK: {n} encodings equal the Python reference "
          f"({len(singles)} GLUE texts, {len(glue_pairs)} GLUE pairs, {len(rand1) + len(rand2)} "
          f"random texts, {len(EDGE)} edge cases; GPT-2, add_prefix_space, RoBERTa)")


if __name__ == "__main__":
    main()
