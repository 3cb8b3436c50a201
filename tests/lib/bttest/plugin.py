"""The pytest side of the harness (loaded by tests/conftest.py for every test file).

Fixtures:
  work             a directory of the test file's own in the run's scratch directory, which
                   is empty at the start (bttest.scratch(): BT_WORK, which ctest sets per
                   test, or a new one in the temp dir)
  check            soft checks collected over a test (bttest.Checks): the test fails at its
                   end, listing every failed check
  blas_one_thread  one OpenMP/OpenBLAS thread per process for the whole session: results are
                   bitwise reproducible for a fixed thread count, and 2 cores are shared by
                   several ranks

Exit status 77 (ctest's SKIP_RETURN_CODE, set by bt_pytest) when every test was skipped, so
that ctest reports the test as skipped, not passed.
"""
import os

import pytest

from .checks import Checks
from .paths import scratch

SKIPPED_RC = 77


@pytest.fixture(scope="module")
def work(request):
    """A directory of the test file's own in the run's scratch directory."""
    path = os.path.join(scratch(), request.module.__name__.rsplit(".", 1)[-1])
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture
def check():
    return Checks()


@pytest.fixture(scope="session")
def blas_one_thread():
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    outcome = yield
    checks = getattr(item, "funcargs", {}).get("check")
    if isinstance(checks, Checks) and checks.failures:
        if outcome.excinfo is None:
            # raised here, the failure counts as the test's own (pluggy 1.0 has no
            # force_exception; an exception out of a hook wrapper's teardown propagates)
            raise AssertionError(checks.summary())
        print(checks.summary())  # the test failed anyway: its captured output lists them


class _Outcomes:
    def __init__(self):
        self.ran = self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.skipped:
            self.skipped += 1
        elif report.when == "call" or report.failed:
            self.ran += 1


_outcomes = _Outcomes()


def pytest_configure(config):
    config.pluginmanager.register(_outcomes, "bttest-outcomes")


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _outcomes.skipped and not _outcomes.ran:
        session.exitstatus = SKIPPED_RC
