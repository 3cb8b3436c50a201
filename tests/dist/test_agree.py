"""Error agreement: a failure raised on some ranks only stops every rank with the same non-zero
code, rank 0 prints the lowest failing rank's message once, and nothing hangs (timeout 60).
Runs tests/tools/dist_check.c.
"""
import re

import pytest

from bttest import run, tool

BT_EINTERNAL, BT_EINPUT = 1, 2
MSG = "synthetic failure: data/dev.tsv:{}: label 'x' not in {{0, 1}}"

CASES = [  # np, failing ranks, exit code every rank agrees on, rank 0's one message, mode
    (4, "", 0, None, "agree"),
    (4, "2", BT_EINPUT, "rank 2: " + MSG.format(12), "agree"),
    (3, "2", BT_EINPUT, "rank 2: " + MSG.format(12), "agree"),
    (1, "0", BT_EINPUT, MSG.format(10), "agree"),
    (4, "0,1,2,3", BT_EINPUT, MSG.format(10) + " (4 ranks failed)", "agree"),
    # rank 3 fails with BT_EINTERNAL (1), rank 2 with BT_EINPUT (2): the larger code wins, the
    # message is the lowest failing rank's
    (4, "3", BT_EINTERNAL, "rank 3: " + MSG.format(13), "agree"),
    (4, "3,2", BT_EINPUT, "rank 2: " + MSG.format(12) + " (2 ranks failed)", "agree"),
    # an agreed error agreed on again (every rank now fails with it) keeps its one count
    (4, "3,2", BT_EINPUT, "rank 2: " + MSG.format(12) + " (2 ranks failed)", "agree2"),
    (3, "0,1,2", BT_EINPUT, MSG.format(10) + " (3 ranks failed)", "agree2"),
]


@pytest.mark.parametrize("np_,failing,want_code,want_msg,mode", CASES,
                         ids=["np%d-fail[%s]-%s" % (c[0], c[1], c[4]) for c in CASES])
def test_agreement(np_, failing, want_code, want_msg, mode):
    r = run([tool("dist_check"), mode, failing], np=np_, timeout=60, expect=None)
    assert not r.timed_out, r.report("a rank hangs")
    agreed = {int(m[0]): (int(m[1]), int(m[2]))
              for m in re.findall(r"^rank (\d+): local (-?\d+) agreed (-?\d+)$", r.stdout, re.M)}
    assert sorted(agreed) == list(range(np_)), r.report("not every rank reported")
    assert all(a == want_code for _, a in agreed.values()), r.report("ranks disagree")
    assert r.returncode == want_code, r.report("wrong exit code")
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("bertology: ")]
    if want_code == 0:
        assert not lines, r.report("a message without a failure")
    else:
        assert len(lines) == 1, r.report("rank 0 must print exactly one line")
        assert lines[0] == "bertology: " + want_msg, r.report("message %r != %r" % (lines[0], want_msg))
