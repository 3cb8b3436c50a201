#!/usr/bin/python3
"""analysis/probe.py: the layer probes without installing the package (the same as the installed
`bertology-probe` command; Python finds bertology_analysis next to this script).

    /usr/bin/python3 analysis/probe.py RUN.h5 [--test RUN2.h5] --out DIR

`--help` lists the options; bertology_analysis/cli.py has the code.
"""
import sys

from bertology_analysis.cli import probe_main

if __name__ == "__main__":
    sys.exit(probe_main())
