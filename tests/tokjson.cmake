# tokenizer.json (src/tok/tokjson.c): `bertology tokenize` on tokenizer.json-only model
# directories (BERT uncased/cased, GPT-2, RoBERTa, GPT-2 with add_prefix_space) against
# tokjson_ref.py, the Python model of the tokenizers library's format, on every GLUE file in
# tests/data/glue, tricky strings and random Unicode; the classic files of the same vocabulary
# give the same ids; unsupported components are refused by name.
bt_pytest(tokjson.vs_python_reference text/test_tokjson_vs_ref.py TIMEOUT 900 LABELS text)
