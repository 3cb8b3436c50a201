# CAT-probing (issue 22, docs/cat.md): `bertology cat` against the independent Python reference
# (tests/cat/ref_cat.py) on random RobertaModel / RobertaForMaskedLM checkpoints over real
# functions in four languages, /code against the reference's trees, np 1-3 bitwise, a stop and
# resume, eval and importance on --task code, malformed JSON lines. The C unit tests (test_code) are registered by tests/CMakeLists.txt.
bt_pytest(cat.vs_reference cat/test_cat.py SELECT test_scores_vs_reference test_code_leaves TIMEOUT 900
          LABELS cat)
bt_pytest(cat.ranks cat/test_cat.py SELECT test_ranks_bitwise test_stop_and_resume TIMEOUT 900 LABELS mpi cat MPI)
bt_pytest(cat.commands cat/test_cat.py SELECT test_other_commands TIMEOUT 900 LABELS mpi cat MPI)
bt_pytest(cat.bad_input cat/test_cat.py SELECT test_bad_input TIMEOUT 600 LABELS mpi cat sanitize MPI)
