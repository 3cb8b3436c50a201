"""`bertology tokenize` end to end on a GPT-2 model directory (the tiny real checkpoint's
config.json with GPT-2's vocab.json + merges.txt): the single-line llama.cpp GPT-2 vectors,
pairs (a + b, nothing added), messages for bad input and bad directories, and the --bench
speed on SST-2's train sentences.
"""
import json
import os
import re
import shutil

from bttest import TESTDATA, tok


def test_tokenize_cli(work, check):
    testdata, tmp = TESTDATA, work
    model = os.path.join(tmp, "gpt2")
    os.makedirs(model, exist_ok=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(testdata, "vocab", "gpt2", f), model)
    shutil.copy(os.path.join(testdata, "models", "tiny-gpt2", "config.json"), model)

    # the llama.cpp vectors whose input is one line
    g = os.path.join(testdata, "vocab", "gguf", "ggml-vocab-gpt-2.gguf")
    with open(g + ".inp", encoding="utf-8") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")[:-1]
    with open(g + ".out", encoding="utf-8") as f:
        outputs = f.read().split("\n")[:-1]
    cases = [(i, o.strip()) for i, o in zip(inputs, outputs)
             if "\n" not in i and not i.endswith("\r") and i]
    check(len(cases) >= 30, f"only {len(cases)} one-line vectors")
    data = "".join(i + "\n" for i, _ in cases).encode("utf-8")
    p = tok.cli(["--model", model, "--max-seq-length", "1024"], data)
    got = p.stdout.decode().split("\n")[:-1]
    check(p.returncode == 0 and len(got) == len(cases), f"vectors: rc {p.returncode} "
          f"{p.stderr.decode()!r}, {len(got)} lines")
    for (text, want), line in zip(cases, got):
        check(line == want, f"vector {text!r}: got {line}, want {want}")

    # a pair is a + b with nothing added; token types all 0; longest_first truncation
    p = tok.cli(["--model", model, "--pair", "--types", "--max-seq-length", "3"],
            b"Hello world\t Hello World!\n")
    check(p.stdout == b"15496 995 18435\t0 0 0\n" and p.returncode == 0,
          f"pair: {p.stdout!r} {p.stderr!r}")
    p = tok.cli(["--model", model, "--pair"], b"Hello world\t Hello World!\n")
    check(p.stdout == b"15496 995 18435 2159 0\n", f"pair: {p.stdout!r}")

    # bad input: one-line messages that name the line
    p = tok.cli(["--model", model], b"Hello\nab\xffc\n")
    check(p.returncode == 2 and p.stderr.decode().strip() ==
          "bertology tokenize: <stdin>:2: invalid UTF-8 at byte 2", f"utf-8: {p.stderr!r}")

    # bad directories
    bad = os.path.join(tmp, "openai")
    shutil.copytree(model, bad, dirs_exist_ok=True)
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump({"model_type": "openai-gpt"}, f)
    p = tok.cli(["--model", bad], b"x\n")
    err = p.stderr.decode()
    # openai-gpt reads OpenAI GPT's tokenizer (gpt_compare.py tests it), in whose terms a
    # byte-level vocabulary has no 'x</w>' and no <unk>
    check(p.returncode == 2 and "'x</w>' is not in " + os.path.join(bad, "vocab.json") in err and err.count("\n") == 1,
          f"openai-gpt: {p.returncode} {err!r}")
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump({"model_type": "gpt2"}, f)
    with open(os.path.join(bad, "merges.txt"), "a", encoding="utf-8") as f:
        f.write("Ġ t h\n")
    p = tok.cli(["--model", bad], b"x\n")
    err = p.stderr.decode()
    check(p.returncode == 2 and re.search(r"merges\.txt:50002: expected two symbols", err),
          f"bad merges: {p.returncode} {err!r}")
    os.remove(os.path.join(bad, "merges.txt"))
    p = tok.cli(["--model", bad], b"x\n")
    check(p.returncode == 2 and "no tokenizer files" in p.stderr.decode(),
          f"no merges: {p.stderr!r}")

    # speed: SST-2 train sentences
    sst = os.path.join(testdata, "glue", "SST-2", "train.tsv")
    b = tok.bench(model, sst)
    check(b["lines"] == 67349, f"bench lines {b['lines']:.0f}")
    check(b.get("tokens/s", 0) > 100000, f"bench speed {b.get('tokens/s')} tokens/s")
