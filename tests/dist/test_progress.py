"""Progress output: in a log (not a terminal) rank 0 writes whole lines, one per interval, with
examples done / total, rates and ETA, then a final line with the exact totals; on a terminal it
redraws one line with '\\r'. Totals are recomputed here from the tool's length formula
(tests/tools/dist_check.c).
"""
import os
import pty
import re
import subprocess

from bttest import run, tool

N_EXAMPLES = 97


def total_tokens():
    s, t = 2024, 0
    for _ in range(N_EXAMPLES):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        t += 1 + (s >> 8) % 40
    return t


LIVE = re.compile(r"^fake: ~(\d+)/97 examples \((\d+)%\), ~(\d+) tokens, (\d+) ex/s, (\d+) tok/s, "
                  r"ETA (\d+:\d\d|\?)$")


def final_re(n_ranks):
    return re.compile(rf"^fake: 97 examples, {total_tokens()} tokens in [\d.]+ s: \d+ ex/s, \d+ tok/s; "
                      rf"{n_ranks} ranks?, busy max/mean [\d.]+, peak RSS max \d+ MiB$")


def test_log():
    r = run([tool("dist_check"), "progress"], np=2, timeout=60)
    lines = r.stderr.splitlines()
    assert "\r" not in r.stderr and "\033" not in r.stderr, "terminal codes in a log"
    live = [LIVE.match(ln) for ln in lines[:-1]]
    assert live and all(live), f"bad progress lines:\n{r.stderr}"
    pct = [int(m[2]) for m in live]
    ex = [int(m[1]) for m in live]
    assert pct == sorted(pct) and ex == sorted(ex) and ex[-1] <= N_EXAMPLES, r.stderr
    assert final_re(2).match(lines[-1]), f"bad final line: {lines[-1]!r}"
    # rank 1 is silent: exactly one final line
    assert sum(ln.startswith("fake: 97 examples") for ln in lines) == 1, r.stderr


def test_terminal():
    # Without mpirun (MPI singleton): under mpirun the ranks' stderr is a pipe, never a terminal.
    master, slave = pty.openpty()
    r = subprocess.run(["timeout", "60", tool("dist_check"), "progress"], stderr=slave, stdout=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert r.returncode == 0, out
    text = out.decode()
    frames = [f.replace("\033[K", "") for f in text.replace("\r\n", "\n").split("\r") if f]
    assert len(frames) >= 2, f"expected a redrawn line, got {text!r}"
    assert all(LIVE.match(f) for f in frames[:-1]), frames
    assert final_re(1).match(frames[-1].rstrip("\n")), frames[-1]
    assert text.count("\n") == 1, "a terminal gets one line, ended once"
