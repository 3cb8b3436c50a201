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

# As root Chromium needs --no-sandbox; the rest keep it off the network (no component updates,
# sync, QUIC or first-run fetches) and a fresh profile keeps runs independent.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--force-device-scale-factor=1",
                  "--window-size=1400,1000"]


@pytest.fixture(scope="module")
def chrome(work):
    """A WebDriver session on headless Chromium; downloads go to WORK/downloads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("BT_CHROMIUM", "/usr/bin/chromium")
    profile = os.path.join(work, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    for a in CHROMIUM_FLAGS + ["--user-data-dir=" + profile]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(os.environ.get("BT_CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)
    d.set_script_timeout(60)
    downloads = os.path.join(work, "downloads")
    os.makedirs(downloads, exist_ok=True)
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    d.downloads = downloads
    yield d
    d.quit()
