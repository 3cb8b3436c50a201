"""analysis/ is a Python package: it installs offline with Debian's pip and setuptools, the
installed copy works on its own (import, package data, the bertology-report command), mypy
passes on its type hints, and nothing puts it on sys.path by hand.
"""
import os
import re
import shutil
import sys

import numpy as np
import pytest

import fake_run
from bttest import SOURCE, run


@pytest.fixture(scope="module")
def installed(work):
    """pip install --target of a copy of analysis/ (an in-tree build writes build/ and
    *.egg-info next to the sources: the copy keeps the source tree clean)."""
    src = os.path.join(work, "src")
    shutil.copytree(os.path.join(SOURCE, "analysis"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = os.path.join(work, "site")
    run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--target", site, src], timeout=300, cwd=work)
    return {"site": site, "env": {"PYTHONPATH": site}}


def test_import_and_package_data(installed, work):
    code = ("import os, bertology_analysis as b, bertology_analysis.schema as s, bertology_analysis.page as pg\n"
            "print(b.__file__); print(s.load_schema().format); print(sorted(os.listdir(pg.WEB_DIR)))")
    p = run([sys.executable, "-c", code], env=installed["env"], cwd="/", timeout=120)
    where, fmt, web = p.stdout.splitlines()
    assert where.startswith(installed["site"]), "imported %s, not the installed copy" % where
    assert fmt == "bertology-run"
    assert web == "['page.html', 'report.css', 'report.js']"


def test_console_script(installed, work):
    model = fake_run.write_vocab(os.path.join(work, "model"))
    ex = [[2, 9, 10, 11, 12, 5, 3], [2, 15, 16, 17, 3]]
    maps = [np.random.default_rng(i).dirichlet(np.ones(len(e)), size=(2, 2, len(e))) for i, e in enumerate(ex)]
    run_h5 = fake_run.write_run(os.path.join(work, "run.h5"), ex, maps, 2, 2, model_dir=model)
    out = os.path.join(work, "report")
    env = dict(installed["env"], MPLCONFIGDIR=os.path.join(work, "mpl"))
    p = run([os.path.join(installed["site"], "bin", "bertology-report"), run_h5, "--out", out], env=env, cwd="/",
            timeout=300)
    assert "index.html" in p.stdout
    page = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert "btReport" in page and os.path.isfile(os.path.join(out, "summary.html"))
    p = run([os.path.join(installed["site"], "bin", "bertology-report"), os.path.join(work, "nope.h5"), "--out", out],
            env=env, cwd="/", timeout=120, expect=2)
    assert p.stderr.startswith("bertology-report: ") and "nope.h5" in p.stderr


def test_scripts_run_without_installing(work):
    """analysis/report.py and probe.py find the package next to them (Python puts a script's
    directory first on sys.path); no PYTHONPATH needed."""
    for script in ("report.py", "probe.py"):
        p = run([sys.executable, os.path.join(SOURCE, "analysis", script), "--help"], env={"PYTHONPATH": None},
                cwd="/", timeout=120)
        assert "usage: bertology-" in p.stdout, p.stderr


def test_mypy(work):
    pkg = os.path.join(SOURCE, "analysis")
    p = run([sys.executable, "-m", "mypy", "--config-file", os.path.join(pkg, "pyproject.toml"),
             "--cache-dir", os.path.join(work, "mypy_cache"), "-p", "bertology_analysis"], cwd=pkg, timeout=600)
    assert "Success" in p.stdout


def test_public_api_is_annotated():
    """load_run and Run's public methods carry type hints (mypy checks them: test_mypy)."""
    import inspect

    from bertology_analysis import Run, load_run
    assert load_run.__annotations__.get("return") in (Run, "Run")
    missing = [name for name, fn in inspect.getmembers(Run, inspect.isfunction)
               if not name.startswith("_") and "return" not in fn.__annotations__]
    missing += [name for name, p in inspect.getmembers(Run, lambda o: isinstance(o, property))
                if not name.startswith("_") and "return" not in p.fget.__annotations__]
    assert not missing, "Run members without a return annotation: %s" % missing


def test_no_sys_path_edits():
    """Nothing puts the package on sys.path by hand: no edit at all in analysis/, the tests (their
    import path is tests/pytest.ini's, docs/testing.md), the job scripts and the docs, and none
    naming analysis anywhere else."""
    edit = re.compile(r"sys\.path\.(insert|append)|sys\.path\s*\+?=")
    strict = ("analysis", "tests", "jobs", "docs", "README.md")
    hits = []
    for d, dirs, names in os.walk(SOURCE):
        dirs[:] = [x for x in dirs if not x.startswith((".", "build")) and x != "data"]
        for n in names:
            f = os.path.join(d, n)
            rel = os.path.relpath(f, SOURCE)
            if not n.endswith((".py", ".md", ".sh", ".sbatch")) or rel == "tests/analysis/test_package.py":
                continue
            with open(f, encoding="utf-8", errors="replace") as fh:
                for k, line in enumerate(fh, 1):
                    if edit.search(line) and (rel.startswith(strict) or "analysis" in line):
                        hits.append("%s:%d: %s" % (rel, k, line.strip()))
    assert not hits, "sys.path edits:\n" + "\n".join(hits)
