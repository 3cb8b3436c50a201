"""pytest set-up of tests/analysis (ctest runs each file: tests/analysis.cmake).

The environment says where things are (set by ctest; defaults for running pytest by hand from
the source tree with a build in build/):
  BT_SOURCE     the source tree                 BT_BERTOLOGY  the bertology program
  BT_TESTDATA   tests/data                      BT_WORK       a scratch directory for this file
bertology_analysis is found through PYTHONPATH (ctest sets it to analysis/) or an installed copy.
"""
import os
import shutil

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("BT_SOURCE", os.path.dirname(os.path.dirname(HERE)))


def env_path(name, default):
    return os.path.abspath(os.environ.get(name) or default)


@pytest.fixture(scope="session")
def source():
    return SOURCE


@pytest.fixture(scope="session")
def bertology():
    path = env_path("BT_BERTOLOGY", os.path.join(SOURCE, "build", "bertology"))
    if not os.access(path, os.X_OK):
        pytest.fail("BT_BERTOLOGY=%s is not a program (build bertology first)" % path)
    return path


@pytest.fixture(scope="session")
def testdata():
    return env_path("BT_TESTDATA", os.path.join(SOURCE, "tests", "data"))


@pytest.fixture(scope="session")
def work(request):
    """A fresh scratch directory per test file (BT_WORK, or one under /tmp)."""
    base = os.environ.get("BT_WORK")
    if not base:
        import tempfile
        return tempfile.mkdtemp(prefix="bt_analysis_")
    path = os.path.abspath(base)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


# ---- a headless Chromium (Debian's chromium + chromium-driver, python3-selenium) ------------

@pytest.fixture(scope="module")
def chrome(work):
    """A WebDriver session on headless Chromium; downloads go to WORK/downloads."""
    import pagecheck
    d = pagecheck.start_chromium(os.path.join(work, "chromium-profile"), os.path.join(work, "downloads"))
    yield d
    d.quit()
