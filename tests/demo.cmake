# The bundled demo model (data/demo-sst2, trained by data/train_demo_model.py): the C engine's
# SST-2 dev accuracy must meet issue 6 (>= 0.80) and match what PyTorch recorded in training.json.
add_test(NAME demo.model_dev_accuracy
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/demo/check_demo_model.py
                 $<TARGET_FILE:bertology> ${PROJECT_SOURCE_DIR}/data/demo-sst2
                 ${PROJECT_SOURCE_DIR}/data/glue/SST-2/dev.tsv
                 ${BT_TEST_DATA}/vocab/bert-base-uncased/vocab.txt
                 ${CMAKE_CURRENT_BINARY_DIR}/demo_work)
set_tests_properties(demo.model_dev_accuracy PROPERTIES TIMEOUT 600 LABELS "demo")
