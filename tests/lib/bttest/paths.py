"""Where the program, the test helpers and the fixtures are.

ctest sets every BT_* variable (tests/CMakeLists.txt, bt_pytest); the defaults are those of a
source tree with a build in build/, so `python3 -m pytest tests/...` works by hand after
`bash jobs/setup.sh --tests build`.
"""
import os
import shutil
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))


def _env_path(name, default):
    return os.path.abspath(os.environ.get(name) or default)


SOURCE = _env_path("BT_SOURCE", os.path.join(_HERE, "..", "..", ".."))
BUILD = _env_path("BT_BUILD", os.path.join(SOURCE, "build"))
BERTOLOGY = _env_path("BT_BERTOLOGY", os.path.join(BUILD, "bertology"))
TOOLS = _env_path("BT_TOOLS", os.path.join(BUILD, "tests"))  # tests/tools/*.c, built
MPIEXEC = os.environ.get("BT_MPIEXEC") or "mpirun"
TESTDATA = _env_path("BT_TESTDATA", os.path.join(SOURCE, "tests", "data"))

# fixtures of tests/data (tests/data/SOURCES.md)
GLUE = os.path.join(TESTDATA, "glue")
SST2 = os.path.join(GLUE, "SST-2")
BERT_VOCAB = os.path.join(TESTDATA, "vocab", "bert-base-uncased", "vocab.txt")
BERT_CASED_VOCAB = os.path.join(TESTDATA, "vocab", "bert-base-cased", "vocab.txt")
GPT2_VOCAB = os.path.join(TESTDATA, "vocab", "gpt2")  # vocab.json and merges.txt
OPENAI_GPT_VOCAB = os.path.join(TESTDATA, "vocab", "openai-gpt-glue")
TINY_GPT2 = os.path.join(TESTDATA, "models", "tiny-gpt2")
UD_DEV = os.path.join(TESTDATA, "ud", "en_ewt", "en_ewt-ud-dev.conllu")

# the bundled demo model and its data (data/SOURCES.md)
DEMO_MODEL = os.path.join(SOURCE, "data", "demo-sst2")
DEMO_SST2 = os.path.join(SOURCE, "data", "glue", "SST-2")


def tool(name):
    """The path of a test helper program built from tests/tools/NAME.c."""
    path = os.path.join(TOOLS, name)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not a program: build the tests first (BT_TOOLS=%s)" % (path, TOOLS))
    return path


_scratch = []


def scratch():
    """The test run's scratch directory, emptied at its first use in the process: BT_WORK (ctest
    gives each test its own under build/tests/scratch/), or a new one in the temp dir. The work
    fixture is this directory; code that runs before fixtures (a unittest module) calls it."""
    if not _scratch:
        base = os.environ.get("BT_WORK")
        if base:
            path = os.path.abspath(base)
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(path)
        else:
            path = tempfile.mkdtemp(prefix="bttest_")
            print("scratch directory: %s" % path)
        _scratch.append(path)
    return _scratch[0]
