#!/usr/bin/env python3
"""Every flag of every command that writes run.h5 is in the options JSON of run.h5 (issue 11:
one flag table is the source of parsing, --help and the JSON; --out alone is not stored, see
src/run/flags.c). The flags are read from each
command's --help, not from the table, and a few values given on the command line must come back
as given.

usage: check_flags_json.py BERTOLOGY SOURCE_DIR WORK_DIR"""
import json
import os
import re
import subprocess
import sys

import h5py

bertology, source, work = sys.argv[1:4]
model = os.path.join(source, "data", "demo-sst2")
glue = os.path.join(source, "data", "glue", "SST-2")
ud = os.path.join(source, "tests", "data", "ud", "en_ewt", "en_ewt-ud-dev.conllu")  # syntax's --task ud
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
failures = []


def key_of(flag):
    """The JSON key of a flag: --no-layer-norm stores layer_norm (true unless given)."""
    name = flag[3:] if flag.startswith("no-") else flag
    return name.replace("-", "_")


# values given on the command line and what the JSON must hold for them
given = {"max-output-gb": ("7.5", 7.5), "skip-bad-lines": (None, True), "subset": ("16", 16),
         "max-seq-length": ("64", 64), "no-token-norm": (None, False), "verbose": (None, True)}
extra = {"mask": ["--amount", "0.25", "--min-heads-per-layer", "1"], "syntax": ["--min-arcs", "5"]}
checked = 0
for cmd in ["importance", "eval", "mask", "ablate", "syntax"]:
    h = subprocess.run([bertology, cmd, "--help"], capture_output=True, text=True, env=env)
    flags = re.findall(r"^  --([a-z0-9-]+)", h.stdout, re.M)
    if h.returncode != 0 or len(flags) < 10:
        failures.append(f"{cmd} --help: exit {h.returncode}, {len(flags)} flags")
        continue
    out = os.path.join(work, cmd)
    task, data = ("ud", ud) if cmd == "syntax" else ("sst-2", glue)
    argv = [bertology, cmd, "--model", model, "--task", task, "--data", data, "--out", out,
            "--threads", "1", "--quiet"]
    for flag, (value, _) in given.items():
        if flag in flags:
            argv += ["--" + flag] + ([value] if value is not None else [])
    argv += extra.get(cmd, [])
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        failures.append(f"{cmd}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        continue
    with h5py.File(os.path.join(out, "run.h5"), "r") as f:
        opts = json.loads(f.attrs["options"])
    if opts.get("command") != cmd:
        failures.append(f"{cmd}: command = {opts.get('command')!r}")
    for flag in flags:
        if flag in ("help", "out"):  # --out: the directory run.h5 is in, deliberately not stored
            continue
        checked += 1
        if key_of(flag) not in opts:
            failures.append(f"{cmd}: --{flag} is not in the options JSON (key {key_of(flag)})")
        elif flag in given and opts[key_of(flag)] != given[flag][1]:
            failures.append(f"{cmd}: --{flag}: JSON {opts[key_of(flag)]!r}, given {given[flag][1]!r}")
    if cmd == "mask" and (opts.get("amount") != 0.25 or opts.get("min_heads_per_layer") != 1):
        failures.append(f"mask: amount/min_heads_per_layer not as given: {opts}")
    if cmd == "syntax" and opts.get("min_arcs") != 5:
        failures.append(f"syntax: min_arcs not as given: {opts}")

for m in failures:
    print("FAIL", m)
print(f"{checked} flags checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
