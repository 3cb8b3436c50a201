"""Reads every GLUE file of tests/data the way Hugging Face's glue processors do (csv.reader with
delimiter tab and no quote character, file opened as utf-8-sig, the per-task column choices of
transformers/data/processors/glue.py) and checks that bertology's reader (tests/tools/glue_dump)
yields the same examples: text_a, text_b, label id or score, and source line. Also checks the
same files rewritten with a BOM, CRLF line ends and no final newline, and --data_subset."""
import csv
import json
import os
import random

import numpy as np
import pytest

from bttest import GLUE, run, tool

LABELS = {"cola": ["0", "1"], "sst-2": ["0", "1"], "mrpc": ["0", "1"], "qqp": ["0", "1"],
          "wnli": ["0", "1"], "mnli": ["contradiction", "entailment", "neutral"],
          "qnli": ["entailment", "not_entailment"], "rte": ["entailment", "not_entailment"],
          "sts-b": None}


def hf_rows(task, path, test):
    """(line, text_a, text_b, label string or None) as HF's _create_examples builds them."""
    with open(path, "r", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter="\t", quotechar=None)
        lines = [(reader.line_num, row) for row in reader]
    out = []
    if task == "cola":
        if test:
            lines = lines[1:]
        for n, row in lines:
            out.append((n, row[1 if test else 3], None, None if test else row[1]))
        return out
    for n, row in lines[1:]:  # every other processor skips i == 0
        if task == "sst-2":
            out.append((n, row[1 if test else 0], None, None if test else row[1]))
        elif task == "mrpc":
            out.append((n, row[3], row[4], None if test else row[0]))
        elif task == "sts-b":
            out.append((n, row[7], row[8], None if test else row[-1]))
        elif task == "qqp":
            out.append((n, row[1 if test else 3], row[2 if test else 4], None if test else row[5]))
        elif task == "mnli":
            out.append((n, row[8], row[9], None if test else row[-1]))
        else:  # qnli, rte, wnli
            out.append((n, row[1], row[2], None if test else row[-1]))
    return out


def dump(task, data_dir, split, max_examples=0):
    """bertology's examples, or the exception describing why the read failed."""
    res = run([tool("glue_dump"), task, data_dir, split, max_examples], expect=None)
    if res.returncode != 0:
        return RuntimeError("glue_dump exit %d: %s" % (res.returncode, res.stderr.strip()))
    return [json.loads(s) for s in res.stdout.splitlines()]


def compare(name, task, want, got):
    if isinstance(got, Exception):
        return ["%s: %s" % (name, got)]
    errors = []
    if len(want) != len(got):
        errors.append("%s: %d examples, HF reading has %d" % (name, len(got), len(want)))
    for (line, a, b, lab), g in zip(want, got):
        if lab is None:
            label, target = -1, None
        elif LABELS[task] is None:
            label, target = -1, float(np.float32(float(lab)))
        else:
            label, target = LABELS[task].index(lab), None
        if (g["line"], g["a"], g["b"], g["label"], g["target"]) != (line, a, b, label, target):
            errors.append("%s line %d: bertology %r, HF %r" % (name, line, g, (line, a, b, label,
                                                                                target)))
            if len(errors) > 5:
                break
    return errors


FUZZ_CASES = 150


def test_fuzz(work):
    """Damaged copies of real files (bytes flipped, inserted, deleted, truncated): the reader must
    either succeed or fail with exit code 2 and a one-line 'FILE...: ' message; never crash."""
    glue, tmp = GLUE, work
    rnd = random.Random(7)
    errors = []
    sources = [("rte", "RTE", "dev.tsv"), ("cola", "CoLA", "dev.tsv"), ("sst-2", "SST-2", "dev.tsv")]
    for c in range(FUZZ_CASES):
        task, d, fname = sources[c % len(sources)]
        data = bytearray(open(os.path.join(glue, d, fname), "rb").read()[:4000])
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randrange(len(data))
            op = rnd.randrange(4)
            if op == 0:
                data[pos] = rnd.choice([0, 9, 10, 13, 0x80, 0xC3, 0xED, 0xEF, 0xFF, rnd.randrange(256)])
            elif op == 1:
                data[pos:pos] = bytes([rnd.choice([9, 10, 13, 0, 0xBF, 0x22])])
            elif op == 2:
                del data[pos:pos + rnd.randint(1, 50)]
            else:
                del data[pos:]
        fdir = os.path.join(tmp, "fuzz%d" % c)
        os.makedirs(fdir)
        path = os.path.join(fdir, fname)
        open(path, "wb").write(data)
        res = run([tool("glue_dump"), task, fdir, "dev", "0", "skip" if c % 2 else "strict"], input=b"",
                  expect=None)
        msg = res.stderr.decode("utf-8", "replace").strip()
        if res.returncode not in (0, 2):
            errors.append("fuzz case %d (%s): exit %d: %s" % (c, path, res.returncode, msg[-300:]))
        elif res.returncode == 2 and (not msg.startswith(path) or "\n" in msg):
            errors.append("fuzz case %d: message %r" % (c, msg))
    assert not errors, "\n".join(errors)


FILES = [("cola", "CoLA", "dev", "dev.tsv"), ("cola", "CoLA", "train", "train.tsv"),
         ("sst-2", "SST-2", "dev", "dev.tsv"), ("sst-2", "SST-2", "train", "train.tsv"),
         ("qnli", "QNLI", "dev", "dev.tsv"), ("rte", "RTE", "dev", "dev.tsv"),
         ("rte", "RTE", "train", "train.tsv"), ("wnli", "WNLI", "dev", "dev.tsv"),
         ("wnli", "WNLI", "train", "train.tsv")]


@pytest.mark.parametrize("task,d,split,fname", FILES, ids=["%s/%s" % (f[1], f[3]) for f in FILES])
def test_as_hf_reads_it(task, d, split, fname, work):
    path = os.path.join(GLUE, d, fname)
    want = hf_rows(task, path, test=False)
    errors = compare("%s/%s" % (d, fname), task, want, dump(task, os.path.join(GLUE, d), split))
    # the same bytes with a BOM, CRLF line ends and no final newline
    with open(path, "rb") as f:
        raw = f.read()
    quirky = b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n").rstrip(b"\r\n")
    qdir = os.path.join(work, d + "_" + split)
    os.makedirs(qdir, exist_ok=True)
    qpath = os.path.join(qdir, fname)
    with open(qpath, "wb") as f:
        f.write(quirky)
    errors += compare("%s/%s (BOM, CRLF, no final newline)" % (d, fname), task,
                      hf_rows(task, qpath, test=False), dump(task, qdir, split))
    # --data_subset N: the first N examples
    errors += compare("%s/%s first 10" % (d, fname), task, want[:10], dump(task, os.path.join(GLUE, d), split, 10))
    assert not errors, "\n".join(errors)
    print("%s/%s: %d examples equal HF's reading" % (d, fname, len(want)))


def test_unlabelled_test_file(work):
    """an unlabelled test file in each layout, made from the dev rows of tests/data"""
    tdir = os.path.join(work, "test")
    os.makedirs(tdir, exist_ok=True)
    rows = hf_rows("rte", os.path.join(GLUE, "RTE", "dev.tsv"), test=False)
    with open(os.path.join(tdir, "test.tsv"), "w", encoding="utf-8") as f:
        f.write("index\tsentence1\tsentence2\n")
        for i, (_, a, b, _) in enumerate(rows):
            f.write("%d\t%s\t%s\n" % (i, a, b))
    errors = compare("RTE test", "rte", hf_rows("rte", os.path.join(tdir, "test.tsv"), True), dump("rte", tdir, "test"))
    assert not errors, "\n".join(errors)
