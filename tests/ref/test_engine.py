"""`bertology forward` against the float64 PyTorch reference (compare_engine.py; criteria in
docs/testing_numerics.md): one test per model configuration (ref.engine.NAME) and the checks
packing, fd and errors. The bert-base configuration takes minutes: by hand only,
`python3 -m pytest tests/ref/test_engine.py -m manual`."""
import pytest

import compare_engine as ce
from bttest import BERTOLOGY


@pytest.mark.parametrize("name", list(ce.CONFIGS))
def test_config(name, work):
    assert ce.run_all([name], work, ce.Engine(BERTOLOGY)), "%s: off the reference (the table above)" % name


@pytest.mark.manual
@pytest.mark.parametrize("name", list(ce.EXTRA))
def test_config_by_hand(name, work):
    assert ce.run_all([name], work, ce.Engine(BERTOLOGY)), "%s: off the reference (the table above)" % name


@pytest.mark.parametrize("check", ce.CHECKS)
def test_check(check, work):
    assert ce.run_all([check], work, ce.Engine(BERTOLOGY)), "%s failed (the lines above)" % check
