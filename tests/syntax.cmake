# Syntax (issue 15): `bertology syntax` against an independent Python re-implementation of the
# SPEC's word-level attention and head-as-parser counts on BERT / GPT-2 / RoBERTa random
# checkpoints and the UD EWT dev treebank, np 1 vs 3, malformed CoNLL-U files; the probe script
# on a planted signal. The C unit tests (test_conllu, test_syntax) are registered by
# tests/CMakeLists.txt.
set(BT_SYN_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_SYN_MPIEXEC)
  set(BT_SYN_MPIEXEC mpirun)
endif()
set(BT_SYN_WORK ${CMAKE_CURRENT_BINARY_DIR}/syntax_work)
add_test(NAME syntax.counts_vs_python
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/syntax/check_syntax.py
          --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_SYN_MPIEXEC} --testdata ${BT_TEST_DATA}
          --source ${PROJECT_SOURCE_DIR} --work ${BT_SYN_WORK}/counts)
set_tests_properties(syntax.counts_vs_python PROPERTIES LABELS "mpi;syntax" TIMEOUT 900 RUN_SERIAL TRUE
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;MPLCONFIGDIR=${BT_SYN_WORK}/mplconfig")
# analysis/probe.py on synthetic run.h5 files with a planted signal at one hidden state
add_test(NAME syntax.probe_planted
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/syntax/check_probe.py --source ${PROJECT_SOURCE_DIR}
          --work ${BT_SYN_WORK}/probe)
set_tests_properties(syntax.probe_planted PROPERTIES LABELS "analysis;syntax" TIMEOUT 600
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;MPLCONFIGDIR=${BT_SYN_WORK}/mplconfig")
# malformed CoNLL-U at np 3 and --task ud in the GLUE commands: quick, every error path, so
# it also runs under ASan/UBSan
add_test(NAME syntax.bad_input
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/syntax/check_syntax.py --bad-input-only
          --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_SYN_MPIEXEC} --testdata ${BT_TEST_DATA}
          --source ${PROJECT_SOURCE_DIR} --work ${BT_SYN_WORK}/bad_input)
set(BT_SYN_BAD_ENV "PYTHONDONTWRITEBYTECODE=1")
if(BT_SANITIZE)
  list(APPEND BT_SYN_BAD_ENV "ASAN_OPTIONS=detect_leaks=0") # Open MPI's own leaks (see dist.cmake)
endif()
set_tests_properties(syntax.bad_input PROPERTIES LABELS "mpi;syntax;sanitize" TIMEOUT 600 RUN_SERIAL TRUE
  ENVIRONMENT "${BT_SYN_BAD_ENV}")
# --task ud in eval/importance/mask/ablate: /words against an independent parse and the
# fixture vocabularies, np 1 vs 3, the refusals (tests/syntax/check_ud_runs.py)
add_test(NAME syntax.ud_runs
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/syntax/check_ud_runs.py
          --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_SYN_MPIEXEC} --testdata ${BT_TEST_DATA}
          --source ${PROJECT_SOURCE_DIR} --work ${BT_SYN_WORK}/ud_runs)
set_tests_properties(syntax.ud_runs PROPERTIES LABELS "mpi;syntax" TIMEOUT 600 RUN_SERIAL TRUE
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;PYTHONPATH=${PROJECT_SOURCE_DIR}/analysis")
