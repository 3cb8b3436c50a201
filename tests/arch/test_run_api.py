"""A whole importance run through the library (tests/tools/run_importance_lib.c, no CLI) gives
the same run.h5 and .npy files as `bertology importance`, bitwise, at np = 2 (compare_runs.py:
every group with h5diff, every root attribute but the run's own, the options key by key)."""
import os

import compare_runs
from bttest import DEMO_MODEL, DEMO_SST2, bertology, run, tool


def test_library_run_equals_cli(work):
    cli, lib = os.path.join(work, "cli"), os.path.join(work, "lib")
    bertology(["importance", "--model", DEMO_MODEL, "--task", "sst-2", "--data", DEMO_SST2, "--out", cli,
               "--threads", "1", "--quiet", "--save-attentions"], np=2)
    run([tool("run_importance_lib"), DEMO_MODEL, DEMO_SST2, lib, "--save-attentions"], np=2)
    bad = compare_runs.differences(cli, lib)
    assert not bad, "library run vs CLI run:\n" + "\n".join(bad)
    print("compared %d files: equal" % len(os.listdir(cli)))
