# Model families end to end (issue 7): GPT-2 language-model importance from --text, RoBERTa /
# DistilBERT / GPT-2 classifiers on GLUE, the experiments (eval, mask, prune, ablate), the report,
# and bad input, all through the CLI under mpirun and against independent references (the
# float64 PyTorch models of tests/ref, the Python tokenizers of tests/text, the HDF5 tools).
# Scripts in tests/families_e2e; each mpirun inside runs under `timeout`.
set(BT_FAM_MPIEXEC ${MPIEXEC_EXECUTABLE})
if(NOT BT_FAM_MPIEXEC)
  set(BT_FAM_MPIEXEC mpirun)
endif()
set(BT_FAM_DIR ${CMAKE_CURRENT_SOURCE_DIR}/families_e2e)
set(BT_FAM_WORK ${CMAKE_CURRENT_BINARY_DIR}/families_e2e_work)
set(BT_FAM_ARGS --bertology $<TARGET_FILE:bertology> --mpiexec ${BT_FAM_MPIEXEC}
    --testdata ${BT_TEST_DATA} --source ${PROJECT_SOURCE_DIR})

# GPT-2 --text importance: np 1/2/3 bitwise (npy, h5py, h5diff per group), causal attention,
# windows vs torch_gpt2.py; the real tiny GPT-2 with --tokenizer
add_test(NAME families_e2e.lm_ranks
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_lm_ranks.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/lm_ranks)
# lines longer than --max-seq-length become several windows (vs bpe_ref.py), reported on stderr
add_test(NAME families_e2e.lm_windows
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_lm_windows.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/lm_windows)
# RoBERTa SST-2, DistilBERT and GPT-2 classifiers RTE: np 1/2/3 bitwise; run.h5 = forward = torch
add_test(NAME families_e2e.cls_ranks
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_cls_ranks.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/cls_ranks)
# eval / mask / prune / ablate on GPT-2 (--text) and DistilBERT (RTE)
add_test(NAME families_e2e.experiments
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_experiments.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/experiments)
# analysis/report.py on a GPT-2 run: no [CLS]/[SEP]
add_test(NAME families_e2e.report
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_report.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/report)
# bad input at np 3: exit 2 on every rank, one message naming the culprit, no run.h5
add_test(NAME families_e2e.bad_input
  COMMAND ${BT_PYTHON} ${BT_FAM_DIR}/check_bad_input.py ${BT_FAM_ARGS} --work ${BT_FAM_WORK}/bad_input)

set(BT_FAM_TESTS families_e2e.lm_ranks families_e2e.lm_windows families_e2e.cls_ranks
    families_e2e.experiments families_e2e.report families_e2e.bad_input)
set(BT_FAM_ENV "BT_TEST_DATA=${BT_TEST_DATA};PYTHONDONTWRITEBYTECODE=1"
    "MPLCONFIGDIR=${BT_FAM_WORK}/mplconfig")
if(BT_SANITIZE)
  # Open MPI's plugins leak at MPI_Finalize in ways LeakSanitizer cannot attribute (see
  # dist.cmake); address and UB checks stay on.
  list(APPEND BT_FAM_ENV "ASAN_OPTIONS=detect_leaks=0")
endif()
# All of them run mpirun and oversubscribe the 2 cores: never alongside each other.
set_tests_properties(${BT_FAM_TESTS} PROPERTIES LABELS "mpi;families" TIMEOUT 900 RUN_SERIAL TRUE
                     ENVIRONMENT "${BT_FAM_ENV}")
# quick, and every error path: worth running under ASan/UBSan
set_tests_properties(families_e2e.bad_input PROPERTIES LABELS "mpi;families;sanitize")
