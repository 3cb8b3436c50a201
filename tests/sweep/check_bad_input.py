#!/usr/bin/python3
"""Bad input under `mpirun -np 3`: every rank exits non-zero, quickly, with one message.

Each case runs twice under `timeout 60`:
  1. `mpirun -q -np 3 bertology importance ...` as a user would (-q: no mpirun banner, so
     stderr holds only what bertology prints): mpirun exits 2 (bad input), stderr is exactly one
     line, "bertology importance: ..." with the case's key words (the file, flag or number at
     fault), nothing on stdout, and the output directory holds no run.h5 (nor a tmp file: all
     these are caught before anything is written);
  2. the same with `--mca orte_abort_on_non_zero_status 0` and rank_rc.sh recording each rank's
     exit code: by default mpirun kills the other ranks as soon as one exits non-zero, which
     would hide whether they stopped by themselves. Every one of the 3 ranks must exit 2.
"""
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import check  # noqa: E402

NP = 3


def mpirun(args, argv, rcdir=None):
    cmd = ["timeout", "-k", "5", "60", args.mpiexec, "-q", "--oversubscribe", "--allow-run-as-root",
           "-np", str(NP)]
    if rcdir:
        cmd += ["--mca", "orte_abort_on_non_zero_status", "0", os.path.join(HERE, "rank_rc.sh"), rcdir]
    t0 = time.time()
    p = subprocess.run(cmd + [args.bertology, "importance"] + argv, capture_output=True, text=True)
    return p, time.time() - t0


def run_case(args, name, argv, expect, code=2):
    out = os.path.join(args.work, name, "out")
    rcdir = os.path.join(args.work, name, "rc")
    os.makedirs(rcdir)
    argv = [a.replace("{out}", out) for a in argv]
    p, secs = mpirun(args, argv)
    lines = p.stderr.splitlines()
    check(p.returncode == code, "%s: mpirun exit %d, want %d (%.1f s)\n%s" % (
        name, p.returncode, code, secs, p.stderr[-2000:]))
    check(len(lines) == 1 and lines[0].startswith("bertology importance: "),
          "%s: stderr should be one 'bertology importance:' line, got %d:\n%s" % (
              name, len(lines), p.stderr[-2000:]))
    msg = lines[0] if lines else ""
    for word in expect:
        check(word in msg, "%s: message %r does not mention %r" % (name, msg, word))
    left = os.listdir(out) if os.path.isdir(out) else []
    check(not any(f.startswith("run.h5") for f in left), "%s: left %s behind" % (name, left))
    check(p.stdout == "", "%s: printed on stdout: %r" % (name, p.stdout[:300]))

    p2, secs2 = mpirun(args, argv, rcdir)
    rcs = {}
    for r in range(NP):
        f = os.path.join(rcdir, "rank%d.rc" % r)
        rcs[r] = int(open(f).read()) if os.path.exists(f) else None
    check(all(rcs[r] == code for r in range(NP)), "%s: rank exit codes %s, want %d on every rank"
          % (name, rcs, code))
    check(p2.stderr.splitlines() == lines, "%s: second run printed %r" % (name, p2.stderr))
    print("%-16s exit %d, ranks %s, %.1f s: %s" % (name, p.returncode, [rcs[r] for r in range(NP)],
                                                  max(secs, secs2), msg))
    return msg


def main():
    args = common.setup(common.parser(__doc__).parse_args())
    w = args.work
    m = common.model(args, "model", layers=2, hidden=32, heads=4, seed=1)
    # a model whose weights file is cut short
    broken = os.path.join(w, "broken_model")
    shutil.copytree(m, broken)
    st = os.path.join(broken, "model.safetensors")
    with open(st, "r+b") as f:
        f.truncate(os.path.getsize(st) // 2)
    np.save(os.path.join(w, "mask_3x4.npy"), np.ones((3, 4), np.float32))
    with open(os.path.join(w, "mask_garbage.npy"), "wb") as f:
        f.write(b"not an npy file at all\n")
    # a task directory whose dev.tsv has a label outside the task's label set
    bad_tsv = os.path.join(w, "bad_sst2")
    os.makedirs(bad_tsv)
    with open(os.path.join(bad_tsv, "dev.tsv"), "w") as f:
        f.write("sentence\tlabel\na fine film .\t1\na dull one .\t7\n")
    with open(os.path.join(w, "a_file"), "w") as f:
        f.write("x\n")
    sst2 = args.sst2
    base = ["--task", "sst-2", "--data", sst2, "--out", "{out}", "--threads", "1", "--quiet"]
    cases = [
        ("bad_model_dir", ["--model", os.path.join(w, "no_such_model")] + base,
         ["no_such_model", "config.json"]),
        ("truncated_model", ["--model", broken] + base, ["model.safetensors"]),
        ("bad_task", ["--model", m, "--task", "sst-3", "--data", sst2, "--out", "{out}"],
         ["sst-3"]),
        ("missing_data", ["--model", m, "--task", "sst-2", "--data", os.path.join(w, "nodata"),
                          "--out", "{out}"], ["nodata", "dev.tsv"]),
        ("bad_label", ["--model", m, "--task", "sst-2", "--data", bad_tsv, "--out", "{out}"],
         ["dev.tsv", "3"]),  # line 3 of the file
        ("unknown_flag", ["--model", m] + base + ["--bogus-flag"], ["--bogus-flag"]),
        ("hf_no_batch", ["--model", m] + base + ["--hf-compat"], ["--hf-compat", "batch"]),
        ("batch_no_size", ["--model", m] + base + ["--granularity", "batch"],
         ["--batch-size"]),
        ("mask_shape", ["--model", m] + base + ["--head-mask", os.path.join(w, "mask_3x4.npy")],
         ["mask_3x4.npy", "[2, 4]"]),
        ("mask_garbage", ["--model", m] + base + ["--head-mask",
                                                  os.path.join(w, "mask_garbage.npy")],
         ["mask_garbage.npy"]),
        ("bad_layers", ["--model", m] + base + ["--save-attentions", "--layers", "0,5"],
         ["--layers", "0,5"]),
        ("out_under_file", ["--model", m, "--task", "sst-2", "--data", sst2, "--out",
                            os.path.join(w, "a_file", "out")], ["a_file"]),
        # about 0.4 MB of float32 attentions for 64 examples; the limit is 0.0001 GB = 0.1 MB
        ("too_big", ["--model", m] + base + ["--subset", "64", "--save-attentions", "--dtype",
                                             "f32", "--max-output-gb", "0.0001"],
         ["--max-output-gb", "0.0001", "GB"]),
    ]
    msgs = {name: run_case(args, name, argv, expect) for name, argv, expect in cases}
    # The size refusal states the size: at least the float32 attentions of the 64 examples,
    # counted here from the reference tokenizer's lengths, and at most 10 % more.
    sys.path.insert(0, os.path.join(HERE, "..", "text"))
    import wordpiece_ref
    tok = wordpiece_ref.RefBert(args.vocab)
    with open(os.path.join(sst2, "dev.tsv"), encoding="utf-8") as f:
        sents = [ln.split("\t")[0] for ln in f.read().split("\n")[1:] if ln.strip()][:64]
    lens = np.array([len(tok.encode(s_, None, 128)[0]) for s_ in sents], np.int64)
    attn_gb = 4 * 2 * 4 * int((lens ** 2).sum()) / 1e9
    m_gb = re.search(r"would be ([0-9.e+-]+) GB", msgs["too_big"])
    check(m_gb is not None and attn_gb <= float(m_gb.group(1)) <= 1.1 * attn_gb,
          "too_big: stated size %s GB, attentions alone are %.4g GB" % (
              m_gb and m_gb.group(1), attn_gb))
    return common.finish()


if __name__ == "__main__":
    sys.exit(main())
