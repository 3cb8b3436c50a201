"""An I/O error (EIO) in the middle of a run never hangs and never leaves a file that looks
complete.

The output directory lives on tests/tools/fuse/eio_fs.c, a FUSE file system that passes every
call through to a backing directory until the test creates BACKING/.eio; from then on it fails
with EIO, as a disk that went bad would. The failure starts once the run's temporary file
exists and at least one batch is done (its rows written and its journal record saved; batches
are slowed to 0.1 s with BT_TEST_BATCH_SECONDS so that the run is mid-pass), in these kinds:

* "all": every write, create, rename, unlink, fsync and close fails (reads keep working);
* "sync": writes succeed, fsync and close fail (a write-back failure), so the error reaches
  the program first in a checkpoint's sync (`--checkpoint-every 0.2`: the journals' fsync,
  run.h5's flush, state.json's write) or, at the default interval, at the end (the .npy
  files' fsync, before the commit; the abort must not close run.h5 again);
* "sync run.h5.tmp": the same for run.h5's tmp file only: with `--checkpoint-every 0.2` the
  sync's H5Fflush (MPI_File_sync) fails; at the default interval the .npy files are written,
  then the commit's close fails after the status "complete" was written (HDF5 cannot undo a
  failed close: it would close the file again inside MPI_Finalize, crash);
* "sync state.json": the same for state.json.tmp only, with `--checkpoint-every 0.2`: the
  sync's last step, rank 0 writing the state, fails;
* "fsync": only fsync fails, in eval (which writes predictions.tsv, no .npy files, whose fsync
  would fail first) at the default interval: the commit's fsync of the tmp file, already
  marked complete, fails (that file must not be left looking complete).

At np = 1, 2, 3, with and without --save-attentions, each of these (and eval with "sync", for
predictions.tsv's message): the run ends within the time limit, exit 1 or 2, one line starting
with "bertology " names a file under the output directory and says "Input/output error", and
no run.h5 exists (a leftover run.h5.tmp-* is not marked complete). Skipped (exit 77) where
eio_fs was not built (no libfuse3) or cannot mount (no /dev/fuse, no privilege).
"""
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time

import h5py
import pytest

from bttest import DEMO_MODEL, SST2, bertology, tool

LIMIT = 60  # seconds a failing run may take before it counts as a hang


class EioFs:
    """eio_fs mounted on a temporary directory, backed by another."""

    def __init__(self, exe, work):
        self.back = tempfile.mkdtemp(prefix="eio-back-", dir=work)
        self.mnt = tempfile.mkdtemp(prefix="eio-mnt-", dir=work)
        self.log = open(self.mnt + ".log", "w")
        self.proc = subprocess.Popen([exe, self.back, self.mnt], stdout=self.log, stderr=self.log)
        self.ok, self.why = False, ""
        for _ in range(500):
            if os.path.ismount(self.mnt):
                self.ok = True
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        self.log.flush()
        with open(self.log.name) as f:
            said = f.read().strip()
        rc = self.proc.poll()
        self.why = ("eio_fs did not mount within 5 s" if rc is None else "eio_fs exited with status %d" % rc) + (
            ": " + said.splitlines()[-1] if said else "")

    def fail(self, kind):
        """From now on the file system answers EIO (kind: a key of KINDS)."""
        # written aside and renamed: eio_fs must never see an empty .eio (that means "all")
        tmp = os.path.join(self.back, ".eio.tmp")
        with open(tmp, "w") as f:
            f.write(kind)
        os.rename(tmp, os.path.join(self.back, ".eio"))

    def close(self):
        if os.path.ismount(self.mnt):
            r = subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.rmdir(self.mnt)
        shutil.rmtree(self.back)


def mid_pass(out):
    """True once the tmp file exists and some rank has saved a batch (its rows are written)."""
    if not glob.glob(os.path.join(out, "run.h5.tmp-*")):
        return False
    try:
        return any(os.path.getsize(j) > 0 for j in glob.glob(os.path.join(out, "checkpoint", "journal-*")))
    except OSError:  # the run ended and removed its checkpoint meanwhile
        return False


KINDS = {"all": "EIO on everything", "sync": "EIO on fsync/close", "fsync": "EIO on fsync",
         "sync run.h5.tmp": "EIO on run.h5's fsync/close", "sync state.json": "EIO on state.json's fsync/close"}


def run_one(check, fs, np_, attn, kind, every, cmd):
    what = "%s np=%d %s, %s%s" % (cmd, np_, "with attentions" if attn else "without attentions", KINDS[kind],
                                  ", --checkpoint-every 0.2" if every else "")
    out = os.path.join(fs.mnt, "out")
    back_out = os.path.join(fs.back, "out")  # the same directory, not through the mount
    stop = threading.Event()
    struck = []

    def strike():
        while not stop.is_set():
            if mid_pass(back_out):
                fs.fail(kind)
                struck.append(time.time())
                return
            time.sleep(0.005)
    th = threading.Thread(target=strike)
    argv = [cmd, "--model", DEMO_MODEL, "--task", "sst-2", "--data", SST2, "--out", out,
            "--threads", "1", "--quiet", "--batch-tokens", "256"]
    argv += ["--save-attentions"] if attn else []
    argv += ["--checkpoint-every", "0.2"] if every else []
    th.start()
    try:
        t0 = time.time()
        p = bertology(argv, np=np_, timeout=LIMIT, quiet_mpi=True, expect=None, env={"BT_TEST_BATCH_SECONDS": "0.1"})
        end = time.time()
    finally:
        stop.set()
        th.join()
    msg = p.stderr.strip()
    ours = [ln for ln in msg.splitlines() if ln.startswith("bertology ")]
    left = os.listdir(back_out) if os.path.isdir(back_out) else []
    check(struck, "%s: the run ended before the fault was injected (exit %d)\n%s" % (what, p.returncode, msg[-800:]))
    check(p.returncode != 124, "%s: hung (killed after %d s)\n%s" % (what, LIMIT, msg[-1500:]))
    check(p.returncode in (1, 2), "%s: exit %d, want 1 or 2\n%s" % (what, p.returncode, msg[-1500:]))
    check(len(ours) == 1, "%s: want exactly one message, got %d: %r" % (what, len(ours), msg[-800:]))
    if ours:
        check(out + "/" in ours[0] and "input/output error" in ours[0].lower(),
              "%s: the message does not name a file under %s and the I/O error: %r" % (what, out, ours[0]))
        check(ours[0].count("ranks failed") <= 1, "%s: failed ranks counted twice: %r" % (what, ours[0]))
    check("run.h5" not in left, "%s: run.h5 exists: %s" % (what, left))
    for t in [f for f in left if f.startswith("run.h5.tmp")]:
        status = tmp_status(os.path.join(back_out, t))
        check(status != "complete", "%s: %s is marked complete" % (what, t))
    first = os.path.join(fs.back, ".eio-first")  # when eio_fs gave its first EIO
    met = float(open(first).read()) if os.path.exists(first) else float("nan")
    check(met == met, "%s: eio_fs never failed a call" % what)
    print("%s: ended %.2f s after the first EIO (%.2f s after the fault began, %.1f s in all), exit %d: %s" % (
        what, end - met, end - struck[0] if struck else float("nan"), end - t0, p.returncode,
        (ours[0] if ours else msg[-200:])[-160:]), flush=True)


def tmp_status(path):
    """The tmp file's status attribute, or None when it cannot be read (a half-written file)."""
    try:
        with h5py.File(path, "r") as f:
            s = f.attrs.get("status")
            return s.decode() if isinstance(s, bytes) else s
    except Exception:  # noqa: BLE001 - any damage means it does not look complete
        return None


@pytest.fixture(scope="module")
def eio_fs(work):
    """eio_fs, or the reason the tests are skipped (exit 77)."""
    try:
        exe = tool("eio_fs")
    except AssertionError:
        pytest.skip("eio_fs was not built (libfuse3 not found by pkg-config: apt-get install libfuse3-dev fuse3)")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse here")
    if not shutil.which("fusermount3"):
        pytest.skip("fusermount3 not found (Debian package fuse3)")
    fs = EioFs(exe, work)
    ok, why = fs.ok, fs.why
    fs.close()
    if not ok:
        pytest.skip("cannot mount eio_fs here: %s" % why)
    return exe


CASES = [(np_, attn, kind, every, cmd) for np_ in (1, 2, 3) for attn in (False, True)
         for kind, every, cmd in (("all", False, "importance"), ("all", True, "importance"),
                                  ("sync", False, "importance"), ("sync", True, "importance"),
                                  ("sync run.h5.tmp", False, "importance"), ("sync run.h5.tmp", True, "importance"),
                                  ("sync state.json", True, "importance"),
                                  ("sync", False, "eval"), ("fsync", False, "eval"))]


@pytest.mark.parametrize("np_,attn,kind,every,cmd", CASES, ids=[
    "np%d-%s-%s-%s%s" % (c[0], "attentions" if c[1] else "no_attentions", c[2].replace(" ", "_"), c[4],
                         "-every0.2" if c[3] else "") for c in CASES])
def test_eio_mid_pass(np_, attn, kind, every, cmd, eio_fs, work, check, blas_one_thread):
    fs = EioFs(eio_fs, work)
    try:
        assert fs.ok, "cannot mount eio_fs: %s" % fs.why
        run_one(check, fs, np_, attn, kind, every, cmd)
    finally:
        fs.close()
