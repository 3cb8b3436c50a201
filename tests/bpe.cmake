# Byte-level BPE tokenizer (GPT-2, RoBERTa) and `bertology tokenize` on BPE models: the CLI end
# to end on a GPT-2 model directory (with the SST-2 speed check), and the whole tokenizer
# against an independent Python model of GPT-2's encoder.py / HF's GPT2Tokenizer and
# RobertaTokenizer on GLUE text, random Unicode and edge cases. The unit suites test_bpe,
# test_bpe_gguf (llama.cpp's GPT-2 vectors) and test_lmtext are registered by tests/CMakeLists.
bt_pytest(bpe.cli text/test_bpe_cli.py TIMEOUT 300 LABELS text FAST)
bt_pytest(bpe.vs_python_reference text/test_bpe_vs_ref.py TIMEOUT 900 LABELS text)
