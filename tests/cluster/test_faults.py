"""Output faults never hang and never leave a file that looks complete.

On a small tmpfs mounted by the test (root only; exit 77 = skipped otherwise), at np = 1, 2, 3,
with and without --save-attentions:

* too small from the start: rank 0 compares the size run.h5 will have with the free space of
  the file system and refuses before writing, naming both numbers; exit 2 on every rank, no
  file left behind;
* full in the middle (the space check passes, then another process takes the free space, at
  once while the pass writes its rows, or late, when the summary, the close or the .npy files
  are written): every rank ends within the time limit (no hang in HDF5's close), one message
  names the file and says "No space left on device" or the like, exit 1 or 2, and no run.h5
  exists; at np = 2, 3 also with --io collective (collective MPI-IO writes of the rows);
* other write faults at np = 2 with --save-attentions: a read-only file system (EROFS; from the
  start, since Linux refuses to remount a file system read-only while files on it are open for
  writing), and the output directory removed mid-pass (the open files live on; the checkpoint's
  sync and the final rename fail): the same guarantees, one message naming the file.
EIO is tested by tests/cluster/test_eio.py (a FUSE file system that fails on request).
"""
import os
import subprocess
import tempfile
import threading
import time

import h5py
import pytest

from bttest import DEMO_MODEL, SST2, bertology

LIMIT = 60  # seconds a failing run may take before it counts as a hang


class Tmpfs:
    def __init__(self, size_kb):
        self.d = tempfile.mkdtemp(prefix="bt-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % size_kb, "tmpfs", self.d],
                           capture_output=True, text=True)
        self.ok = r.returncode == 0
        self.why = r.stderr.strip()

    def close(self):
        subprocess.run(["umount", "-l", self.d], capture_output=True)
        os.rmdir(self.d)


def filler(fs, out_dir, stop, delay):
    """Once the run's temporary file exists (and delay seconds later), take every free byte of
    the file system."""
    while not stop.is_set():
        if os.path.isdir(out_dir) and any(f.startswith("run.h5.tmp") for f in os.listdir(out_dir)):
            stop.wait(delay)
            # every free block, until the file system refuses
            with open(os.path.join(fs, "filler"), "wb") as f:
                block = b"\0" * (1 << 16)
                try:
                    while True:
                        f.write(block)
                        f.flush()
                except OSError:
                    pass
            return
        time.sleep(0.005)


def run(np_, out, extra):
    p = bertology(["importance", "--model", DEMO_MODEL, "--task", "sst-2", "--data", SST2, "--out", out,
                   "--threads", "1", "--quiet"] + extra, np=np_, timeout=LIMIT, quiet_mpi=True, expect=None)
    return p, p.seconds


pytestmark = pytest.mark.usefixtures("blas_one_thread")


@pytest.fixture(scope="module", autouse=True)
def root():
    if os.getuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    fs = Tmpfs(64)
    ok, why = fs.ok, fs.why
    if ok:
        fs.close()
    else:
        pytest.skip("cannot mount a tmpfs here: %s" % why)


@pytest.mark.parametrize("attn", [False, True], ids=["no_attentions", "attentions"])
@pytest.mark.parametrize("np_", [1, 2, 3])
def test_too_small_from_the_start(np_, attn, check):
    """refused up front: 64 KiB cannot hold run.h5 (>= 100 KiB even without attentions)"""
    extra = ["--save-attentions"] if attn else []
    what = "with attentions" if attn else "without attentions"
    fs = Tmpfs(64)
    try:
        out = os.path.join(fs.d, "out")
        p, secs = run(np_, out, extra)
        msg = p.stderr.strip()
        check(p.returncode == 2, "np=%d %s, small fs: exit %d, want 2\n%s" % (np_, what, p.returncode, msg[-1500:]))
        check("free" in msg and "run.h5" in msg, "np=%d %s, small fs: message does not name the file "
              "and the free space: %r" % (np_, what, msg[-500:]))
        check(len([ln for ln in msg.splitlines() if "run.h5" in ln]) == 1,
              "np=%d %s, small fs: not one message: %r" % (np_, what, msg[-800:]))
        left = os.listdir(out) if os.path.isdir(out) else []
        check(not left, "np=%d %s, small fs: files left: %s" % (np_, what, left))
    finally:
        fs.close()


CASES = [(np_, attn, io, late) for attn in (False, True) for np_ in (1, 2, 3)
         for io, late in ((None, False), (None, True)) + (((("collective", False),)) if np_ > 1 else ())]


@pytest.mark.parametrize("np_,attn,io,late", CASES, ids=["np%d-%s%s-%s" % (c[0], "attentions" if c[1] else
                                                                            "no_attentions", "-collective" if c[2]
                                                                            else "", "late" if c[3] else "at_once")
                                                          for c in CASES])
def test_full_in_the_middle(np_, attn, io, late, check):
    """a 64 MiB tmpfs that another process fills once the run starts (or late); also with run.h5's
    rows in collective MPI-IO (every rank in every write)"""
    extra = (["--save-attentions"] if attn else []) + (["--io", io] if io else [])
    what = ("with attentions" if attn else "without attentions") + (", collective I/O" if io else "")
    full_in_the_middle(check, np_, extra, what, late)


@pytest.mark.parametrize("fault", ["read-only", "removed"])
def test_other_fault(fault, check):
    other_fault(check, 2, fault)


def other_fault(check, np_, fault):
    """A read-only file system, or the output directory removed once the tmp file exists (the
    pass is slowed to ~0.1 s a batch so that it is mid-pass)."""
    fs = Tmpfs(64 * 1024)
    out = os.path.join(fs.d, "out")
    stop = threading.Event()
    if fault == "read-only":
        os.makedirs(out)
        r = subprocess.run(["mount", "-o", "remount,ro", fs.d], capture_output=True, text=True)
        check(r.returncode == 0, "cannot remount the tmpfs read-only: %s" % r.stderr)

    def strike():
        while not stop.is_set() and fault == "removed":
            if os.path.isdir(out) and any(f.startswith("run.h5.tmp") for f in os.listdir(out)):
                time.sleep(0.3)
                subprocess.run(["rm", "-rf", out], capture_output=True)
                return
            time.sleep(0.005)
    th = threading.Thread(target=strike)
    os.environ["BT_TEST_BATCH_SECONDS"] = "0.1"
    try:
        th.start()
        p, secs = run(np_, out, ["--save-attentions", "--batch-tokens", "256", "--checkpoint-every", "0.2"])
        stop.set()
        th.join()
        msg = p.stderr.strip()
        ours = [ln for ln in msg.splitlines() if ln.startswith("bertology ")]
        check(p.returncode != 124, "np=%d %s: hung (killed after %d s)\n%s" % (np_, fault, LIMIT, msg[-1500:]))
        check(p.returncode in (1, 2), "np=%d %s: exit %d\n%s" % (np_, fault, p.returncode, msg[-1500:]))
        check(len(ours) == 1 and out in ours[0], "np=%d %s: want one message naming the file: %r" % (
            np_, fault, msg[-800:]))
        left = os.listdir(out) if os.path.isdir(out) else []
        check("run.h5" not in left, "np=%d %s: run.h5 exists: %s" % (np_, fault, left))
        print("np=%d %s: ended in %.1f s, exit %d: %s" % (np_, fault, secs, p.returncode,
                                                               ours[0][-120:] if ours else msg[-120:]))
    finally:
        os.environ.pop("BT_TEST_BATCH_SECONDS", None)
        stop.set()
        subprocess.run(["mount", "-o", "remount,rw", fs.d], capture_output=True)
        fs.close()


def clean_run_seconds(check, np_, extra):
    """Seconds from the temporary file's appearance to the end of a run with enough space."""
    fs = Tmpfs(64 * 1024)
    out = os.path.join(fs.d, "out")
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set() and not seen:
            if os.path.isdir(out) and any(f.startswith("run.h5.tmp") for f in os.listdir(out)):
                seen.append(time.time())
            time.sleep(0.005)
    th = threading.Thread(target=watch)
    try:
        th.start()
        p, _ = run(np_, out, extra)
        end = time.time()
        stop.set()
        th.join()
        check(p.returncode == 0, "np=%d: a run with enough space failed\n%s" % (np_, p.stderr[-1500:]))
        return end - seen[0] if seen else 0.0
    finally:
        stop.set()
        fs.close()


def full_in_the_middle(check, np_, extra, what, late):
    """late: the space goes most of the way through the run, when the last rows, the summary,
    the close or the .npy files are written. Where it lands varies with the machine's load, so
    a late fill may also miss the run (exit 0, complete run.h5) or hit the .npy files after the
    commit (exit 1, run.h5 complete and correct): what must always hold is no hang, and no
    run.h5 unless it is complete."""
    delay = 0.75 * clean_run_seconds(check, np_, extra) if late else 0.0
    what = "%s, filled %s" % (what, "late" if late else "at once")
    fs = Tmpfs(64 * 1024)
    stop = threading.Event()
    try:
        out = os.path.join(fs.d, "out")
        th = threading.Thread(target=filler, args=(fs.d, out, stop, delay))
        th.start()
        p, secs = run(np_, out, extra)
        stop.set()
        th.join()
        msg = p.stderr.strip()
        left = os.listdir(out) if os.path.isdir(out) else []
        check(p.returncode != 124, "np=%d %s: hung (killed after %d s)\n%s" % (np_, what, LIMIT, msg[-1500:]))
        check(p.returncode in ((0, 1, 2) if late else (1, 2)), "np=%d %s: exit %d\n%s" % (
            np_, what, p.returncode, msg[-1500:]))
        if p.returncode != 0:
            ours = [ln for ln in msg.splitlines() if ln.startswith("bertology ")]
            check(len(ours) == 1 and out in ours[0] and "space" in ours[0].lower(),
                  "np=%d %s: want one message naming the file and the full file system: %r" % (
                      np_, what, msg[-800:]))
        if "run.h5" in left:
            with h5py.File(os.path.join(out, "run.h5"), "r") as f:
                check(f.attrs["status"] == "complete", "np=%d %s: run.h5 left with status %r" % (
                    np_, what, f.attrs["status"]))
        check(not [f for f in left if f.startswith("run.h5.tmp")],
              "np=%d %s: temporary file left: %s" % (np_, what, left))
        print("np=%d %s: ended in %.1f s, exit %d: %s" % (
            np_, what, secs, p.returncode, msg.splitlines()[-1][-110:] if msg else ""))
    finally:
        stop.set()
        fs.close()
