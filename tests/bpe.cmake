# Byte-level BPE tokenizer (GPT-2, RoBERTa) and `bertology tokenize` on BPE models: the CLI end
# to end on a GPT-2 model directory (with the SST-2 speed check), and the whole tokenizer
# against an independent Python model of GPT-2's encoder.py / HF's GPT2Tokenizer and
# RobertaTokenizer on GLUE text, random Unicode and edge cases. The unit suites test_bpe,
# test_bpe_gguf (llama.cpp's GPT-2 vectors) and test_lmtext are registered by tests/CMakeLists.
set(BT_BPE_DATA ${BT_TEST_DATA})

add_test(NAME bpe.cli
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/bpe_cli.py
                 $<TARGET_FILE:bertology> ${BT_BPE_DATA} ${CMAKE_CURRENT_BINARY_DIR}/bpe_cli)
add_test(NAME bpe.vs_python_reference
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/bpe_compare.py
                 $<TARGET_FILE:bertology> ${BT_BPE_DATA} ${CMAKE_CURRENT_BINARY_DIR}/bpe_cmp)
set_tests_properties(bpe.cli PROPERTIES TIMEOUT 300)
set_tests_properties(bpe.vs_python_reference PROPERTIES TIMEOUT 900)
