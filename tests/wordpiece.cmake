# WordPiece tokenizer and `bertology tokenize`: the CLI end to end on a tiny model made by the
# test (plus the SST-2 speed check), and the whole tokenizer against an independent Python
# model of transformers' BertTokenizer on GLUE text, random Unicode and every code point.
bt_pytest(wordpiece.cli text/test_wordpiece_cli.py TIMEOUT 300 LABELS text FAST)
bt_pytest(wordpiece.vs_python_reference text/test_wordpiece_vs_ref.py TIMEOUT 900 LABELS text)
