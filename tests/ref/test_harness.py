#!/usr/bin/python3
"""Checks compare_engine.py itself with fake_engine.py (torch_bert in float32):

- a correct float32 implementation passes every tolerance (they are achievable);
- each planted bug (fake_engine.py BT_FAKE_BUG) makes the comparison fail (they are tight
  enough to matter).
"""
import contextlib
import io
import os
import sys
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_engine  # noqa: E402

FAKE = os.path.join(HERE, "fake_engine.py")


def compare(only, bug=""):
    os.environ["BT_FAKE_BUG"] = bug
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = compare_engine.main(["--bertology", FAKE, "--only", only])
    os.environ.pop("BT_FAKE_BUG")
    return rc, buf.getvalue()


class TestHarness(unittest.TestCase):
    def test_correct_float32_passes(self):
        rc, out = compare("base,regress,pruned,packing")
        self.assertEqual(rc, 0, out)

    def test_planted_bugs_fail(self):
        for bug, only in (("gelu_tanh", "base"), ("entropy_log2", "base"),
                          ("grad_scale", "base"), ("types_ignored", "base"),
                          ("tok_noabs", "base"), ("pack", "packing")):
            with self.subTest(bug=bug):
                rc, out = compare(only, bug)
                self.assertEqual(rc, 1, out)
                self.assertIn("RESULT: FAIL", out)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main(verbosity=2)
