#!/usr/bin/python3
"""analysis/report.py: the report without installing the package (the same as the installed
`bertology-report` command; Python finds bertology_analysis next to this script).

    /usr/bin/python3 analysis/report.py OUT/run.h5 [MORE/run.h5 ...] --out OUT/report

`--help` lists the options; bertology_analysis/cli.py has the code.
"""
import sys

from bertology_analysis.cli import report_main

if __name__ == "__main__":
    sys.exit(report_main())
