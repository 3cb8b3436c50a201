"""One schema for run.h5: `bertology schema` (generated from the writer's tables in
src/store/run_h5_layout.c) equals the analysis package's copy, real files of several commands and
options follow it, and the reader refuses a file that departs from it, naming the dataset.

Regenerate the copy after changing the layout:
    build/bertology schema --out analysis/bertology_analysis/run_h5_schema.json
"""
import json
import os
import shutil

import h5py
import numpy as np
import pytest

import fake_run
from bertology_analysis import RunError, load_run
from bertology_analysis.schema import SCHEMA_FILE, diff, load_schema
from bttest import SST2, bertology, models


def test_copy_matches_the_program():
    p = bertology(["schema"], timeout=60)
    built = json.loads(p.stdout)
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        copy = json.load(f)
    d = diff(built, copy)
    assert not d, ("the analysis package's run_h5_schema.json differs from `bertology schema` (first: program, "
                   "second: copy); regenerate it with `bertology schema --out %s`:\n  %s" % (SCHEMA_FILE, "\n  ".join(d)))
    # and the schema says something: the datasets the reader relies on, with their dtypes
    sc = load_schema()
    assert sc.dataset("/examples/length").dtypes == ("int32",)
    assert sc.dataset("/attentions/data").shape == ("sum(Lsel*H*T*T)",)
    assert sc.format_version >= 1 and sc.format == "bertology-run"


def test_schema_file_option(work):
    out = os.path.join(work, "schema.json")
    bertology(["schema", "--out", out], timeout=60)
    assert load_schema(out).doc == load_schema().doc
    p = bertology(["schema", "--out", os.path.join(work, "no", "such", "dir.json")], timeout=60, expect=2)
    assert "no/such/dir.json" in p.stderr


@pytest.fixture(scope="module")
def real_runs(work):
    """importance (classifier, attentions and hidden states in float16), the same in float32 with
    only layer 2, eval, and a language model's importance (no labels)."""
    models.bert(os.path.join(work, "bert"), layers=2, hidden=32, heads=4, labels=2)
    glue = ["--task", "sst-2", "--data", SST2, "--subset", "5", "--threads", "1", "--quiet", "--model", "bert"]
    bertology(["importance", *glue, "--save-attentions", "--save-hidden", "--out", "imp"], cwd=work)
    bertology(["importance", *glue, "--save-attentions", "--save-hidden", "--layers", "1", "--dtype", "f32",
               "--out", "imp32"], cwd=work)
    bertology(["eval", *glue, "--out", "eval"], cwd=work)
    bertology(["mask", *glue, "--out", "mask"], cwd=work)
    return {k: os.path.join(work, k, "run.h5") for k in ("imp", "imp32", "eval", "mask")}


def test_real_files_follow_the_schema(real_runs):
    for name, path in real_runs.items():
        with load_run(path) as r:
            assert r.validate() == [], name
    with h5py.File(real_runs["imp"], "r") as f:
        assert f["attentions/data"].dtype == np.float16 and "hidden" in f
    with h5py.File(real_runs["imp32"], "r") as f:
        assert f["attentions/data"].dtype == np.float32 and list(f["attentions"].attrs["layers"]) == [1]


def test_fake_files_follow_the_schema(work):
    path = fake_run.write_run(os.path.join(work, "fake.h5"), [[2, 9, 10, 3]], [np.full((2, 3, 4, 4), .25)], 2, 3)
    with load_run(path) as r:
        assert r.validate() == []


def copy_with(src, dst, edit):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        edit(f)
    return dst


def test_departures_are_named(real_runs, work):
    src = real_runs["imp"]

    def retype(path, dtype):
        def edit(f):
            data = f[path][()]
            del f[path]
            f[path] = data.astype(dtype)
        return edit

    def shorten(path):
        def edit(f):
            data = f[path][()]
            del f[path]
            f[path] = data[:-1]
        return edit

    def extra(f):
        f["examples/surprise"] = np.zeros(3)

    def drop_attr(f):
        del f["attentions"].attrs["layers"]

    cases = [("length_i64", retype("examples/length", np.int64), "/examples/length has dtype int64, expected int32"),
             ("ids_short", shorten("examples/token_ids"), "/examples/token_ids has shape"),
             ("attn_short", shorten("attentions/data"), "expected (%d,) = [sum(Lsel*H*T*T)]"),
             ("extra", extra, "/examples/surprise is in /examples but not in the schema"),
             ("noattr", drop_attr, "attribute layers of /attentions is missing")]
    with h5py.File(src, "r") as f:
        want_attn = f["attentions/data"].shape[0]
    refused_by_reader = ("length_i64", "ids_short", "attn_short", "noattr")
    for name, edit, msg in cases:
        msg = msg.replace("%d", str(want_attn))
        path = copy_with(src, os.path.join(work, name + ".h5"), edit)
        with h5py.File(path, "r") as f:
            problems = load_schema().validate(f)
        assert any(msg in p for p in problems), (name, problems)
        if name in refused_by_reader:
            with pytest.raises(RunError) as e:
                load_run(path)
            assert msg in str(e.value) and path in str(e.value)
