"""tokenizer.json: `bertology tokenize` on model directories holding only a tokenizer.json
(written from the shipped vocabularies the way transformers' converters write them) against
tokjson_ref.RefTokJson on every GLUE file in tests/data/glue, the tricky strings of the
WordPiece and BPE comparisons and seeded random Unicode; the same texts through the classic
files of the same vocabulary give the same ids and types; and tokenizer.json files with
components bertology does not implement are refused, naming the component.
"""
import json
import os
import random
import shutil

import pytest

import tokjson_ref as tj
from bttest import GLUE, TESTDATA, bertology, tok
from tok_inputs import EDGE, POOL, fuzz_line, glue_files


def vs_classic(json_dir, classic_dir, lines, pair, max_len, label):
    a = tok.tokenize(json_dir, lines, pair, max_len)
    b = tok.tokenize(classic_dir, lines, pair, max_len)
    return ["%s: %r\n  tokenizer.json %s\n  classic        %s" % (label, x, p, q)
            for x, p, q in zip(lines, a, b) if p != q]


def models(tmp, voc):
    """(name, tokenizer.json dir, classic dir or None)."""
    out = []
    unc, cas = os.path.join(voc, "bert-base-uncased", "vocab.txt"), os.path.join(voc, "bert-base-cased", "vocab.txt")
    gv, gm = os.path.join(voc, "gpt2", "vocab.json"), os.path.join(voc, "gpt2", "merges.txt")

    def classic(name, files, configs):
        d = os.path.join(tmp, name + "_classic")
        os.makedirs(d, exist_ok=True)
        for f in files:
            shutil.copy(f, d)
        for fn, obj in configs.items():
            with open(os.path.join(d, fn), "w") as f:
                json.dump(obj, f)
        return d

    d = os.path.join(tmp, "bert_uncased")
    tj.write(d, tj.bert_json(unc))
    out.append(("bert_uncased", d, classic("bert_uncased", [unc], {"tokenizer_config.json": {"do_lower_case": True}})))
    d = os.path.join(tmp, "bert_cased")
    tj.write(d, tj.bert_json(cas, lowercase=False, processor="bert"))
    out.append(("bert_cased", d, classic("bert_cased", [cas], {"tokenizer_config.json": {"do_lower_case": False}})))
    d = os.path.join(tmp, "gpt2")
    tj.write(d, tj.bpe_json(gv, gm))
    out.append(("gpt2", d, classic("gpt2", [gv, gm], {"config.json": {"model_type": "gpt2"}})))
    extra = [("<s>", 50257, False), ("</s>", 50258, False), ("<pad>", 50259, False), ("<unk>", 50260, False),
             ("<mask>", 50261, True)]
    d = os.path.join(tmp, "roberta")
    tj.write(d, tj.bpe_json(gv, gm, style="roberta", extra=extra))
    dec = {str(i): {"content": t, "lstrip": ls, "rstrip": False, "normalized": False, "single_word": False,
                    "special": True} for t, i, ls in extra}
    out.append(("roberta", d, classic("roberta", [gv, gm], {"tokenizer_config.json": {
        "tokenizer_class": "RobertaTokenizer", "added_tokens_decoder": dec}})))
    # tokenizer.json only: the normalizers other than BertNormalizer (no cleaning, no CJK spacing)
    seq = {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"}]}
    d = os.path.join(tmp, "bert_sequence")
    tj.write(d, tj.bert_json(unc, normalizer=seq))
    out.append(("bert_sequence", d, None))
    d = os.path.join(tmp, "bert_nfd")
    tj.write(d, tj.bert_json(cas, normalizer={"type": "NFD"}))
    out.append(("bert_nfd", d, None))
    # merges as pairs, and the prefix space the library gives every split
    d = os.path.join(tmp, "gpt2_prefix")
    tj.write(d, tj.bpe_json(gv, gm, add_prefix_space=True, merges_as_pairs=True))
    out.append(("gpt2_prefix", d, None))
    return out


REFUSED = [  # (edit of a BERT tokenizer.json, phrase of the message)
    (lambda j: j["model"].update(type="Unigram"), "model type 'Unigram' is not supported"),
    (lambda j: j.update(normalizer={"type": "NFKC"}), "normalizer 'NFKC' is not supported"),
    (lambda j: j.update(normalizer={"type": "Sequence", "normalizers": [{"type": "StripAccents"}, {"type": "NFD"}]}),
     "StripAccents without NFD before it"),
    (lambda j: j.update(normalizer={"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Strip"}]}),
     "normalizer 'Strip' is not supported"),
    (lambda j: j["normalizer"].update(clean_text=False), "normalizer.clean_text false"),
    (lambda j: j.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer 'Whitespace' is not supported"),
    (lambda j: j.update(post_processor={"type": "Foo"}), "post_processor 'Foo' is not supported"),
    (lambda j: j["model"].update(continuing_subword_prefix="@@"), "model.continuing_subword_prefix"),
    (lambda j: j["model"].update(max_input_chars_per_word=50), "model.max_input_chars_per_word"),
    (lambda j: j["model"].update(unk_token="<nope>"), "model.unk_token '<nope>' is not in model.vocab"),
    (lambda j: j["added_tokens"][0].update(single_word=True), "single_word true is not supported"),
    (lambda j: j["added_tokens"][0].update(normalized=True), "normalized true is not supported"),
    (lambda j: j["model"]["vocab"].update({"zzz": 5}), "has no id of its own"),
]
REFUSED_BPE = [
    (lambda j: j["model"].update(dropout=0.1), "model.dropout is not supported"),
    (lambda j: j["model"].update(end_of_word_suffix="</w>"), "model.end_of_word_suffix"),
    (lambda j: j["model"].update(byte_fallback=True), "model.byte_fallback true"),
    (lambda j: j.update(pre_tokenizer={"type": "Metaspace"}), "pre_tokenizer 'Metaspace' is not supported"),
    (lambda j: j["model"]["merges"].append("zz qq"), "is not in model.vocab"),
    (lambda j: j["model"]["merges"].append("a b c"), "is not two symbols separated by one space"),
]


CASES = [("bert", e, p) for e, p in REFUSED] + [("bpe", e, p) for e, p in REFUSED_BPE]


@pytest.mark.parametrize("k", range(len(CASES)), ids=[c[2] for c in CASES])
def test_refused(k, work):
    """tokenizer.json files with unsupported components: exit 2, one line naming it."""
    voc = os.path.join(TESTDATA, "vocab")
    which, edit, phrase = CASES[k]
    base = (tj.bert_json(os.path.join(voc, "bert-base-uncased", "vocab.txt")) if which == "bert" else
            tj.bpe_json(os.path.join(voc, "gpt2", "vocab.json"), os.path.join(voc, "gpt2", "merges.txt")))
    j = json.loads(json.dumps(base))
    edit(j)
    d = os.path.join(work, "refused%d" % k)
    tj.write(d, j)
    p = bertology(["tokenize", "--model", d], input=b"x\n", expect=2)
    msg = p.stderr.decode().strip()
    assert phrase in msg and "tokenizer.json" in msg and "\n" not in msg, \
        "refusal %d: want exit 2 and %r, got %r" % (k, phrase, msg)


@pytest.fixture(scope="module")
def model_dirs(work):
    """{name: (tokenizer.json dir, classic dir or None)}"""
    return {name: (jdir, cdir) for name, jdir, cdir in models(work, os.path.join(TESTDATA, "vocab"))}


@pytest.fixture(scope="module")
def texts():
    rng = random.Random(1616)
    tricky = [t for t in POOL] + [e for e in EDGE if isinstance(e, str) and "\n" not in e and "\t" not in e]
    fuzz = [fuzz_line(rng, False) for _ in range(1500)]
    fuzz_pairs = [fuzz_line(rng, True) for _ in range(500)]
    return tricky, fuzz, fuzz_pairs


MODELS = ["bert_uncased", "bert_cased", "gpt2", "roberta", "bert_sequence", "bert_nfd", "gpt2_prefix"]  # models()


@pytest.mark.parametrize("name", MODELS)
def test_same_ids(name, texts, model_dirs):
    """Against the reference on every GLUE file, tricky strings and fuzz; with classic files of
    the same vocabulary, the same ids as those."""
    tricky, fuzz, fuzz_pairs = texts
    files = glue_files(GLUE)
    jdir, cdir = model_dirs[name]
    ref = tj.RefTokJson(os.path.join(jdir, "tokenizer.json"))
    bad, n = [], 0
    for fname, (lines, pair) in files.items():
        # the variants without classic files (other normalizers, prefix space) skip the two
        # big train files, whose text the four main models cover; big files once, the rest
        # also truncated
        if not cdir and len(lines) > 6000:
            continue
        for max_len in ((512,) if len(lines) > 2000 else (512, 20)):
            bad += tok.mismatches(jdir, ref, lines, pair, max_len, "%s %s" % (name, fname))
            n += len(lines)
            if cdir:
                bad += vs_classic(jdir, cdir, lines, pair, max_len, "%s %s" % (name, fname))
    bad += tok.mismatches(jdir, ref, tricky, False, 512, name + " tricky")
    bad += tok.mismatches(jdir, ref, fuzz, False, 512, name + " fuzz")
    bad += tok.mismatches(jdir, ref, fuzz_pairs, True, 40, name + " fuzz pairs")
    n += len(tricky) + len(fuzz) + len(fuzz_pairs)
    assert not bad, "%d of %d lines differ:\n%s" % (len(bad), n, "\n".join(bad[:12]))
    print("%-13s %s: %d lines agree (GLUE %s, tricky, fuzz)" % (
        name, "vs reference" + (" and classic files" if cdir else ""), n,
        "all files" if cdir else "files but SST-2/CoLA train"))
