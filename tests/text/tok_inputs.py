"""Text that the tokenizer comparisons share (test_wordpiece_vs_ref.py, test_bpe_vs_ref.py,
test_gpt_vs_ref.py, test_tokjson_vs_ref.py): hand-picked hard cases, seeded random lines, and
the texts of every GLUE file of tests/data."""
import os

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


def glue_files(glue):
    """{name: (lines, pair)} for every shipped GLUE file, texts as the GLUE readers take them."""
    out = {}
    for task in sorted(os.listdir(glue)):
        for split in ("train", "dev"):
            path = os.path.join(glue, task, split + ".tsv")
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8", newline="") as f:
                rows = [r.rstrip("\n").rstrip("\r").split("\t") for r in f]
            if task == "CoLA":
                lines, pair = [r[3] for r in rows], False
            elif task == "SST-2":
                lines, pair = [r[0] for r in rows[1:]], False
            elif task == "QNLI":
                lines, pair = ["%s\t%s" % (r[1], r[2]) for r in rows[1:]], True
            else:  # RTE, WNLI
                lines, pair = ["%s\t%s" % (r[1], r[2]) for r in rows[1:]], True
            out["%s/%s" % (task, split)] = (lines, pair)
    return out
