# WordPiece tokenizer and `bertology tokenize`: the CLI end to end on a tiny model made by the
# test (plus the SST-2 speed check), and the whole tokenizer against an independent Python
# model of transformers' BertTokenizer on GLUE text, random Unicode and every code point.
set(BT_WP_DATA ${BT_TEST_DATA})

add_test(NAME wordpiece.cli
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/wordpiece_cli.py
                 $<TARGET_FILE:bertology> ${BT_WP_DATA} ${CMAKE_CURRENT_BINARY_DIR}/wordpiece_cli)
add_test(NAME wordpiece.vs_python_reference
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/wordpiece_compare.py
                 $<TARGET_FILE:bertology> ${BT_WP_DATA} ${CMAKE_CURRENT_BINARY_DIR}/wordpiece_cmp)
set_tests_properties(wordpiece.cli PROPERTIES TIMEOUT 300)
set_tests_properties(wordpiece.vs_python_reference PROPERTIES TIMEOUT 900)
