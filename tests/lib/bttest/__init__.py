"""The test harness of bertology: every Python test under tests/ imports what it needs from here.

    from bttest import bertology, run, same_h5, SST2, models

  run(argv, np=None, expect=0, timeout=600, input=None, env=None, cwd=None)
      a program (under mpirun -np NP --oversubscribe [--allow-run-as-root] when np is given);
      checks the exit code (expect=None: any), shows the command, stdout and stderr when it is
      not the expected one, kills the command's whole session at the timeout (exit 124)
  bertology(argv, **kw)       run() of the program under test
  Background(argv, np=...)    a command running while the test signals it or polls its files
  same_h5(a, b, ignore_attrs=VOLATILE_ATTRS)
      every dataset and attribute of two HDF5 files bitwise equal; names the first difference
  run_differences(a, b, npy=..., groups=...)
      two output directories of the same computation: .npy files, run.h5, h5diff per group
  h5_differences, h5diff, contents, same_bits, same_files, options, example_ids, npy_outputs,
  max_diff                    the pieces of those comparisons
  refused(check, name, argv, out, words, code=2, np=3)
      bad input: one line naming the culprit, no run.h5, and every rank exits (run twice)
  ranks_agree(check, what, argv, out_base, nps=(1, 2, 3), groups=..., tables=...)
      the same run at several rank counts, every output identical to the first's
  forward_ids(model, seqs, out)   `bertology forward` on explicit ids, its .npy outputs
  tsv_column, text_file       plain test inputs
  models.bert/gpt2/distilbert/roberta(path, **kw)
      random checkpoints (tests/ref/make_checkpoint*.py) with the real tokenizer files
  tok.tokenize, tok.mismatches, tok.cli, tok.bench
      `bertology tokenize` against a Python reference tokenizer
  SOURCE, BERTOLOGY, TOOLS, tool(name), MPIEXEC, TESTDATA, GLUE, SST2, BERT_VOCAB, scratch(), ...
      where things are (bttest.paths; ctest sets them, defaults fit a build in build/)
  Checks, and the pytest fixtures work, check, blas_one_thread (bttest.plugin)

docs/testing.md says how the tests are organised and run.
"""
from . import models, tok
from .checks import Checks
from .commands import forward_ids, ranks_agree
from .data import text_file, tsv_column
from .h5 import (VOLATILE_ATTRS, contents, example_ids, h5_differences, h5diff, max_diff,
                 npy_outputs, options, run_differences, same_bits, same_files, same_h5)
from .paths import (BERT_CASED_VOCAB, BERT_VOCAB, BERTOLOGY, BUILD, DEMO_MODEL, DEMO_SST2, GLUE,
                    GPT2_VOCAB, MPIEXEC, OPENAI_GPT_VOCAB, SOURCE, SST2, TESTDATA, TINY_GPT2, TOOLS, UD_DEV,
                    scratch, tool)
from .proc import TIMEOUT_RC, Background, Result, bertology, mpirun_prefix, run, session_members
from .refusal import RANK_RC, refused

__all__ = ['Background', 'BERT_CASED_VOCAB', 'BERT_VOCAB', 'BERTOLOGY', 'bertology', 'BUILD',
           'Checks', 'contents', 'DEMO_MODEL', 'DEMO_SST2', 'example_ids', 'forward_ids', 'GLUE',
           'GPT2_VOCAB', 'h5_differences', 'h5diff', 'max_diff', 'models', 'MPIEXEC',
           'mpirun_prefix', 'npy_outputs', 'OPENAI_GPT_VOCAB', 'options', 'RANK_RC', 'ranks_agree',
           'refused', 'Result', 'run', 'run_differences', 'same_bits', 'same_files', 'same_h5',
           'scratch', 'session_members', 'SOURCE', 'SST2', 'TESTDATA', 'text_file', 'TIMEOUT_RC',
           'TINY_GPT2', 'tok', 'tool', 'TOOLS', 'tsv_column', 'UD_DEV', 'VOLATILE_ATTRS']
