#!/usr/bin/python3
"""`bertology tokenize` on an OpenAI GPT (openai-gpt) tokenizer against gpt_ref.RefGPT, the
Python model of transformers' OpenAIGPTTokenizer without ftfy/spacy: every text of every GLUE
file in tests/data/glue (single sentences and pairs, with and without truncation), the tricky
strings of wordpiece_compare.py and seeded random Unicode lines. The vocabulary is
tests/data/vocab/openai-gpt-glue (trained by gpt_ref.train on GLUE text, see
tests/data/SOURCES.md), once as written and once without its <unk> plus a merges.txt with the
quirks the class's reader has (CRLF, odd lines, a pair listed twice).

usage: gpt_compare.py BERTOLOGY SOURCE_DIR TMPDIR
"""
import json
import os
import random
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gpt_ref import RefGPT  # noqa: E402
from wordpiece_compare import POOL, fuzz_line  # noqa: E402


def run(binary, model, lines, pair, max_len):
    data = b"".join(line.encode("utf-8", "surrogatepass") + b"\n" for line in lines)
    cmd = [binary, "tokenize", "--model", model, "--max-seq-length", str(max_len), "--types"]
    if pair:
        cmd.append("--pair")
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit("FAIL: %s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode()))
    out = p.stdout.decode().split("\n")
    assert out[-1] == "", "output must end with a newline"
    return out[:-1]


def compare(binary, model, ref, lines, pair, max_len, label):
    got = run(binary, model, lines, pair, max_len)
    if len(got) != len(lines):
        return ["%s: %d output lines for %d inputs" % (label, len(got), len(lines))]
    bad = []
    for line, g in zip(lines, got):
        a, b = line.split("\t") if pair else (line, None)
        ids, types = ref.encode(a, b, max_len)
        want = " ".join(map(str, ids)) + "\t" + " ".join(map(str, types))
        if g != want:
            bad.append("%s: input %r\n  want %s\n  got  %s\n  want tokens %s"
                       % (label, line, want, g, [ref.inv.get(i, "?") for i in ids]))
    return bad


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


def main():
    binary, src, tmp = sys.argv[1:4]
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    vocab_dir = os.path.join(src, "tests", "data", "vocab", "openai-gpt-glue")
    glue = os.path.join(src, "tests", "data", "glue")
    files = glue_files(glue)
    bad, n = [], 0
    plain = make_model(tmp, "plain", vocab_dir, "config")
    ref = RefGPT(os.path.join(plain, "vocab.json"), os.path.join(plain, "merges.txt"))
    for name, (lines, pair) in files.items():
        for max_len in (512, 24):
            bad += compare(binary, plain, ref, lines, pair, max_len, "%s max %d" % (name, max_len))
            n += len(lines)
        print("%-12s %6d %s lines agree" % (name, len(lines), "pair" if pair else "single"))
    rng = random.Random(16)
    tricky = [t for t in POOL] + ["<unk>", "<UNK> x", "a<Unk>b", "<unk", "\u212a<un\u212a>", "İstanbul <unk>"]
    fuzz = [fuzz_line(rng, False) for _ in range(3000)]
    fuzz_pairs = [fuzz_line(rng, True) for _ in range(1000)]
    quirky = make_model(tmp, "quirky", vocab_dir, "class", quirky=True)
    qref = RefGPT(os.path.join(quirky, "vocab.json"), os.path.join(quirky, "merges.txt"))
    for model, r, label in ((plain, ref, "plain"), (quirky, qref, "quirky")):
        bad += compare(binary, model, r, tricky, False, 512, label + " tricky")
        bad += compare(binary, model, r, fuzz, False, 512, label + " fuzz")
        bad += compare(binary, model, r, fuzz_pairs, True, 40, label + " fuzz pairs")
        n += len(tricky) + len(fuzz) + len(fuzz_pairs)
    sst = files["SST-2/dev"][0]
    bad += compare(binary, quirky, qref, sst, False, 512, "quirky SST-2/dev")
    n += len(sst)
    print("tricky/fuzz/quirky merges: %d lines agree" % (len(tricky) + len(fuzz) + len(fuzz_pairs) + len(sst)))
    # no <unk> in the vocabulary: a character outside it is an error naming it, GLUE text that
    # stays inside it still tokenizes
    nounk = make_model(tmp, "nounk", vocab_dir, "config", drop_unk=True)
    p = subprocess.run([binary, "tokenize", "--model", nounk], input="caf\u00e9 \u2603\n".encode(), capture_output=True)
    msg = p.stderr.decode().strip()
    if p.returncode != 2 or "\u2603" not in msg or "no unk token" not in msg:
        bad.append("no <unk>: want exit 2 naming the character, got %d %r" % (p.returncode, msg))
    else:
        print("no <unk>: refused: %s" % msg)
    for b in bad[:10]:
        print(b)
    print("%d lines compared, %d differ" % (n, len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
