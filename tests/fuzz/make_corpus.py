#!/usr/bin/python3
"""Writes the seed corpora tests/fuzz/corpus/<name>/ (run from anywhere; numpy needed).

Seeds are small real files cut from tests/data (a GLUE file's first rows, the first lines of a
vocabulary, the tiny GPT-2 config) plus hand-made edge cases for each check the parser makes.
Inputs whose first byte is a selector (glue, lmtext, tokenizer_config) get it prepended here,
as the target's comment describes. Re-running rewrites the same files."""
import io
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def head(rel, n):
    with open(os.path.join(DATA, rel), "rb") as f:
        return b"".join(f.readline() for _ in range(n))


# --- safetensors -------------------------------------------------------------------------
def st(tensors, meta=None, raw_header=None, pad=True):
    hdr, blob = {}, b""
    for name, (dtype, arr) in tensors.items():
        b = arr.tobytes()
        hdr[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
    if meta is not None:
        hdr["__metadata__"] = meta
    h = raw_header if raw_header is not None else json.dumps(hdr).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


rng = np.random.default_rng(0)
f32 = lambda *s: rng.standard_normal(s).astype("<f4")
put("safetensors", "gpt2_like", st({
    "wte.weight": ("F32", f32(5, 2)), "wpe.weight": ("F32", f32(4, 2)),
    "h.0.attn.c_attn.weight": ("F32", f32(2, 6)), "h.0.ln_1.bias": ("F32", f32(2)),
}, meta={"format": "pt"}))
put("safetensors", "f16_bf16_f64", st({
    "a": ("F16", rng.standard_normal((3, 2)).astype("<f2")),
    "b": ("BF16", (f32(2, 2).view("<u4") >> 16).astype("<u2")),
    "c": ("F64", rng.standard_normal(3).astype("<f8")),
}))
put("safetensors", "nonfinite", st({"x": ("F32", np.array([1, np.inf, np.nan], "<f4"))}))
put("safetensors", "int_bool_scalar_empty", st({
    "i": ("I64", np.arange(3, dtype="<i8")), "b": ("BOOL", np.array([1, 0], "u1")),
    "s": ("F32", np.array(2.5, "<f4")), "e": ("F32", np.zeros((0, 4), "<f4")),
}))
put("safetensors", "hlen_past_end", struct.pack("<Q", 1 << 40) + b"{}")
put("safetensors", "hlen_zero", struct.pack("<Q", 0))
put("safetensors", "not_object", st({}, raw_header=b"[1,2,3]"))
put("safetensors", "dup_names", st({}, raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                   b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + b"\0" * 4)
put("safetensors", "huge_shape", st({}, raw_header=b'{"a":{"dtype":"F32","shape":[4294967296,4294967296],'
                                    b'"data_offsets":[0,4]}}') + b"\0" * 4)
put("safetensors", "offsets_outside", st({}, raw_header=b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}')
    + b"\0" * 8)
put("safetensors", "sub_byte_dtype", st({}, raw_header=b'{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}')
    + b"\0" * 2)
put("safetensors", "deep_nesting", st({}, raw_header=b'{"__metadata__":' + b"[" * 2000 + b"]" * 2000 + b"}"))

put("safetensors", "overlap", st({}, raw_header=b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                 b'"b":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}') + b"\0" * 8)

# --- safetensors index -------------------------------------------------------------------
S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
put("safetensors_index", "real", json.dumps({"metadata": {"total_size": 20}, "weight_map": {
    "embeddings.weight": S1, "layer.0.weight": S1, "layer.1.weight": S2, "classifier.weight": S2}}, indent=2))
put("safetensors_index", "missing_tensor", json.dumps({"weight_map": {"nothere.weight": S1}}))
put("safetensors_index", "missing_shard", json.dumps({"weight_map": {"embeddings.weight": "model-3.safetensors"}}))
put("safetensors_index", "escape_dir", json.dumps({"weight_map": {"embeddings.weight": "../" + S1}}))
put("safetensors_index", "dup_key", '{"weight_map": {"layer.1.weight": "%s", "layer.1.weight": "%s"}}' % (S2, S2))
put("safetensors_index", "not_string", json.dumps({"weight_map": {"embeddings.weight": 1}}))
put("safetensors_index", "empty_map", json.dumps({"weight_map": {}}))
put("safetensors_index", "no_map", "[]")

# --- config.json --------------------------------------------------------------------------
with open(os.path.join(DATA, "models", "tiny-gpt2", "config.json"), "rb") as f:
    put("config", "tiny_gpt2", f.read())
bert = {"architectures": ["BertForSequenceClassification"], "model_type": "bert", "hidden_size": 768,
        "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 30522,
        "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
        "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}
put("config", "bert_sst2", json.dumps(bert, indent=2))
put("config", "bert_pruned", json.dumps(dict(bert, pruned_heads={"0": [1, 3], "11": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]})))
put("config", "bert_regression", json.dumps(dict(bert, num_labels=1, problem_type="regression", id2label=None)))
put("config", "roberta", json.dumps({"model_type": "roberta", "architectures": ["RobertaForSequenceClassification"],
                                     "vocab_size": 50265, "max_position_embeddings": 514, "pad_token_id": 1,
                                     "type_vocab_size": 1, "num_labels": 3}))
put("config", "distilbert", json.dumps({"model_type": "distilbert", "dim": 768, "n_layers": 6, "n_heads": 12,
                                        "hidden_dim": 3072, "activation": "gelu", "sinusoidal_pos_embds": False}))
put("config", "openai_gpt", json.dumps({"model_type": "openai-gpt", "n_embd": 768, "n_layer": 12, "n_head": 12,
                                        "afn": "gelu", "n_positions": 512, "vocab_size": 40478}))
put("config", "huge_dims", json.dumps(dict(bert, vocab_size=1 << 30, hidden_size=1 << 20, num_attention_heads=64,
                                           intermediate_size=1 << 24, max_position_embeddings=1 << 24)))
put("config", "bad_pruned", json.dumps(dict(bert, pruned_heads={"12": [0], "-1": [0], "0": [99]})))
put("config", "not_object", "[]")
put("config", "truncated", json.dumps(bert)[:100])

# --- config.json of a model directory holding tiny-gpt2's weights ---------------------------
with open(os.path.join(DATA, "models", "tiny-gpt2", "config.json"), "rb") as f:
    tiny = f.read()
put("model", "tiny_gpt2", tiny)
tc = json.loads(tiny)
put("model", "fewer_layers", json.dumps(dict(tc, n_layer=1)))
put("model", "huge_dims", json.dumps(dict(tc, vocab_size=1 << 30, n_embd=1 << 20)))
put("model", "pruned", json.dumps(dict(tc, pruned_heads={"0": [1]})))
put("model", "cls_head_missing", json.dumps(dict(tc, architectures=["GPT2ForSequenceClassification"], num_labels=3)))
put("model", "wrong_type", json.dumps(dict(tc, model_type="bert")))

# --- tokenizer_config.json / special_tokens_map.json (first byte: bit 0 BPE, bit 1 the map) --
WP_TC, BPE_TC, WP_SM, BPE_SM = b"\0", b"\1", b"\2", b"\3"
put("tokenizer_config", "bert_uncased", WP_TC + b'{"do_lower_case": true, "model_max_length": 512}')
put("tokenizer_config", "bert_full", WP_TC + json.dumps({
    "do_lower_case": False, "do_basic_tokenize": True, "never_split": ["[MASK]", "runn"], "strip_accents": None,
    "tokenize_chinese_chars": False, "unk_token": "[UNK]", "sep_token": {"content": "[SEP]", "lstrip": False},
    "pad_token": None, "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": 1e30}).encode())
put("tokenizer_config", "bert_missing_unk", WP_TC + b'{"unk_token": "<nope>"}')
put("tokenizer_config", "roberta", BPE_TC + json.dumps({
    "tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "model_max_length": 512,
    "errors": "replace", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
    "cls_token": "<s>", "pad_token": "<pad>",
    "mask_token": {"content": "<mask>", "lstrip": True, "rstrip": False, "normalized": False},
    "added_tokens_decoder": {"0": {"content": "<s>", "special": True}, "1": {"content": "<pad>", "special": True},
                             "2": {"content": "</s>"}, "3": {"content": "<unk>"},
                             "270": {"content": "<mask>", "lstrip": True}}}).encode())
put("tokenizer_config", "gpt2", BPE_TC + json.dumps({
    "tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "add_prefix_space": True,
    "added_tokens_decoder": {"50256": {"content": "<|endoftext|>"}}}).encode())
put("tokenizer_config", "bad_class", BPE_TC + b'{"tokenizer_class": "BertTokenizer"}')
put("tokenizer_config", "wp_map", WP_SM + b'{"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",'
    b' "cls_token": "[CLS]", "mask_token": "[MASK]"}')
put("tokenizer_config", "bpe_map", BPE_SM + json.dumps({
    "bos_token": {"content": "<s>", "lstrip": False}, "eos_token": "</s>", "unk_token": "<unk>",
    "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>",
    "mask_token": {"content": "<mask>", "lstrip": True}}).encode())
put("tokenizer_config", "null_specials", BPE_SM + b'{"unk_token": null, "mask_token": null, "bos_token": ""}')

# --- vocab.txt ------------------------------------------------------------------------------
put("vocab_txt", "bert_uncased_head", head("vocab/bert-base-uncased/vocab.txt", 1100))
put("vocab_txt", "bert_cased_head", head("vocab/bert-base-cased/vocab.txt", 200))
put("vocab_txt", "minimal", "[UNK]\n[CLS]\n[SEP]\nhello\n##s\n")
put("vocab_txt", "crlf_cr", "[UNK]\r\n[CLS]\r[SEP]\r\nthe\r\n##re\n\n")
put("vocab_txt", "invalid_utf8", b"[UNK]\n[CLS]\n[SEP]\n\xff\xfe\n")
put("vocab_txt", "no_unk", "[CLS]\n[SEP]\nword\n")
put("vocab_txt", "dups_and_long", "[UNK]\n[CLS]\n[SEP]\n[UNK]\n" + "a" * 300 + "\n##" + "b" * 120 + "\n")

# --- vocab.json + merges.txt (+ text), NUL separated --------------------------------------
with open(os.path.join(DATA, "vocab", "gpt2", "vocab.json"), encoding="utf-8") as f:
    gv = json.load(f)
with open(os.path.join(DATA, "vocab", "gpt2", "merges.txt"), encoding="utf-8") as f:
    gm = f.read().split("\n")
small = {k: v for k, v in gv.items() if v < 600}
merges = [m for m in gm[1:] if m and all(p in small for p in m.split(" ")) and m.replace(" ", "") in small]
text = "Hello world, the quick brown fox's tests\n  don't   stop 123 é中"
put("bpe_vocab", "gpt2_head", json.dumps(small, ensure_ascii=False).encode() + b"\0" +
    ("#version: 0.2\n" + "\n".join(merges) + "\n").encode() + b"\0" + text.encode())
bytes_only = {k: v for k, v in gv.items() if v < 256}
put("bpe_vocab", "bytes_only", json.dumps(bytes_only).encode() + b"\0#version: 0.2\n\0" + text.encode())
put("bpe_vocab", "merge_not_in_vocab", json.dumps(bytes_only).encode() + b"\0h e\n\0he")
put("bpe_vocab", "merge_bad_line", json.dumps(bytes_only).encode() + b"\0h  e\nx\n")
put("bpe_vocab", "ids_sparse_dup", b'{"a": 16777215, "b": 0, "a": 3, "ab": 7}\0a b\n\0abab')
put("bpe_vocab", "bad_id", b'{"a": -1}\0\0')
put("bpe_vocab", "no_byte_tokens", b'{"a": 0, "<|endoftext|>": 1}\0\0a\xc3\xa9')

# --- .npy ------------------------------------------------------------------------------------
def npy(arr, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, arr, version=version)
    else:
        np.save(b, arr)
    return b.getvalue()


def raw_npy(header, data=b"", major=1):
    h = header.encode("latin1")
    if major == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data
    return b"\x93NUMPY" + bytes([major, 0]) + struct.pack("<I", len(h)) + h + data


put("npy", "head_mask_12x12", npy(np.ones((12, 12), "<f4")))
put("npy", "f64_big_endian", npy(np.arange(6, dtype=">f8").reshape(2, 3)))
put("npy", "v2_header", npy(np.zeros(3, "<f4"), version=(2, 0)))
put("npy", "scalar", npy(np.float32(1.5)))
put("npy", "f64_overflow", npy(np.array([1e300, -1e300, np.nan], "<f8")))
put("npy", "int32", npy(np.arange(4, dtype="<i4")))
put("npy", "fortran", npy(np.asfortranarray(np.ones((2, 3), "<f4"))))
# the 0-element, seven-huge-dimension mask that overflowed run_opts.c's message buffer
put("npy", "zero_elems_huge_dims",
    raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, %s), }\n" % ", ".join(["1000000000000000000"] * 7)))
put("npy", "hand_written", raw_npy('{"descr":"<f4","fortran_order":False,"shape":(2L,),}', b"\0" * 8))
put("npy", "header_past_end", raw_npy("{'descr': '<f4'}", major=2)[:12] + b"\xff\xff\xff\x7f")
put("npy", "negative_dim", raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"))
put("npy", "structured", raw_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 4))

# --- GLUE TSV (first byte: task index | 16 test layout | 32 skip bad | 64 max 3 | 128 long) --
T = {"cola": 0, "sst-2": 1, "mrpc": 2, "sts-b": 3, "qqp": 4, "mnli": 5, "mnli-mm": 6, "qnli": 7, "rte": 8, "wnli": 9}
sel = lambda task, flags=0: bytes([T[task] | flags])
put("glue", "cola_dev", sel("cola") + head("glue/CoLA/dev.tsv", 12))
put("glue", "sst2_dev", sel("sst-2", 128) + head("glue/SST-2/dev.tsv", 12))
put("glue", "qnli_dev", sel("qnli") + head("glue/QNLI/dev.tsv", 6))
put("glue", "rte_train", sel("rte", 64) + head("glue/RTE/train.tsv", 6))
put("glue", "wnli_dev", sel("wnli", 32) + head("glue/WNLI/dev.tsv", 8))
put("glue", "mrpc", sel("mrpc") + b"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    b"1\t702876\t702977\tAmrozi accused his brother.\tReferring to him, Amrozi accused.\n"
    b"0\t2108705\t2108831\tYucaipa owned Dominick's.\tYucaipa bought Dominick's in 1995.\n")
put("glue", "stsb", sel("sts-b") + b"index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    b"0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n"
    b"1\tmain-captions\tMSRvid\t2012test\t0004\tnone\tnone\tA man plays a flute.\tA man plays a flute.\t3.8e0\n")
put("glue", "stsb_bad_score", sel("sts-b", 32) + b"h\th\th\th\th\th\th\th\th\th\n"
    b"0\tg\tf\ty\to\ts\ts\ta\tb\tinf\n1\tg\tf\ty\to\ts\ts\ta\tb\t1e39\n2\tg\tf\ty\to\ts\ts\ta\tb\t2.5\n")
put("glue", "qqp", sel("qqp") + b"id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
    b"402555\t536040\t536041\tHow do I control my horny emotions?\tHow do you control your horniness?\t1\n"
    b"360472\t364011\t490273\tWhat causes stool color to change?\tWhat can cause stool to come out as little balls?\t0\n")
mnli_h = "\t".join(["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"])
put("glue", "mnli_train", sel("mnli") + (mnli_h + "\n" + "\t".join(
    ["0", "31193", "31193n", "government", "( a )", "( b )", "(ROOT a)", "(ROOT b)",
     "Conceptually cream skimming has two basic dimensions.", "Product and geography are what make it work.",
     "neutral", "neutral"]) + "\n").encode())
put("glue", "mnli_mm_test", sel("mnli-mm", 16) + ("\t".join(mnli_h.split("\t")[:10]) + "\n" + "\t".join(
    ["0", "1", "1n", "fiction", "( a )", "( b )", "(ROOT a)", "(ROOT b)", "It was cold.", "It was warm."]) + "\n").encode())
put("glue", "sst2_test", sel("sst-2", 16) + b"index\tsentence\n0\tuneasy mishmash of styles and genres .\n")
put("glue", "bom_crlf_nul", sel("sst-2", 32) + b"\xef\xbb\xbfsentence\tlabel\r\nfine\t1\r\nnul\0here\t0\r\nbad\t2\nok\t0")
put("glue", "invalid_utf8", sel("rte", 32) + b"index\tsentence1\tsentence2\tlabel\n0\t\xff\tb\tentailment\n1\ta\tb\tentailment\n")
put("glue", "wrong_width", sel("cola") + b"a\t1\tb\n\n")
put("glue", "header_only", sel("qnli") + b"index\tquestion\tsentence\tlabel\n")

# --- LM text (first byte: max_len = 2 + b % 64) -------------------------------------------
sst = [l.split(b"\t")[0] for l in head("glue/SST-2/dev.tsv", 30).split(b"\n")[1:] if l]
put("lmtext", "sst2_sentences_w8", bytes([6]) + b"\n".join(sst) + b"\n")
put("lmtext", "sst2_sentences_w64", bytes([62]) + b"\n".join(sst[:5]))
put("lmtext", "long_line_w2", bytes([0]) + b"word " * 300 + b"\n")
put("lmtext", "empty_and_single", bytes([10]) + b"\n\n\r\na\nhello world\r\n")
put("lmtext", "special_tokens", bytes([20]) + b"<|endoftext|>Hello<|endoftext|> world \xc3\xa9\xe4\xb8\xad\n")
put("lmtext", "invalid_utf8", bytes([20]) + b"good line\nbad \xc3\x28 line\n")
put("lmtext", "nul_bytes", bytes([20]) + b"a\0b c\0\0d\n")
