# GLUE readers and metrics against independent references (Python csv as HF reads the files,
# sklearn.metrics, scipy.stats), plus the reading-speed numbers.
set(BT_GLUE_DATA ${BT_TEST_DATA}/glue)

bt_pytest(glue.hf_reading text/test_glue_reading.py TIMEOUT 300 LABELS text FAST)
bt_pytest(glue.metrics_vs_sklearn_scipy text/test_metrics.py TIMEOUT 300 LABELS text FAST)
add_test(NAME glue.bench_sst2_train COMMAND glue_bench sst-2 ${BT_GLUE_DATA}/SST-2 train 5)
add_test(NAME glue.bench_qnli_dev COMMAND glue_bench qnli ${BT_GLUE_DATA}/QNLI dev 5)
set_tests_properties(glue.bench_sst2_train glue.bench_qnli_dev PROPERTIES TIMEOUT 300 LABELS fast)
