"""Running programs: one call that checks the exit code, says what happened when it is not the
expected one, and never hangs.

Every command starts in a session of its own. At a timeout the whole session goes: SIGTERM to
the command (mpirun forwards it to its ranks), then SIGKILL to every process left in the
session. Killing the command's process group is not enough: Open MPI puts each rank in a
process group of its own, but they stay in mpirun's session.
"""
import os
import shlex
import signal
import subprocess
import tempfile
import time

from .paths import BERTOLOGY, MPIEXEC

SHOWN = 6000  # characters of stdout and of stderr a failure shows (the end of each)
TIMEOUT_RC = 124  # the exit code of a command that timed out, as timeout(1) gives it


class Result:
    """A finished command: argv, returncode, stdout, stderr (str, or bytes when run on bytes),
    timed_out, seconds, pid (its session's id too)."""

    def __init__(self, argv, returncode, stdout, stderr, timed_out=False, seconds=0.0, pid=None):
        self.argv, self.returncode, self.pid = argv, returncode, pid
        self.stdout, self.stderr = stdout, stderr
        self.timed_out, self.seconds = timed_out, seconds
        self.timeout = None  # the limit it ran under

    @property
    def cmd(self):
        return shlex.join(self.argv)

    def report(self, why):
        def tail(s):
            if isinstance(s, bytes):
                s = s.decode("utf-8", "replace")
            s = s or ""
            return s if len(s) <= SHOWN else "[... %d characters]\n%s" % (len(s) - SHOWN, s[-SHOWN:])
        return "%s\n$ %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (why, self.cmd, tail(self.stdout),
                                                                    tail(self.stderr))

    def __repr__(self):
        return "Result(%s, exit %d%s)" % (self.cmd, self.returncode, ", timed out" if self.timed_out else "")


def mpirun_prefix(np, quiet=False, mpi_args=()):
    """mpirun -np NP, oversubscribing (tests run more ranks than the machine has cores), and
    allowed to run as root (CI runs as root)."""
    argv = [MPIEXEC, "--oversubscribe"]
    if os.geteuid() == 0:
        argv.append("--allow-run-as-root")
    if quiet:
        argv.append("-q")  # no "Primary job terminated ..." banner: stderr is the program's alone
    return argv + [str(a) for a in mpi_args] + ["-np", str(np)]


def environment(env=None):
    """os.environ with env applied; a value of None removes the variable."""
    out = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = str(v)
    return out


def session_members(sid):
    """The live processes of session sid (from /proc; zombies excluded)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != "Z":  # stat field 6: the session id
                pids.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def end_session(proc, grace=5.0):
    """SIGTERM to proc, then SIGKILL to whatever is left of its session; waits for proc."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    for pid in session_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait()


def _expected(rc, expect):
    if expect is None:
        return True
    if isinstance(expect, int):
        return rc == expect
    return rc in expect


def check_exit(result, expect):
    """AssertionError with the command, stdout and stderr unless the exit code is expected."""
    if not _expected(result.returncode, expect):
        why = ("timed out after %g s (its session was killed)" % result.timeout if result.timed_out
               else "exit %d, expected %s" % (result.returncode, expect))
        raise AssertionError(result.report(why))
    return result


def _argv(argv, np, quiet_mpi, mpi_args):
    argv = [str(a) for a in argv]
    return mpirun_prefix(np, quiet_mpi, mpi_args) + argv if np is not None else argv


def run(argv, np=None, expect=0, timeout=600, input=None, env=None, cwd=None, text=None,
        quiet_mpi=False, mpi_args=()):
    """Runs argv (under mpirun -np NP when np is given) and returns its Result.

    expect: the exit code that passes (an int, a collection of ints, or None for any); any
    other raises AssertionError showing the command, stdout and stderr. timeout: seconds
    before the command's whole session is killed (exit code 124). input: stdin (str, or bytes:
    then stdout and stderr are bytes too); none given, stdin is /dev/null. env: variables to
    set (None removes one)."""
    argv = _argv(argv, np, quiet_mpi, mpi_args)
    if text is None:
        text = not isinstance(input, (bytes, bytearray))
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(env), cwd=cwd,
                            start_new_session=True, text=text,
                            **({"encoding": "utf-8", "errors": "replace"} if text else {}))
    timed_out = False
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        end_session(proc)
        out, err = proc.communicate()
    result = Result(argv, TIMEOUT_RC if timed_out else proc.returncode, out, err, timed_out,
                    time.monotonic() - t0, proc.pid)
    result.timeout = timeout
    return check_exit(result, expect)


def bertology(argv, **kw):
    """run() of the bertology program under test: bertology(["importance", ...], np=2)."""
    return run([BERTOLOGY] + list(argv), **kw)


class Background:
    """A command running while the test does something else (polls files, sends signals).

    Its own session; stdout and stderr go to temporary files (no pipe to fill up). Used as a
    context manager, whatever is left of its session is killed at the end."""

    def __init__(self, argv, np=None, env=None, cwd=None, quiet_mpi=False, mpi_args=()):
        self.argv = _argv(argv, np, quiet_mpi, mpi_args)
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                                     env=environment(env), cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid

    def poll(self):
        return self.proc.poll()

    def signal(self, sig):
        """Sends sig to the command alone (mpirun decides what its ranks get)."""
        os.kill(self.pid, sig)

    def alive(self):
        """The processes of its session still running (the command, ranks it left behind)."""
        return session_members(self.pid)

    def end(self):
        end_session(self.proc)

    def wait(self, timeout=600, expect=None):
        """Waits for the command (its session is killed after timeout s: exit 124); its Result."""
        timed_out = False
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self.end()
        out = []
        for f in (self._out, self._err):
            f.seek(0)
            out.append(f.read().decode("utf-8", "replace"))
        result = Result(self.argv, TIMEOUT_RC if timed_out else self.proc.returncode, out[0], out[1], timed_out,
                        time.monotonic() - self.t0, self.pid)
        result.timeout = timeout
        return check_exit(result, expect)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.poll() is None or self.alive():
            self.end()
        self._out.close()
        self._err.close()
