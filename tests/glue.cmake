# GLUE readers and metrics against independent references (Python csv as HF reads the files,
# sklearn.metrics, scipy.stats), plus the reading-speed numbers.
set(BT_GLUE_DATA ${BT_TEST_DATA}/glue)

add_test(NAME glue.hf_reading
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/glue_check.py
                 $<TARGET_FILE:glue_dump> ${BT_GLUE_DATA})
add_test(NAME glue.metrics_vs_sklearn_scipy
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/metrics_check.py
                 $<TARGET_FILE:metrics_eval>)
add_test(NAME glue.bench_sst2_train COMMAND glue_bench sst-2 ${BT_GLUE_DATA}/SST-2 train 5)
add_test(NAME glue.bench_qnli_dev COMMAND glue_bench qnli ${BT_GLUE_DATA}/QNLI dev 5)
set_tests_properties(glue.hf_reading glue.metrics_vs_sklearn_scipy glue.bench_sst2_train
                     glue.bench_qnli_dev PROPERTIES TIMEOUT 300)
