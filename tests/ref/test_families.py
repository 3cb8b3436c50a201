"""`bertology forward` on GPT-2, GPT (openai-gpt), RoBERTa and DistilBERT checkpoints against the
float64 references of tests/ref (compare_families.py), plus the references' own checks (ref),
the loader's write-back through mk_model_dump (save), the real tiny GPT-2 (tiny) and bad input
(errors). families.GROUP runs a group of these (tests/families.cmake)."""
import pytest

import compare_families as cf
from bttest import BERTOLOGY, tool


@pytest.mark.parametrize("name", list(cf.CONFIGS))
def test_config(name, work):
    assert cf.run_all([name], work, cf.Engine(BERTOLOGY)), "%s: off the reference (the table above)" % name


@pytest.mark.parametrize("check", cf.CHECKS)
def test_check(check, work):
    dump = tool("mk_model_dump") if check == "save" else None
    assert cf.run_all([check], work, cf.Engine(BERTOLOGY), dump), "%s failed (the lines above)" % check
