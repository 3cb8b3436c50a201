"""Checks that do not stop the test: every failure is collected and the test fails at its end,
listing them all (the `check` fixture of bttest.plugin)."""
import contextlib

import numpy as np

from .h5 import max_diff


class Checks:
    """check(cond, what) records a failure unless cond; returns bool(cond).

    verbose: print "ok   what" for passing checks too (for tests whose output is a record of
    what was measured); failures always print "FAIL what" when they happen."""

    def __init__(self, verbose=False):
        self.failures = []
        self.verbose = verbose

    def __call__(self, cond, what):
        if cond:
            if self.verbose:
                print("ok   " + what, flush=True)
        else:
            self.failures.append(what)
            print("FAIL " + what, flush=True)
        return bool(cond)

    @contextlib.contextmanager
    def soft(self, what=""):
        """An AssertionError inside the block is recorded as a failure and the test goes on:
            with check.soft("np=3"): same_h5(a, b)"""
        try:
            yield
        except AssertionError as e:
            self(False, ("%s: %s" % (what, e)) if what else str(e))

    def close(self, name, got, want, tol):
        """|got - want| <= tol everywhere (and the same shape); prints the largest difference."""
        d = max_diff(got, want)
        print("  %-40s max |diff| %.3g (tol %.1g)" % (name, d, tol))
        return self(d <= tol, "%s: max |diff| %.3g > %.3g (shapes %s, %s)" % (name, d, tol, np.shape(got),
                                                                            np.shape(want)))

    def summary(self):
        n = len(self.failures)
        return "%d check(s) failed:\n%s" % (n, "\n".join("  - " + f for f in self.failures))
