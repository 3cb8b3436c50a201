"""A head mask whose shape does not fit in a message buffer (issue 13's finding: a .npy with no
elements and seven dims of 1e18 overflowed the shape string of the head-mask check) is refused
with exit 2 and one line naming the file, for every command that takes --head-mask. Run under
the sanitizer build too (label sanitize): a write past the buffer fails there.
"""
import os

import pytest

from bttest import DEMO_MODEL, DEMO_SST2, bertology


@pytest.fixture(scope="module")
def mask(work):
    shape = "(0, " + ", ".join(["1000000000000000000"] * 7) + ")"  # 0 first: no overflow
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * pad + "\n"
    path = os.path.join(work, "huge_shape.npy")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
    return path


@pytest.mark.parametrize("cmd", ["eval", "importance"])
def test_refused_in_one_line(cmd, mask, work):
    extra = ["--out", os.path.join(work, "imp")] if cmd == "importance" else []
    r = bertology([cmd, "--model", DEMO_MODEL, "--task", "sst-2", "--data", DEMO_SST2, "--subset", "4",
                   "--threads", "1", "--quiet", "--head-mask", mask] + extra, expect=2, timeout=120)
    lines = r.stderr.strip().splitlines()
    # the shape is cut where the buffer ends, and the message says so ("...]")
    assert len(lines) == 1 and mask in lines[0] and "...]" in lines[0] and not r.stdout, r.report("not one line")
    print(f"{cmd}: {lines[0]}")
