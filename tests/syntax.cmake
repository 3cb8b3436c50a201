# Syntax (issue 15): `bertology syntax` against an independent Python re-implementation of the
# SPEC's word-level attention and head-as-parser counts on BERT / GPT-2 / RoBERTa random
# checkpoints and the UD EWT dev treebank, np 1 vs 3, malformed CoNLL-U files; the probe script
# on a planted signal. The C unit tests (test_conllu, test_syntax) are registered by
# tests/CMakeLists.txt.
bt_pytest(syntax.counts_vs_python syntax/test_syntax.py TIMEOUT 900 LABELS mpi syntax MPI)
# analysis/probe.py on synthetic run.h5 files with a planted signal at one hidden state
bt_pytest(syntax.probe_planted syntax/test_probe.py LABELS analysis syntax)
# malformed CoNLL-U at np 3 and --task ud in the GLUE commands: quick, every error path, so
# it also runs under ASan/UBSan
bt_pytest(syntax.bad_input syntax/test_syntax.py SELECT test_malformed_treebank test_ud_in_other_commands
          LABELS mpi syntax sanitize MPI FAST)
# --task ud in eval/importance/mask/ablate: /words against an independent parse and the
# fixture vocabularies, np 1 vs 3, the refusals (tests/syntax/test_ud_runs.py)
bt_pytest(syntax.ud_runs syntax/test_ud_runs.py LABELS mpi syntax MPI)
