"""`--text` cuts a line longer than --max-seq-length into consecutive windows (nothing is
truncated) and says so on stderr.

The expected windows come from tests/text/bpe_ref.py (an independent Python port of GPT-2's
encoder.py on the real vocab.json / merges.txt; no special tokens added, as GPT2Tokenizer
encodes a line): each line's ids cut every MAXLEN tokens, pieces of one token dropped (no next
token to predict), empty lines dropped. The file mixes: a line of exactly MAXLEN tokens (one
window), MAXLEN + 2 (two), 2 * MAXLEN + 1 (two and a one-token tail), a real RTE premise pair
several windows long, a one-token line, an empty line, a CRLF line ending. `eval --out` under
mpirun -np 2 must store exactly those windows, in file order, and print the counts on stderr.
"""
import os
import re

import bpe_ref
from bttest import GLUE, bertology, example_ids, models, text_file, tsv_column

MAXLEN = 16


def expected(ref, lines, maxlen=MAXLEN):
    """(windows, stats) as the issue defines them."""
    wins, split_lines, split_windows, short, empty = [], 0, 0, 0, 0
    for ln in lines:
        ids = ref.tokenize(ln)
        if not ids:
            empty += 1
            continue
        split = len(ids) > maxlen
        split_lines += split
        for s in range(0, len(ids), maxlen):
            w = ids[s:s + maxlen]
            if len(w) < 2:
                short += 1
                continue
            wins.append(w)
            split_windows += split
    return wins, dict(lines=len(lines), windows=len(wins), split_windows=split_windows,
                      split_lines=split_lines, short=short, empty=empty)


def test_windows(work, check, blas_one_thread):
    model = models.gpt2(os.path.join(work, "gpt2"), layers=2, heads=4)
    ref = bpe_ref.RefBPE(os.path.join(model, "vocab.json"), os.path.join(model, "merges.txt"), "gpt2")
    # " the" is one token: n of them plus a leading "the" is n + 1 tokens
    check(len(ref.tokenize("the" + " the" * 9)) == 10, "' the' is not one GPT-2 token")
    rte = tsv_column(os.path.join(GLUE, "RTE", "dev.tsv"), 1, 3)
    lines = ["the" + " the" * (MAXLEN - 1),          # MAXLEN tokens: one window
             "the" + " the" * (MAXLEN + 1),          # MAXLEN + 2: a full window and 2 tokens
             "",                                     # empty: no window
             " ".join(rte),                          # several windows of real text
             "Hello",                                # one token: nothing to predict
             "the" + " the" * (2 * MAXLEN),          # 2 MAXLEN + 1: two windows, tail skipped
             "A short line ending in CRLF.\r"]       # the reader strips \r\n like \n
    text = text_file(os.path.join(work, "lines.txt"), lines)
    want, st = expected(ref, [ln.rstrip("\r") for ln in lines])
    check(st["split_lines"] == 3 and st["short"] == 2 and st["empty"] == 1,
          "the file does not exercise what it should: %s" % st)

    out = os.path.join(work, "eval")
    p = bertology(["eval", "--model", model, "--text", text, "--max-seq-length", MAXLEN, "--threads", 1, "--out", out],
                  np=2, quiet_mpi=True, timeout=300)
    got = example_ids(os.path.join(out, "run.h5"))
    check(got == want, "windows differ from the reference tokenization cut every %d tokens:\n got  %s\n want %s"
          % (MAXLEN, [len(w) for w in got], [len(w) for w in want]))
    n_tokens = sum(len(ref.tokenize(ln.rstrip("\r"))) for ln in lines)
    print("%d lines, %d tokens -> %d windows %s; stored %d tokens (%d in skipped one-token pieces)"
          % (len(lines), n_tokens, len(want), [len(w) for w in want], sum(map(len, got)), st["short"]))
    check(sum(map(len, got)) == n_tokens - st["short"], "tokens lost: every token but the one-token "
          "pieces must be in some window")

    # the report names the file and gives the counts (one line, rank 0 only)
    msg = [ln for ln in p.stderr.splitlines() if ln.startswith(text + ":")]
    print("stderr: %s" % msg)
    check(len(msg) == 1, "expected one stderr line starting with %s:, got %s" % (text, p.stderr))
    if msg:
        nums = [int(x) for x in re.findall(r"\d+", msg[0][len(text):])]
        want_nums = [st["lines"], st["windows"], MAXLEN, st["split_windows"], st["split_lines"], st["short"],
                     st["empty"]]
        check(nums == want_nums, "stderr counts %s, want lines, windows, window, split windows, split lines, "
              "one-token, empty = %s" % (nums, want_nums))
        check("split" in msg[0], "the stderr line does not say lines were split: %s" % msg[0])

    # 64-token windows: the short lines whole (their tails are not skipped now)
    out2 = os.path.join(work, "eval_long")
    bertology(["eval", "--model", model, "--text", text, "--max-seq-length", 64, "--threads", 1, "--out", out2],
              np=1, quiet_mpi=True, timeout=300)
    got2 = example_ids(os.path.join(out2, "run.h5"))
    want2, st2 = expected(ref, [ln.rstrip("\r") for ln in lines], 64)
    check(st2["short"] == 1, "64-token windows: only 'Hello' should be too short: %s" % st2)
    check(got2 == want2, "64-token windows: %s, want %s" % ([len(w) for w in got2], [len(w) for w in want2]))
