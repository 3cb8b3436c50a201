# pytorch_model.bin (src/model/torch_bin.c, torch_pickle.c): the same random weights saved by
# torch.save(module.state_dict()) and as safetensors load bitwise the same and give bitwise the
# same `bertology forward` outputs (F32/F16/BF16, sharded, every family); hostile .bin files
# (disallowed globals, bad offsets and sizes, truncated zips, zip bombs, legacy format) are
# refused with one line each. The unpickler is also a libFuzzer target (tests/fuzz).
add_test(NAME torchbin.vs_safetensors
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/compare_torchbin.py
                 $<TARGET_FILE:bertology> $<TARGET_FILE:mk_model_dump> ${CMAKE_CURRENT_BINARY_DIR}/torchbin
                 --only equal)
add_test(NAME torchbin.hostile
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/compare_torchbin.py
                 $<TARGET_FILE:bertology> $<TARGET_FILE:mk_model_dump> ${CMAKE_CURRENT_BINARY_DIR}/torchbin_hostile
                 --only hostile)
set_tests_properties(torchbin.vs_safetensors torchbin.hostile PROPERTIES TIMEOUT 600 LABELS "ref;model;sanitize")
