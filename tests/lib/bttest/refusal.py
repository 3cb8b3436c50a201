"""Bad input refused on every rank: the two runs every bad-input test makes of each case."""
import os

from .paths import BERTOLOGY
from .proc import run

RANK_RC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rank_rc.sh")


def refused(check, name, argv, out, words, code=2, np=3, timeout=60):
    """`bertology ARGV` (writing to out) under mpirun -np NP, twice, each under timeout:

    1. as a user runs it (mpirun -q: stderr is bertology's alone): exit code, stderr exactly one
       line "bertology CMD: ..." holding every one of words, nothing on stdout, no run.h5 (nor
       its tmp file) left in out;
    2. with each rank's own exit code recorded (rank_rc.sh) and mpirun told not to kill the
       other ranks when one fails (by default it does, which would hide a rank that never
       stops by itself): every rank exits code, and the same line is printed.
    Failures go to check (a bttest.Checks); returns the message line."""
    argv = [str(a) for a in argv]
    cmd = argv[0]
    p = run([BERTOLOGY] + argv, np=np, quiet_mpi=True, timeout=timeout, expect=None)
    lines = p.stderr.splitlines()
    check(p.returncode == code, "%s: exit %d, want %d (%.1f s)\n$ bertology %s\n%s" % (
        name, p.returncode, code, p.seconds, " ".join(argv), p.stderr[-2000:]))
    check(len(lines) == 1 and lines[0].startswith("bertology %s: " % cmd),
          "%s: stderr should be one 'bertology %s:' line, got %d:\n%s" % (name, cmd, len(lines), p.stderr[-2000:]))
    msg = lines[0] if lines else ""
    for word in words:
        check(word in msg, "%s: message %r does not mention %r" % (name, msg, word))
    left = os.listdir(out) if os.path.isdir(out) else []
    check(not any(f.startswith("run.h5") for f in left), "%s: left %s behind" % (name, left))
    check(p.stdout == "", "%s: printed on stdout: %r" % (name, p.stdout[:300]))

    rcdir = os.path.join(os.path.dirname(out.rstrip("/")), os.path.basename(out.rstrip("/")) + ".rc")
    os.makedirs(rcdir, exist_ok=True)
    for f in os.listdir(rcdir):
        os.remove(os.path.join(rcdir, f))
    p2 = run([RANK_RC, rcdir, BERTOLOGY] + argv, np=np, quiet_mpi=True, timeout=timeout, expect=None,
             mpi_args=["--mca", "orte_abort_on_non_zero_status", "0"])
    rcs = []
    for r in range(np):
        f = os.path.join(rcdir, "rank%d.rc" % r)
        rcs.append(int(open(f).read()) if os.path.exists(f) else None)
    check(rcs == [code] * np, "%s: rank exit codes %s, want %d on every rank" % (name, rcs, code))
    check(p2.stderr.splitlines() == lines, "%s: second run printed %r" % (name, p2.stderr))
    print("%-18s exit %d, ranks %s, %4.1f s: %s" % (name, p.returncode, rcs, max(p.seconds, p2.seconds), msg))
    return msg
