# OpenAI GPT's tokenizer (src/tok/openai_bpe.c): `bertology tokenize` against gpt_ref.py, the
# Python model of transformers' OpenAIGPTTokenizer without ftfy/spacy, on every GLUE file in
# tests/data/glue, tricky strings and random Unicode; and openai-gpt checkpoints through
# `bertology importance` (--text and a GLUE task) without --tokenizer.
add_test(NAME gpt_tok.vs_python_reference
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/gpt_compare.py
                 $<TARGET_FILE:bertology> ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/gpt_cmp)
add_test(NAME gpt_tok.e2e
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/text/gpt_e2e.py
                 $<TARGET_FILE:bertology> ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/gpt_e2e)
set_tests_properties(gpt_tok.vs_python_reference gpt_tok.e2e PROPERTIES TIMEOUT 600 LABELS "text")
