# Model families end to end (issue 7): GPT-2 language-model importance from --text, RoBERTa /
# DistilBERT / GPT-2 classifiers on GLUE, the experiments (eval, mask, prune, ablate), the report,
# and bad input, all through the CLI under mpirun and against independent references (the
# float64 PyTorch models of tests/ref, the Python tokenizers of tests/text, the HDF5 tools).
# tests/families_e2e/test_*.py; each mpirun inside runs under a timeout.
set(BT_FAM_OPTS TIMEOUT 900 MPI)
# GPT-2 --text importance: np 1/2/3 bitwise (npy, h5py, h5diff per group), causal attention,
# windows vs torch_gpt2.py; the real tiny GPT-2 with --tokenizer
bt_pytest(families_e2e.lm_ranks families_e2e/test_lm_ranks.py LABELS mpi families ${BT_FAM_OPTS})
# lines longer than --max-seq-length become several windows (vs bpe_ref.py), reported on stderr
bt_pytest(families_e2e.lm_windows families_e2e/test_lm_windows.py LABELS mpi families ${BT_FAM_OPTS})
# RoBERTa SST-2, DistilBERT and GPT-2 classifiers RTE: np 1/2/3 bitwise; run.h5 = forward = torch
bt_pytest(families_e2e.cls_ranks families_e2e/test_cls_ranks.py LABELS mpi families ${BT_FAM_OPTS})
# eval / mask / prune / ablate on GPT-2 (--text) and DistilBERT (RTE)
bt_pytest(families_e2e.experiments families_e2e/test_experiments.py LABELS mpi families ${BT_FAM_OPTS})
# analysis/report.py on a GPT-2 run: no [CLS]/[SEP]
bt_pytest(families_e2e.report families_e2e/test_report.py LABELS mpi families ${BT_FAM_OPTS})
# bad input at np 3: exit 2 on every rank, one message naming the culprit, no run.h5; quick,
# and every error path: worth running under ASan/UBSan
bt_pytest(families_e2e.bad_input families_e2e/test_families_bad_input.py LABELS mpi families sanitize
          ${BT_FAM_OPTS})
