#!/usr/bin/env python3
"""A head mask whose shape does not fit in a message buffer (issue 13's finding: a .npy with no
elements and seven dims of 1e18 overflowed the shape string of the head-mask check) is refused
with exit 2 and one line naming the file, for every command that takes --head-mask. Run under
the sanitizer build too (label sanitize): a write past the buffer fails there.

usage: check_head_mask_shape.py BERTOLOGY SOURCE_DIR WORK_DIR"""
import os
import subprocess
import sys

bertology, source, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
model = os.path.join(source, "data", "demo-sst2")
glue = os.path.join(source, "data", "glue", "SST-2")
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

shape = "(0, " + ", ".join(["1000000000000000000"] * 7) + ")"  # 0 first: no overflow
header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
pad = 64 - (10 + len(header) + 1) % 64
header = header + " " * pad + "\n"
mask = os.path.join(work, "huge_shape.npy")
with open(mask, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())

failures = []
for cmd, extra in [("eval", []), ("importance", ["--out", os.path.join(work, "imp")])]:
    r = subprocess.run([bertology, cmd, "--model", model, "--task", "sst-2", "--data", glue, "--subset", "4",
                        "--threads", "1", "--quiet", "--head-mask", mask] + extra,
                       capture_output=True, text=True, env=env, timeout=120)
    lines = r.stderr.strip().splitlines()
    # the shape is cut where the buffer ends, and the message says so ("...]")
    if r.returncode != 2 or len(lines) != 1 or mask not in lines[0] or "...]" not in lines[0] or r.stdout:
        failures.append(f"{cmd}: exit {r.returncode}, stderr {r.stderr!r}, stdout {r.stdout[:200]!r}")
    else:
        print(f"{cmd}: {lines[0]}")
for m in failures:
    print("FAIL", m)
sys.exit(1 if failures else 0)
