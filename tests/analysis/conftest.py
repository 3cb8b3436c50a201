"""pytest set-up of tests/analysis (ctest runs each file: tests/analysis.cmake). The harness
(tests/lib/bttest) gives the paths and the work fixture; bertology_analysis is found through
tests/pytest.ini's pythonpath (analysis/) or an installed copy."""
import os

import pytest


# ---- a headless Chromium (Debian's chromium + chromium-driver, python3-selenium) ------------

@pytest.fixture(scope="module")
def chrome(work):
    """A WebDriver session on headless Chromium; downloads go to WORK/downloads."""
    import pagecheck
    d = pagecheck.start_chromium(os.path.join(work, "chromium-profile"), os.path.join(work, "downloads"))
    yield d
    d.quit()
