# model: checkpoints written by torch (tests/tools/mk_model_check.py) loaded through
# mk_model_dump, compared bitwise with torch's conversions, and saved copies re-read in Python.
add_test(NAME model.torch_checkpoints
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/tools/mk_model_check.py
                 $<TARGET_FILE:mk_model_dump> ${CMAKE_CURRENT_BINARY_DIR}/model_check)
set_tests_properties(model.torch_checkpoints PROPERTIES TIMEOUT 300)
