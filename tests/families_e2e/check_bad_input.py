#!/usr/bin/python3
"""Bad input for the model families and --text, under `timeout 60 mpirun -np 3`.

Each case runs twice:
  1. `mpirun -q -np 3 bertology CMD ...` as a user would (-q: no mpirun banner, stderr is
     bertology's alone): exit 2, stderr exactly one line "bertology CMD: ..." holding the case's
     key words (the model directory, FILE:LINE, the flag at fault), nothing on stdout, no run.h5
     (nor its tmp file) left in --out;
  2. again with `--mca orte_abort_on_non_zero_status 0` and rank_rc.sh recording each rank's exit
     code (by default mpirun kills the others as soon as one rank fails, which would hide a rank
     that never stops by itself): all 3 ranks exit 2 before the timeout.
Cases: a GPT-2 language model given a GLUE task (pairs and single sentences; importance, eval,
mask), --text given a classifier (BERT, DistilBERT, GPT-2 with a score head), a text file with
invalid UTF-8 (FILE:LINE), missing / empty / directory / one-token-lines text files, --text with
--task, the real tiny GPT-2 without tokenizer files, a bad --tokenizer, a RoBERTa directory
without merges.txt, openai-gpt given GPT-2's byte-level vocabulary (read as OpenAI GPT's BPE,
which finds no "a</w>" and no <unk> in it), --max-seq-length beyond the positions, and
a tokenizer whose ids exceed the model's vocabulary.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
import make_checkpoint  # noqa: E402  (tests/ref, through e2e)
from e2e import check  # noqa: E402

NP = 3
HERE = os.path.dirname(os.path.abspath(__file__))


def mpirun(args, argv, rcdir=None):
    cmd = ["timeout", "-k", "5", "60", args.mpiexec, "-q", "--oversubscribe", "--allow-run-as-root", "-np", str(NP)]
    if rcdir:
        cmd += ["--mca", "orte_abort_on_non_zero_status", "0", os.path.join(HERE, "rank_rc.sh"), rcdir]
    t0 = time.time()
    p = subprocess.run(cmd + [args.bertology] + [str(a) for a in argv], capture_output=True, text=True)
    return p, time.time() - t0


def run_case(args, name, argv, expect):
    out = os.path.join(args.work, "cases", name, "out")
    rcdir = os.path.join(args.work, "cases", name, "rc")
    os.makedirs(rcdir)
    argv = argv + ["--out", out, "--threads", 1]
    cmd = argv[0]
    p, secs = mpirun(args, argv)
    lines = p.stderr.splitlines()
    check(p.returncode == 2, "%s: exit %d, want 2 (%.1f s)\n$ bertology %s\n%s" % (
        name, p.returncode, secs, " ".join(map(str, argv)), p.stderr[-2000:]))
    check(len(lines) == 1 and lines[0].startswith("bertology %s: " % cmd),
          "%s: stderr should be one 'bertology %s:' line, got %d:\n%s" % (name, cmd, len(lines), p.stderr[-2000:]))
    msg = lines[0] if lines else ""
    for word in expect:
        check(word in msg, "%s: message %r does not mention %r" % (name, msg, word))
    left = os.listdir(out) if os.path.isdir(out) else []
    check(not any(f.startswith("run.h5") for f in left), "%s: left %s behind" % (name, left))
    check(p.stdout == "", "%s: printed on stdout: %r" % (name, p.stdout[:300]))

    p2, secs2 = mpirun(args, argv, rcdir)
    rcs = []
    for r in range(NP):
        f = os.path.join(rcdir, "rank%d.rc" % r)
        rcs.append(int(open(f).read()) if os.path.exists(f) else None)
    check(rcs == [2] * NP, "%s: rank exit codes %s, want 2 on every rank" % (name, rcs))
    check(p2.stderr.splitlines() == lines, "%s: second run printed %r" % (name, p2.stderr))
    print("%-18s exit %d, ranks %s, %4.1f s: %s" % (name, p.returncode, rcs, max(secs, secs2), msg))


def main():
    args = e2e.setup(e2e.parser(__doc__).parse_args())
    w = args.work
    g2 = e2e.gpt2(args, "gpt2", layers=2)
    g2cls = e2e.gpt2(args, "gpt2_cls", layers=2, labels=2)
    g2small = e2e.gpt2(args, "gpt2_vocab100", layers=2, vocab=100)  # GPT-2's tokenizer, 100 embeddings
    db = e2e.distilbert(args, "distilbert")
    rb = e2e.roberta(args, "roberta_no_merges")
    os.remove(os.path.join(rb, "merges.txt"))
    bert = os.path.join(w, "bert")
    make_checkpoint.make_checkpoint(bert, layers=2, hidden=32, heads=4, vocab=30522, max_pos=64)
    shutil.copy(args.bert_vocab, os.path.join(bert, "vocab.txt"))
    gpt = os.path.join(w, "openai_gpt")
    e2e.make_checkpoint_family.make_checkpoint(gpt, "openai-gpt", layers=2, vocab=50257, max_pos=64)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(args.gpt2_vocab, f), os.path.join(gpt, f))

    good = e2e.corpus(args, "good.txt", 4)
    bad = e2e.text_file(args, "bad_utf8.txt", ["A fine first line.", "", b"caf\xc3 au lait \xff", "fine again"])
    empty = e2e.text_file(args, "empty.txt", ["", "", ""])
    onetok = e2e.text_file(args, "one_token_lines.txt", ["Hello", "world", "."])
    os.makedirs(os.path.join(w, "a_directory.txt"))
    rte, sst2 = os.path.join(args.glue, "RTE"), os.path.join(args.glue, "SST-2")
    lm = ["--max-seq-length", 32]

    cases = [
        ("lm_rte", ["importance", "--model", g2, "--task", "rte", "--data", rte] + lm,
         [g2, "rte", "classification head", "language model"]),
        ("lm_sst2_eval", ["eval", "--model", g2, "--task", "sst-2", "--data", sst2] + lm,
         [g2, "sst-2", "classification head"]),
        ("lm_rte_mask", ["mask", "--model", g2, "--task", "rte", "--data", rte] + lm, [g2, "classification head"]),
        ("lm_rte_ablate", ["ablate", "--model", g2, "--task", "rte", "--data", rte] + lm, [g2]),
        ("text_bert", ["importance", "--model", bert, "--text", good] + lm, [bert, "classification head"]),
        ("text_distilbert", ["eval", "--model", db, "--text", good] + lm, [db, "classification head"]),
        ("text_gpt2_cls", ["importance", "--model", g2cls, "--text", good] + lm, [g2cls, "classification head"]),
        ("bad_utf8", ["importance", "--model", g2, "--text", bad] + lm, [bad + ":3", "UTF-8"]),
        ("bad_utf8_eval", ["eval", "--model", g2, "--text", bad] + lm, [bad + ":3", "UTF-8"]),
        ("missing_text", ["importance", "--model", g2, "--text", os.path.join(w, "missing.txt")] + lm,
         [os.path.join(w, "missing.txt")]),
        ("empty_text", ["importance", "--model", g2, "--text", empty] + lm, [empty]),
        ("one_token_lines", ["importance", "--model", g2, "--text", onetok] + lm, [onetok]),
        ("text_is_dir", ["importance", "--model", g2, "--text", os.path.join(w, "a_directory.txt")] + lm,
         [os.path.join(w, "a_directory.txt"), "Is a directory"]),
        ("text_and_task", ["importance", "--model", g2, "--text", good, "--task", "rte", "--data", rte] + lm,
         ["--text", "--task"]),
        ("tiny_no_tokenizer", ["importance", "--model", args.tiny_gpt2, "--text", good] + lm,
         [args.tiny_gpt2, "tokenizer"]),
        ("bad_tokenizer_dir", ["importance", "--model", args.tiny_gpt2, "--text", good, "--tokenizer",
                               os.path.join(w, "nowhere")] + lm, [os.path.join(w, "nowhere")]),
        ("roberta_no_merges", ["importance", "--model", rb, "--task", "sst-2", "--data", sst2] + lm, [rb]),
        ("openai_gpt_text", ["importance", "--model", gpt, "--text", good] + lm,
         [os.path.join(gpt, "vocab.json"), "</w>' is not in", "no unk token"]),
        ("seq_too_long", ["importance", "--model", g2, "--text", good, "--max-seq-length", 65],
         ["65", "64", "config.json"]),
        ("ids_beyond_vocab", ["importance", "--model", g2small, "--text", good] + lm, ["vocabulary", "100"]),
    ]
    for name, argv, expect in cases:
        run_case(args, name, argv, expect)
    return e2e.finish()


if __name__ == "__main__":
    sys.exit(main())
