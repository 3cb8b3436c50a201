#!/usr/bin/python3
"""Error agreement: a failure raised on some ranks only stops every rank with the same non-zero
code, rank 0 prints the lowest failing rank's message once, and nothing hangs (timeout 60).

usage: check_agree.py MPIEXEC DIST_CHECK
"""
import re
import subprocess
import sys

BT_EINTERNAL, BT_EINPUT = 1, 2


def run(np_, failing, mode="agree"):
    cmd = ["timeout", "60", sys.argv[1], "--oversubscribe", "--allow-run-as-root", "-np", str(np_),
           sys.argv[2], mode, failing]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 124:
        sys.exit(f"np={np_} failing={failing}: timed out (a rank hangs)")
    agreed = {int(m[0]): (int(m[1]), int(m[2]))
              for m in re.findall(r"^rank (\d+): local (-?\d+) agreed (-?\d+)$", r.stdout, re.M)}
    return r, agreed


def check(np_, failing, want_code, want_msg, mode="agree"):
    r, agreed = run(np_, failing, mode)
    ctx = f"np={np_} failing={failing!r}: exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert sorted(agreed) == list(range(np_)), "not every rank reported\n" + ctx
    assert all(a == want_code for _, a in agreed.values()), "ranks disagree\n" + ctx
    assert r.returncode == want_code, "wrong exit code\n" + ctx
    lines = [l for l in r.stderr.splitlines() if l.startswith("bertology: ")]
    if want_code == 0:
        assert not lines, ctx
    else:
        assert len(lines) == 1, "rank 0 must print exactly one line\n" + ctx
        assert lines[0] == "bertology: " + want_msg, f"message {lines[0]!r} != {want_msg!r}\n" + ctx


def main():
    msg = "synthetic failure: data/dev.tsv:{}: label 'x' not in {{0, 1}}"
    check(4, "", 0, None)
    check(4, "2", BT_EINPUT, "rank 2: " + msg.format(12))
    check(3, "2", BT_EINPUT, "rank 2: " + msg.format(12))
    check(1, "0", BT_EINPUT, msg.format(10))
    check(4, "0,1,2,3", BT_EINPUT, msg.format(10) + " (4 ranks failed)")
    # rank 3 fails with BT_EINTERNAL (1), rank 2 with BT_EINPUT (2): the larger code wins, the
    # message is the lowest failing rank's
    check(4, "3", BT_EINTERNAL, "rank 3: " + msg.format(13))
    check(4, "3,2", BT_EINPUT, "rank 2: " + msg.format(12) + " (2 ranks failed)")
    # an agreed error agreed on again (every rank now fails with it) keeps its one count
    check(4, "3,2", BT_EINPUT, "rank 2: " + msg.format(12) + " (2 ranks failed)", "agree2")
    check(3, "0,1,2", BT_EINPUT, msg.format(10) + " (3 ranks failed)", "agree2")
    print("ok: errors on some ranks reach every rank with one code and one message; no hang")


if __name__ == "__main__":
    main()
