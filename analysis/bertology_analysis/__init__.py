"""Post-analysis of bertology runs (run.h5): numpy access, Clark et al. statistics, figures.

    from bertology_analysis import load_run, clark_stats, make_report
    run = load_run("out/run.h5")
    a = run.attention(0)                 # [Lsel, H, T, T] attention of example 0
    stats = clark_stats(run)             # {"cls": [L, H], "sep": ..., "distance": ...}
    make_report(["out/run.h5"], "out/report")

Needs numpy, h5py and matplotlib (Debian: python3-numpy python3-h5py python3-matplotlib).
"""
from .clark import STATS, clark_stats
from .experiments import ablation_matrices, masking_curve
from .make_report import make_report
from .run import Run, RunError, load_run
from .vocab import Vocab, load_vocab

__all__ = ["Run", "RunError", "STATS", "Vocab", "ablation_matrices", "clark_stats",
           "load_run", "load_vocab", "make_report", "masking_curve"]
