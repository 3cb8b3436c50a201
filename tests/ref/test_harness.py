"""Checks compare_engine.py itself with fake_engine.py (torch_bert in float32):

- a correct float32 implementation passes every tolerance (they are achievable);
- each planted bug (fake_engine.py BT_FAKE_BUG) makes the comparison fail (they are tight
  enough to matter).
"""
import os

import pytest

import compare_engine

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_engine.py")


def compare(only, root, bug=""):
    """compare_engine's verdict on fake_engine.py with bug planted (BT_FAKE_BUG)."""
    os.environ["BT_FAKE_BUG"] = bug
    try:
        return compare_engine.run_all(only.split(","), root, compare_engine.Engine(FAKE))
    finally:
        os.environ.pop("BT_FAKE_BUG")


def test_correct_float32_passes(work):
    assert compare("base,regress,pruned,packing", os.path.join(work, "correct")), "a correct float32 engine failed"


@pytest.mark.parametrize("bug,only", [("gelu_tanh", "base"), ("entropy_log2", "base"), ("grad_scale", "base"),
                                      ("types_ignored", "base"), ("tok_noabs", "base"), ("pack", "packing")])
def test_planted_bugs_fail(bug, only, work):
    assert not compare(only, os.path.join(work, bug), bug), "the comparison missed the planted bug %s" % bug
