# OpenAI GPT's tokenizer (src/tok/openai_bpe.c): `bertology tokenize` against gpt_ref.py, the
# Python model of transformers' OpenAIGPTTokenizer without ftfy/spacy, on every GLUE file in
# tests/data/glue, tricky strings and random Unicode; and openai-gpt checkpoints through
# `bertology importance` (--text and a GLUE task) without --tokenizer.
bt_pytest(gpt_tok.vs_python_reference text/test_gpt_vs_ref.py LABELS text)
bt_pytest(gpt_tok.e2e text/test_gpt_e2e.py LABELS text MPI FAST)
