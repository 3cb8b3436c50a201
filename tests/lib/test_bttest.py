"""The harness itself (tests/lib/bttest): what every other test relies on it for.

run() reports a wrong exit code with the command and both streams, and a timeout kills the
command's whole session, ranks of mpirun and processes in other process groups included;
same_h5() passes equal files and names the first difference of unequal ones; the check fixture
fails a test at its end with every failed check; a file whose tests were all skipped exits 77.
"""
import os
import sys
import time

import h5py
import numpy as np
import pytest

from bttest.proc import check_exit
from bttest import TIMEOUT_RC, Background, Checks, h5_differences, run, same_h5, session_members

HERE = os.path.dirname(os.path.abspath(__file__))


def gone(pid_file, within=10.0):
    """The process whose pid is in pid_file has ended (or is a zombie) within `within` s."""
    assert os.path.exists(pid_file), "%s: the process never started (a timeout too short for this load?)" % pid_file
    with open(pid_file) as f:
        pid = int(f.read())
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_run_output_and_exit_codes():
    r = run(["sh", "-c", "echo out; echo err >&2; exit 3"], expect=3)
    assert (r.returncode, r.stdout, r.stderr, r.timed_out) == (3, "out\n", "err\n", False)
    assert run(["cat"], input=b"\xffbytes").stdout == b"\xffbytes"
    assert run(["cat"], input="text").stdout == "text"
    assert run(["cat"]).stdout == "", "no input: stdin is /dev/null, nothing waits for it"
    assert run(["sh", "-c", "exit 2"], expect=(1, 2)).returncode == 2
    assert run(["sh", "-c", "exit 5"], expect=None).returncode == 5
    assert run(["sh", "-c", "echo $BT_X; echo ${HOME+set}"], env={"BT_X": 7, "HOME": None}).stdout == "7\n\n"


def test_run_failure_shows_command_and_streams():
    with pytest.raises(AssertionError) as e:
        run(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 1", "argv0"])
    msg = str(e.value)
    assert "exit 1, expected 0" in msg and "$ sh -c" in msg and "to-stdout" in msg and "to-stderr" in msg


def test_timeout_kills_the_session(work):
    """A child in a process group of its own that ignores SIGTERM (what mpirun's ranks are) is
    killed with the command."""
    pid_file = os.path.join(work, "child.pid")
    code = ("import os, signal, subprocess, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "c = subprocess.Popen(['sh', '-c', 'trap \"\" TERM; echo $$ > %s; exec sleep 60'], preexec_fn=os.setpgrp)\n"
            "time.sleep(60)\n" % pid_file)
    t0 = time.monotonic()
    r = run([sys.executable, "-c", code], timeout=8, expect=TIMEOUT_RC)
    assert r.timed_out and time.monotonic() - t0 < 40
    assert gone(pid_file), "the child outlived the timeout"
    with pytest.raises(AssertionError, match="timed out after 8 s"):
        check_exit(r, 0)
    assert not session_members(r.pid)


def test_mpirun_ranks_are_killed_at_the_timeout(work):
    r = run(["sh", "-c", "echo rank $OMPI_COMM_WORLD_RANK"], np=2)
    assert sorted(r.stdout.split("\n")[:-1]) == ["rank 0", "rank 1"]
    script = "echo $$ > %s/rank.$OMPI_COMM_WORLD_RANK; exec sleep 60" % work
    r = run(["sh", "-c", script], np=2, timeout=15, expect=TIMEOUT_RC)
    assert gone(os.path.join(work, "rank.0")) and gone(os.path.join(work, "rank.1"))
    assert not session_members(r.pid)


def test_background(work):
    with Background(["sh", "-c", "echo started; sleep 60"]) as bg:
        time.sleep(0.5)
        assert bg.poll() is None and bg.pid in bg.alive()
        r = bg.wait(timeout=1)
        assert r.timed_out and r.returncode == TIMEOUT_RC and r.stdout == "started\n"
    assert not session_members(r.pid)


def write_h5(path, value=1.0, created="now", extra_attr=None, every=30):
    with h5py.File(path, "w") as f:
        f.attrs["created"] = created
        f.attrs["options"] = '{"task": "sst-2", "checkpoint_every": %d}' % every
        f.attrs["task"] = "sst-2"
        f["examples/loss"] = np.array([0.5, value])
        f["examples/ids"] = np.arange(4, dtype=np.int32)
        if extra_attr:
            f["examples"].attrs[extra_attr] = 1
    return path


def test_same_h5(work):
    a = write_h5(os.path.join(work, "a.h5"))
    assert same_h5(a, write_h5(os.path.join(work, "b.h5"), created="later")) == 2, "created is volatile"
    c = write_h5(os.path.join(work, "c.h5"), value=1.0 + 2 ** -40)
    with pytest.raises(AssertionError, match="dataset /examples/loss differs"):
        same_h5(a, c)
    d = write_h5(os.path.join(work, "d.h5"), extra_attr="n_tokens")
    assert h5_differences(a, d) == ["attribute /examples@n_tokens differs: None vs 1"]
    with pytest.raises(AssertionError, match="attribute /@created differs"):
        same_h5(a, write_h5(os.path.join(work, "e.h5"), created="later"), ignore_attrs=())
    g = write_h5(os.path.join(work, "g.h5"), every=5)
    assert h5_differences(a, g) == ['attribute /@options differs: \'{"task": "sst-2", "checkpoint_every": 30}\' vs '
                                    '\'{"task": "sst-2", "checkpoint_every": 5}\'']
    same_h5(a, g, ignore_options=("checkpoint_every",))
    with h5py.File(os.path.join(work, "f.h5"), "w") as f:
        f.attrs["options"] = '{"task": "sst-2", "checkpoint_every": 30}'
        f.attrs["created"] = "now"
        f.attrs["task"] = "sst-2"
        f["examples/loss"] = np.array([0.5, 1.0], dtype=np.float32)
        f["examples/ids"] = np.arange(4, dtype=np.int32)
    assert h5_differences(a, os.path.join(work, "f.h5")) == [
        "dataset /examples/loss differs (float64 (2,) vs float32 (2,))"]


def test_checks_collect():
    c = Checks()
    assert c(True, "fine") and not c(False, "first") and not c(1 == 2, "second")
    with c.soft("soft"):
        assert False, "inside"
    assert not c.close("close", [1.0, 2.0], [1.0, 2.5], 0.1)
    assert c.failures[:2] == ["first", "second"] and c.failures[2].startswith("soft: inside")
    assert len(c.failures) == 4 and c.failures[3].startswith("close: max |diff| 0.5 > 0.1")


PLUGIN_TESTS = '''
import pytest

def test_soft(check):
    check(False, "one")
    check(True, "fine")
    check(False, "two")
    print("reached the end")

def test_fine(check):
    check(True, "fine")
'''


def pytest_on(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    lib = os.pathsep.join(os.path.join(HERE, "..", d) for d in ("lib", "ref", "text"))
    return run([sys.executable, "-m", "pytest", "-p", "bttest.plugin", "-p", "no:cacheprovider", "-q", path],
               env={"PYTHONPATH": lib}, cwd=work, expect=None)


def test_check_fixture_fails_the_test_at_its_end(work):
    r = pytest_on(work, "soft_checks.py", PLUGIN_TESTS)
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed" in r.stdout and "2 check(s) failed" in r.stdout
    assert "- one" in r.stdout and "- two" in r.stdout and "reached the end" in r.stdout


def test_all_skipped_exits_77(work):
    r = pytest_on(work, "all_skipped.py", "import pytest\n\ndef test_a():\n    pytest.skip('no daemon')\n")
    assert r.returncode == 77, r.stdout
    r = pytest_on(work, "some_skipped.py", "import pytest\n\ndef test_a():\n    pytest.skip('x')\n\n"
                                           "def test_b():\n    pass\n")
    assert r.returncode == 0, r.stdout
