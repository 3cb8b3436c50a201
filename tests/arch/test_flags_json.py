"""Every flag of every command that writes run.h5 is in the options JSON of run.h5 (issue 11:
one flag table is the source of parsing, --help and the JSON; --out alone is not stored, see
src/run/flags.c). The flags are read from each command's --help, not from the table, and a few
values given on the command line must come back as given.
"""
import os
import re

import pytest

from bttest import DEMO_MODEL, DEMO_SST2, UD_DEV, bertology, options


def key_of(flag):
    """The JSON key of a flag: --no-layer-norm stores layer_norm (true unless given)."""
    name = flag[3:] if flag.startswith("no-") else flag
    return name.replace("-", "_")


# values given on the command line and what the JSON must hold for them
GIVEN = {"max-output-gb": ("7.5", 7.5), "skip-bad-lines": (None, True), "subset": ("16", 16),
         "max-seq-length": ("64", 64), "no-token-norm": (None, False), "verbose": (None, True)}
EXTRA = {"mask": ["--amount", "0.25", "--min-heads-per-layer", "1"], "syntax": ["--min-arcs", "5"]}


@pytest.mark.parametrize("cmd", ["importance", "eval", "mask", "ablate", "syntax"])
def test_every_flag_in_options_json(cmd, work, check):
    h = bertology([cmd, "--help"])
    flags = re.findall(r"^  --([a-z0-9-]+)", h.stdout, re.M)
    assert len(flags) >= 10, "%s --help lists %d flags" % (cmd, len(flags))
    out = os.path.join(work, cmd)
    task, data = ("ud", UD_DEV) if cmd == "syntax" else ("sst-2", DEMO_SST2)  # syntax's --task ud
    argv = [cmd, "--model", DEMO_MODEL, "--task", task, "--data", data, "--out", out, "--threads", "1", "--quiet"]
    for flag, (value, _) in GIVEN.items():
        if flag in flags:
            argv += ["--" + flag] + ([value] if value is not None else [])
    bertology(argv + EXTRA.get(cmd, []))
    opts = options(os.path.join(out, "run.h5"))
    check(opts.get("command") == cmd, f"{cmd}: command = {opts.get('command')!r}")
    checked = 0
    for flag in flags:
        if flag in ("help", "out"):  # --out: the directory run.h5 is in, deliberately not stored
            continue
        checked += 1
        if check(key_of(flag) in opts, f"{cmd}: --{flag} is not in the options JSON (key {key_of(flag)})") \
                and flag in GIVEN:
            check(opts[key_of(flag)] == GIVEN[flag][1],
                  f"{cmd}: --{flag}: JSON {opts[key_of(flag)]!r}, given {GIVEN[flag][1]!r}")
    if cmd == "mask":
        check(opts.get("amount") == 0.25 and opts.get("min_heads_per_layer") == 1,
              f"mask: amount/min_heads_per_layer not as given: {opts}")
    if cmd == "syntax":
        check(opts.get("min_arcs") == 5, f"syntax: min_arcs not as given: {opts}")
    print(f"{cmd}: {checked} flags checked")
