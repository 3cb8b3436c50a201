"""Ordered reduction: bitwise identical sums for np = 1..4, equal to an independent Python
re-implementation of the batch plan summed in batch order, on values whose float sum depends
on the order of addition. Runs tests/tools/dist_check.c.
"""
import math
import os

from bttest import run, tool

N_EXAMPLES, BATCH_TOKENS, K = 97, 64, 5
M32 = 0xFFFFFFFF


def lengths():
    s, out = 2024, []
    for _ in range(N_EXAMPLES):
        s = (s * 1664525 + 1013904223) & M32
        out.append(1 + (s >> 8) % 40)
    return out


def plan(lens):
    """Longest first (ties by index), greedy cut at BATCH_TOKENS: a list of example lists."""
    order = sorted(range(len(lens)), key=lambda i: (-lens[i], i))
    batches, cur, tok = [], [], 0
    for i in order:
        if cur and tok + lens[i] > BATCH_TOKENS:
            batches.append(cur)
            cur, tok = [], 0
        cur.append(i)
        tok += lens[i]
    batches.append(cur)
    return batches


def value(b, k):
    if k == 0:
        return (1e16, 1.0, -1e16)[b % 3]
    if k == 1:
        s = (77 + 2654435761 * b) & M32
        s ^= s >> 13
        m = 1.0 + (s % 1000) / 1000.0
        return (-1.0 if s & 1 else 1.0) * math.ldexp(m, (s >> 10) % 60 - 30)
    if k == 2:
        return 0.1 * (b + 1)
    if k == 3:
        return float(b + 1)
    return 1.0 if b == 0 else 1e-17


def in_order(nb, k, order):
    acc = 0.0
    for b in order:
        acc += value(b, k)
    return acc


def test_reduce_bitwise(work):
    outputs = {}
    for np_ in (1, 2, 3, 4):
        path = os.path.join(work, f"reduce_np{np_}.txt")
        run([tool("dist_check"), "reduce", path], np=np_, timeout=60)
        with open(path) as f:
            outputs[np_] = f.read()

    base = outputs[1]
    for np_, text in outputs.items():
        assert text == base, f"np={np_} differs from np=1:\n{text}\nvs\n{base}"

    lines = base.split("\n")
    batches = plan(lengths())
    nb = len(batches)
    assert lines[0] == f"batches {nb}", (lines[0], nb)
    got = {int(ln.split()[1]): float.fromhex(ln.split()[2]) for ln in lines[1:] if ln.startswith("sum")}
    for k in range(K):
        want = in_order(nb, k, range(nb))
        assert got[k].hex() == want.hex(), f"sum {k}: got {got[k].hex()}, expected {want.hex()} (batch order)"

    # The values really are order-sensitive: other orders give other bits, so identical output
    # across np is evidence of ordering, not luck.
    rev = [in_order(nb, k, reversed(range(nb))) for k in range(K)]
    for k in (1, 2, 4):
        assert rev[k] != got[k], f"sum {k} is not order-sensitive"
    for k in (0, 4):  # the exact sum differs from any left-to-right one: 1 vanishes next to 1e16
        assert math.fsum(value(b, k) for b in range(nb)) != got[k], f"sum {k} is exact"
    print(f"{nb} batches, sums bitwise identical for np=1..4 and equal to the batch-order sum")
