# tokenizer.json (src/tok/tokjson.c): `bertology tokenize` on tokenizer.json-only model
# directories (BERT uncased/cased, GPT-2, RoBERTa, GPT-2 with add_prefix_space) against
# tokjson_ref.py, the Python model of the tokenizers library's format, on every GLUE file in
# tests/data/glue, tricky strings and random Unicode; the classic files of the same vocabulary
# give the same ids; unsupported components are refused by name.
add_test(NAME tokjson.vs_python_reference
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/tokjson_compare.py
                 $<TARGET_FILE:bertology> ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/tokjson_cmp)
set_tests_properties(tokjson.vs_python_reference PROPERTIES TIMEOUT 900 LABELS "text")
