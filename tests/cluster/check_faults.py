#!/usr/bin/python3
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
EIO is tested by tests/cluster/check_eio.py (a FUSE file system that fails on request).
"""
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "sweep"))
import common  # noqa: E402
from common import check  # noqa: E402

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


def run(args, np_, out, model, extra):
    argv = ["importance", "--model", model, "--task", "sst-2", "--data", args.sst2, "--out", out,
            "--threads", "1", "--quiet"] + extra
    t0 = time.time()
    p = common.mpirun(args, np_, argv, timeout=LIMIT, quiet=True)
    return p, time.time() - t0


def main():
    ap = common.parser(__doc__)
    ap.add_argument("--source", required=True)
    args = common.setup(ap.parse_args())
    if os.getuid() != 0:
        print("SKIP: mounting a small tmpfs needs root")
        return 77
    model = os.path.join(args.source, "data", "demo-sst2")
    for attn in (False, True):
        extra = ["--save-attentions"] if attn else []
        what = "with attentions" if attn else "without attentions"
        for np_ in (1, 2, 3):
            # 1. refused up front: 64 KiB cannot hold run.h5 (>= 100 KiB even without attentions)
            fs = Tmpfs(64)
            if not fs.ok:
                print("SKIP: cannot mount a tmpfs here: %s" % fs.why)
                return 77
            try:
                out = os.path.join(fs.d, "out")
                p, secs = run(args, np_, out, model, extra)
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

            # 2. full in the middle: a 64 MiB tmpfs that another process fills once the run starts
            for late in (False, True):
                full_in_the_middle(args, np_, model, extra, what, late)
            # the same with run.h5's rows in collective MPI-IO (every rank in every write)
            if np_ > 1:
                full_in_the_middle(args, np_, model, extra + ["--io", "collective"], what + ", collective I/O",
                                   False)
    for fault in ("read-only", "removed"):
        other_fault(args, 2, model, fault)
    return common.finish()


def other_fault(args, np_, model, fault):
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
        p, secs = run(args, np_, out, model, ["--save-attentions", "--batch-tokens", "256",
                                              "--checkpoint-every", "0.2"])
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


def clean_run_seconds(args, np_, model, extra):
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
        p, _ = run(args, np_, out, model, extra)
        end = time.time()
        stop.set()
        th.join()
        check(p.returncode == 0, "np=%d: a run with enough space failed\n%s" % (np_, p.stderr[-1500:]))
        return end - seen[0] if seen else 0.0
    finally:
        stop.set()
        fs.close()


def full_in_the_middle(args, np_, model, extra, what, late):
    """late: the space goes most of the way through the run, when the last rows, the summary,
    the close or the .npy files are written. Where it lands varies with the machine's load, so
    a late fill may also miss the run (exit 0, complete run.h5) or hit the .npy files after the
    commit (exit 1, run.h5 complete and correct): what must always hold is no hang, and no
    run.h5 unless it is complete."""
    delay = 0.75 * clean_run_seconds(args, np_, model, extra) if late else 0.0
    what = "%s, filled %s" % (what, "late" if late else "at once")
    fs = Tmpfs(64 * 1024)
    stop = threading.Event()
    try:
        out = os.path.join(fs.d, "out")
        th = threading.Thread(target=filler, args=(fs.d, out, stop, delay))
        th.start()
        p, secs = run(args, np_, out, model, extra)
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
            import h5py
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


if __name__ == "__main__":
    sys.exit(main())
