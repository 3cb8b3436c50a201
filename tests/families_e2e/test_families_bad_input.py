"""Bad input for the model families and --text, under mpirun -np 3 (bttest.refused: exit 2, one
line "bertology CMD: ..." holding the case's key words (the model directory, FILE:LINE, the
flag at fault), nothing on stdout, no run.h5 left in --out; and, run again with each rank's exit
code recorded, all 3 ranks exit 2 before the timeout).

Cases: a GPT-2 language model given a GLUE task (pairs and single sentences; importance, eval,
mask), --text given a classifier (BERT, DistilBERT, GPT-2 with a score head), a text file with
invalid UTF-8 (FILE:LINE), missing / empty / directory / one-token-lines text files, --text with
--task, the real tiny GPT-2 without tokenizer files, a bad --tokenizer, a RoBERTa directory
without merges.txt, openai-gpt given GPT-2's byte-level vocabulary (read as OpenAI GPT's BPE,
which finds no "a</w>" and no <unk> in it), --max-seq-length beyond the positions, and
a tokenizer whose ids exceed the model's vocabulary.
"""
import os
import shutil

import pytest

import make_checkpoint_family
from bttest import GLUE, GPT2_VOCAB, TINY_GPT2, models, refused, text_file, tsv_column


@pytest.fixture(scope="module")
def inputs(work, blas_one_thread):
    """The models and files the cases name (as {name} in their arguments)."""
    w = work
    d = dict(w=w, rte=os.path.join(GLUE, "RTE"), sst2=os.path.join(GLUE, "SST-2"), tiny=TINY_GPT2)
    d["g2"] = models.gpt2(os.path.join(w, "gpt2"), layers=2)
    d["g2cls"] = models.gpt2(os.path.join(w, "gpt2_cls"), layers=2, labels=2)
    d["g2small"] = models.gpt2(os.path.join(w, "gpt2_vocab100"), layers=2, vocab=100)  # GPT-2's tokenizer, 100 embeddings
    d["db"] = models.distilbert(os.path.join(w, "distilbert"))
    d["rb"] = models.roberta(os.path.join(w, "roberta_no_merges"))
    os.remove(os.path.join(d["rb"], "merges.txt"))
    d["bert"] = models.bert(os.path.join(w, "bert"), layers=2, hidden=32, heads=4, max_pos=64)
    d["gpt"] = os.path.join(w, "openai_gpt")
    make_checkpoint_family.make_checkpoint(d["gpt"], "openai-gpt", layers=2, vocab=50257, max_pos=64)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(GPT2_VOCAB, f), os.path.join(d["gpt"], f))
    d["good"] = text_file(os.path.join(w, "good.txt"), tsv_column(os.path.join(GLUE, "RTE", "dev.tsv"), 1, 4))
    d["bad"] = text_file(os.path.join(w, "bad_utf8.txt"), ["A fine first line.", "", b"caf\xc3 au lait \xff", "fine again"])
    d["empty"] = text_file(os.path.join(w, "empty.txt"), ["", "", ""])
    d["onetok"] = text_file(os.path.join(w, "one_token_lines.txt"), ["Hello", "world", "."])
    os.makedirs(os.path.join(w, "a_directory.txt"))
    return d


LM = ["--max-seq-length", "32"]
CASES = [  # name, argv, words the message must hold ({x}: inputs()'s x)
    ("lm_rte", ["importance", "--model", "{g2}", "--task", "rte", "--data", "{rte}"] + LM,
     ["{g2}", "rte", "classification head", "language model"]),
    ("lm_sst2_eval", ["eval", "--model", "{g2}", "--task", "sst-2", "--data", "{sst2}"] + LM,
     ["{g2}", "sst-2", "classification head"]),
    ("lm_rte_mask", ["mask", "--model", "{g2}", "--task", "rte", "--data", "{rte}"] + LM, ["{g2}", "classification head"]),
    ("lm_rte_ablate", ["ablate", "--model", "{g2}", "--task", "rte", "--data", "{rte}"] + LM, ["{g2}"]),
    ("text_bert", ["importance", "--model", "{bert}", "--text", "{good}"] + LM, ["{bert}", "classification head"]),
    ("text_distilbert", ["eval", "--model", "{db}", "--text", "{good}"] + LM, ["{db}", "classification head"]),
    ("text_gpt2_cls", ["importance", "--model", "{g2cls}", "--text", "{good}"] + LM, ["{g2cls}", "classification head"]),
    ("bad_utf8", ["importance", "--model", "{g2}", "--text", "{bad}"] + LM, ["{bad}:3", "UTF-8"]),
    ("bad_utf8_eval", ["eval", "--model", "{g2}", "--text", "{bad}"] + LM, ["{bad}:3", "UTF-8"]),
    ("missing_text", ["importance", "--model", "{g2}", "--text", "{w}/missing.txt"] + LM, ["{w}/missing.txt"]),
    ("empty_text", ["importance", "--model", "{g2}", "--text", "{empty}"] + LM, ["{empty}"]),
    ("one_token_lines", ["importance", "--model", "{g2}", "--text", "{onetok}"] + LM, ["{onetok}"]),
    ("text_is_dir", ["importance", "--model", "{g2}", "--text", "{w}/a_directory.txt"] + LM,
     ["{w}/a_directory.txt", "Is a directory"]),
    ("text_and_task", ["importance", "--model", "{g2}", "--text", "{good}", "--task", "rte", "--data", "{rte}"] + LM,
     ["--text", "--task"]),
    ("tiny_no_tokenizer", ["importance", "--model", "{tiny}", "--text", "{good}"] + LM, ["{tiny}", "tokenizer"]),
    ("bad_tokenizer_dir", ["importance", "--model", "{tiny}", "--text", "{good}", "--tokenizer", "{w}/nowhere"] + LM,
     ["{w}/nowhere"]),
    ("roberta_no_merges", ["importance", "--model", "{rb}", "--task", "sst-2", "--data", "{sst2}"] + LM, ["{rb}"]),
    ("openai_gpt_text", ["importance", "--model", "{gpt}", "--text", "{good}"] + LM,
     ["{gpt}/vocab.json", "</w>' is not in", "no unk token"]),
    ("seq_too_long", ["importance", "--model", "{g2}", "--text", "{good}", "--max-seq-length", "65"],
     ["65", "64", "config.json"]),
    ("ids_beyond_vocab", ["importance", "--model", "{g2small}", "--text", "{good}"] + LM, ["vocabulary", "100"]),
]


@pytest.mark.parametrize("name,argv,words", CASES, ids=[c[0] for c in CASES])
def test_refused_on_every_rank(name, argv, words, inputs, check):
    out = os.path.join(inputs["w"], "cases", name, "out")
    argv = [a.format(**inputs) for a in argv] + ["--out", out, "--threads", "1"]
    refused(check, name, argv, out, [x.format(**inputs) for x in words])
