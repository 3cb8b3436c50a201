#!/usr/bin/python3
"""Trains data/demo-sst2: a small BERT sentiment classifier for SST-2, from scratch.

    data/train_demo_model.py --bertology BUILD/bertology [--out data/demo-sst2] [options]

Steps, each chosen so that the C engine scores exactly what was trained:
  1. Tokenise SST-2 train and dev with `bertology tokenize` on the full bert-base-uncased vocab
     (the C tokenizer is the one the engine will be fed by, so it defines the token strings).
  2. Reduce the vocab to the special tokens, every token used on train + dev, and the single
     characters (plain and ##) of the full vocab, kept in their original order. Greedy
     longest-match-first WordPiece then picks the same pieces on this text: every piece it chose
     is still there and no longer piece was added. Step 3 checks it anyway.
  3. Re-tokenise with `bertology tokenize` on the output directory and require the same token
     strings for every sentence.
  4. Train a post-LN BERT (Hugging Face BertForSequenceClassification layout) in float32 with
     AdamW and linear warmup/decay; evaluate on dev in float32 and with every weight rounded to
     float16, the dtype written to model.safetensors.
  5. Write config.json, model.safetensors (F16, Hugging Face tensor names), vocab.txt,
     tokenizer_config.json and training.json (settings, seed, wall time, loss curve, dev scores).

Needs Debian's python3-torch and python3-numpy only (no transformers, no safetensors package).
"""
import argparse
import json
import math
import os
import platform
import random
import struct
import subprocess
import sys
import tempfile
import time


def _openblas_coretype():
    """OpenBLAS 0.3.21 (Debian bookworm) does not recognise some virtualised Xeons ("Intel(R)
    Xeon(R) Processor") and falls back to its Prescott (SSE3) kernels: sgemm ran 5x slower here.
    Name the kernel set from the CPU flags before numpy/torch load OpenBLAS, unless the user did."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    except OSError:
        return
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif {"avx2", "fma"} <= set(flags):
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_openblas_coretype()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO, "tests", "data")  # byte-exact copies, tests/data/SOURCES.md
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


# ---------------------------------------------------------------------------------------------
# data

def read_sst2(path):
    """(sentences, labels) of a GLUE SST-2 TSV: header 'sentence<TAB>label', one row a line."""
    sents, labels = [], []
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].rstrip("\r") != "sentence\tlabel":
        sys.exit("%s:1: expected the header 'sentence<TAB>label'" % path)
    for no, line in enumerate(lines[1:], start=2):
        fields = line.rstrip("\r").split("\t")
        if len(fields) != 2 or fields[1] not in ("0", "1"):
            sys.exit("%s:%d: expected 'sentence<TAB>0|1', got %r" % (path, no, line[:80]))
        if "\n" in fields[0]:
            sys.exit("%s:%d: sentence holds a newline" % (path, no))
        sents.append(fields[0])
        labels.append(int(fields[1]))
    return sents, labels


def write_tokenizer_dir(d, vocab_tokens, max_len):
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in vocab_tokens))
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": max_len,
                   "tokenizer_class": "BertTokenizer"}, f, indent=2)
        f.write("\n")


def c_tokenize(bertology, model_dir, sents, max_len):
    """Token ids from `bertology tokenize`, one list per sentence."""
    data = "".join(s + "\n" for s in sents).encode("utf-8")
    cmd = [bertology, "tokenize", "--model", model_dir, "--max-seq-length", str(max_len)]
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.decode()))
    out = p.stdout.decode().split("\n")
    if out[-1] != "" or len(out) - 1 != len(sents):
        sys.exit("%s: %d output lines for %d sentences" % (" ".join(cmd), len(out) - 1, len(sents)))
    return [[int(x) for x in line.split()] for line in out[:-1]]


def reduced_vocab(full, used_ids):
    """Specials + used tokens + single characters (plain and ##), in the full vocab's order."""
    keep = set(used_ids)
    for i, t in enumerate(full):
        if t in SPECIALS or len(t) == 1 or (t.startswith("##") and len(t) == 3):
            keep.add(i)
    return [full[i] for i in sorted(keep)]


# ---------------------------------------------------------------------------------------------
# model: the Hugging Face BertForSequenceClassification computation, parameter names included

class SelfAttention(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        D = cfg["hidden_size"]
        s.H, s.dh = cfg["num_attention_heads"], D // cfg["num_attention_heads"]
        s.query, s.key, s.value = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)
        s.dropout = nn.Dropout(cfg["attention_probs_dropout_prob"])

    def forward(s, x, bias):
        B, T, D = x.shape
        q, k, v = (m(x).view(B, T, s.H, s.dh).transpose(1, 2) for m in (s.query, s.key, s.value))
        scores = q @ k.transpose(-1, -2) / math.sqrt(s.dh) + bias
        probs = s.dropout(torch.softmax(scores, dim=-1))
        return (probs @ v).transpose(1, 2).reshape(B, T, D)


class DenseLN(nn.Module):
    """Post-LN residual: LayerNorm(residual + dropout(dense(x)))."""

    def __init__(s, cfg, d_in):
        super().__init__()
        D = cfg["hidden_size"]
        s.dense = nn.Linear(d_in, D)
        s.LayerNorm = nn.LayerNorm(D, eps=cfg["layer_norm_eps"])
        s.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(s, x, residual):
        return s.LayerNorm(residual + s.dropout(s.dense(x)))


class Attention(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.self = SelfAttention(cfg)
        s.output = DenseLN(cfg, cfg["hidden_size"])

    def forward(s, x, bias):
        return s.output(s.self(x, bias), x)


class Intermediate(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.dense = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])

    def forward(s, x):
        return F.gelu(s.dense(x))  # erf GELU: config hidden_act "gelu"


class Layer(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.attention = Attention(cfg)
        s.intermediate = Intermediate(cfg)
        s.output = DenseLN(cfg, cfg["intermediate_size"])

    def forward(s, x, bias):
        a = s.attention(x, bias)
        return s.output(s.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.layer = nn.ModuleList(Layer(cfg) for _ in range(cfg["num_hidden_layers"]))

    def forward(s, x, bias):
        for layer in s.layer:
            x = layer(x, bias)
        return x


class Embeddings(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        D = cfg["hidden_size"]
        s.word_embeddings = nn.Embedding(cfg["vocab_size"], D, padding_idx=cfg["pad_token_id"])
        s.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], D)
        s.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], D)
        s.LayerNorm = nn.LayerNorm(D, eps=cfg["layer_norm_eps"])
        s.dropout = nn.Dropout(cfg["hidden_dropout_prob"])

    def forward(s, ids, types):
        pos = torch.arange(ids.shape[1])
        x = s.word_embeddings(ids) + s.position_embeddings(pos)[None] + s.token_type_embeddings(types)
        return s.dropout(s.LayerNorm(x))


class Pooler(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])

    def forward(s, h):
        return torch.tanh(s.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.embeddings, s.encoder, s.pooler = Embeddings(cfg), Encoder(cfg), Pooler(cfg)

    def forward(s, ids, types, mask):
        # Padded keys get the most negative float added, as transformers does.
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        return s.pooler(s.encoder(s.embeddings(ids, types), bias))


class BertForSequenceClassification(nn.Module):
    def __init__(s, cfg):
        super().__init__()
        s.bert = BertModel(cfg)
        s.dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        s.classifier = nn.Linear(cfg["hidden_size"], cfg["num_labels"])
        s.apply(lambda m: init_weights(m, cfg["initializer_range"]))

    def forward(s, ids, types, mask):
        return s.classifier(s.dropout(s.bert(ids, types, mask)))


def init_weights(m, std):
    """transformers' BertPreTrainedModel._init_weights."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, std)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, std)
        if m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------
# training

def pad_batch(seqs, labels):
    T = max(len(x) for x in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.long)  # [PAD] = 0
    mask = torch.zeros(len(seqs), T, dtype=torch.long)
    for i, x in enumerate(seqs):
        ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    return ids, torch.zeros_like(ids), mask, torch.tensor(labels)


def length_grouped_batches(lengths, batch_size, rng, group=50):
    """Shuffled batches of similar length: shuffle, sort within chunks of group batches, shuffle
    the batches. Cuts padding (SST-2 train has 3- and 60-token rows) without fixing the order."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches = []
    chunk = batch_size * group
    for c0 in range(0, len(idx), chunk):
        part = sorted(idx[c0:c0 + chunk], key=lambda i: lengths[i])
        batches += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def evaluate(model, seqs, labels, batch_size=128):
    """(accuracy, n_correct, mean cross-entropy) in eval mode (no dropout)."""
    model.eval()
    correct, loss_sum = 0, 0.0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    for b in range(0, len(order), batch_size):
        sel = order[b:b + batch_size]
        ids, types, mask, y = pad_batch([seqs[i] for i in sel], [labels[i] for i in sel])
        logits = model(ids, types, mask)
        correct += int((logits.argmax(-1) == y).sum())
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
    model.train()
    return correct / len(seqs), correct, loss_sum / len(seqs)


def f16_rounded(model):
    """A copy whose every parameter is rounded to float16 (the stored dtype), computing in f32."""
    import copy
    m = copy.deepcopy(model)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.half().float())
    return m


def train(args, cfg, train_seqs, train_labels, dev_seqs, dev_labels, log):
    model = BertForSequenceClassification(cfg)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # transformers' examples: no weight decay on biases and LayerNorm weights
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.999), eps=1e-8, foreach=True)
    steps_per_epoch = math.ceil(len(train_seqs) / args.batch_size)
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup = int(round(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    rng = random.Random(args.seed)
    lengths = [len(x) for x in train_seqs]
    curve, window, step, t0 = [], [], 0, time.time()
    epochs_log, dev_curve = [], []
    model.train()
    for epoch in range(args.epochs):
        ep_loss, ep_n = 0.0, 0
        for sel in length_grouped_batches(lengths, args.batch_size, rng):
            if step >= total:
                break
            ids, types, mask, y = pad_batch([train_seqs[i] for i in sel], [train_labels[i] for i in sel])
            loss = F.cross_entropy(model(ids, types, mask), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            opt.step()
            sched.step()
            step += 1
            window.append(float(loss))
            ep_loss += float(loss) * len(sel)
            ep_n += len(sel)
            if step % args.log_every == 0 or step == total:
                curve.append({"step": step, "epoch": round(step / steps_per_epoch, 3),
                              "mean_loss": round(sum(window) / len(window), 4),
                              "lr": float("%.4g" % sched.get_last_lr()[0]),
                              "seconds": round(time.time() - t0, 1)})
                log("step %d/%d  loss %.4f  lr %.2e  %.0fs" % (step, total, curve[-1]["mean_loss"],
                                                              curve[-1]["lr"], curve[-1]["seconds"]))
                window = []
            if args.eval_every and step % args.eval_every == 0:
                acc, n_ok, dloss = evaluate(model, dev_seqs, dev_labels)
                dev_curve.append({"step": step, "dev_accuracy_f32": round(acc, 6),
                                  "dev_loss_f32": round(dloss, 6)})
                log("step %d: dev accuracy %.4f, dev loss %.4f (monitoring only)" % (step, acc, dloss))
        acc, n_ok, dloss = evaluate(model, dev_seqs, dev_labels)
        epochs_log.append({"epoch": epoch + 1, "steps": step,
                           "train_loss": round(ep_loss / max(1, ep_n), 4),
                           "dev_accuracy_f32": round(acc, 6), "dev_loss_f32": round(dloss, 6)})
        log("epoch %d: train loss %.4f, dev accuracy %.4f (%d/%d), dev loss %.4f"
            % (epoch + 1, epochs_log[-1]["train_loss"], acc, n_ok, len(dev_seqs), dloss))
        if step >= total:
            break
    return model, {"steps": step, "steps_per_epoch": steps_per_epoch, "warmup_steps": warmup,
                   "loss_curve": curve, "dev_curve": dev_curve, "epochs": epochs_log,
                   "train_seconds": round(time.time() - t0, 1)}


# ---------------------------------------------------------------------------------------------
# output

def write_safetensors(path, named, metadata):
    """F16 safetensors by hand: u64 LE header length, JSON header padded with spaces to 8 bytes,
    then the little-endian tensors back to back (offsets relative to the end of the header)."""
    header, blobs, off = {}, [], 0
    for name, t in named:
        a = np.ascontiguousarray(t.detach().numpy().astype("<f2"))
        header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    header["__metadata__"] = metadata
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bertology", required=True, help="the bertology CLI (for its tokenizer)")
    ap.add_argument("--train", default=os.path.join(FIXTURES, "glue", "SST-2", "train.tsv"))
    ap.add_argument("--dev", default=os.path.join(REPO, "data", "glue", "SST-2", "dev.tsv"))
    ap.add_argument("--vocab", default=os.path.join(FIXTURES, "vocab", "bert-base-uncased", "vocab.txt"))
    ap.add_argument("--out", default=os.path.join(REPO, "data", "demo-sst2"))
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1,
                    help="1: on a shared 2-core machine 2 threads ran 5x slower (OpenMP spin)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop early (smoke runs only)")
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--eval-every", type=int, default=500, help="log dev accuracy (not used to select)")
    ap.add_argument("--max-mb", type=float, default=16.0, help="refuse a larger directory (10^6 B)")
    args = ap.parse_args()

    t_start = time.time()
    log = lambda msg: print("[%6.0fs] %s" % (time.time() - t_start, msg), flush=True)  # noqa: E731
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    train_sents, train_labels = read_sst2(args.train)
    dev_sents, dev_labels = read_sst2(args.dev)
    with open(args.vocab, encoding="utf-8") as f:
        full = f.read().split("\n")
    if full[-1] == "":
        full.pop()
    log("%d train, %d dev sentences; full vocab %d" % (len(train_sents), len(dev_sents), len(full)))

    # 1-3: tokenise with the C tokenizer, reduce the vocab, check the pieces are unchanged
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer_dir(tmp, full, args.max_seq_length)
        full_ids = c_tokenize(args.bertology, tmp, train_sents + dev_sents, args.max_seq_length)
    used = {i for seq in full_ids for i in seq}
    vocab = reduced_vocab(full, used)
    os.makedirs(args.out, exist_ok=True)
    write_tokenizer_dir(args.out, vocab, args.max_seq_length)
    red_ids = c_tokenize(args.bertology, args.out, train_sents + dev_sents, args.max_seq_length)
    for n, (a, b) in enumerate(zip(full_ids, red_ids)):
        if [full[i] for i in a] != [vocab[i] for i in b]:
            sys.exit("sentence %d: pieces differ with the reduced vocab: %s vs %s"
                     % (n, [full[i] for i in a], [vocab[i] for i in b]))
    n_trunc = sum(len(x) >= args.max_seq_length for x in full_ids)
    if n_trunc:
        sys.exit("%d sentences reach --max-seq-length %d (truncated)" % (n_trunc, args.max_seq_length))
    n_unk = sum(seq.count(full.index("[UNK]")) for seq in full_ids)
    log("reduced vocab %d (%d used on train+dev); pieces identical on all %d sentences; "
        "longest %d tokens; %d [UNK]" % (len(vocab), len(used), len(red_ids),
                                         max(len(x) for x in red_ids), n_unk))
    train_seqs, dev_seqs = red_ids[:len(train_sents)], red_ids[len(train_sents):]

    cfg = {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": args.dropout,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": args.dropout,
        "hidden_size": args.hidden,
        "id2label": {"0": "0", "1": "1"},
        "initializer_range": 0.02,
        "intermediate_size": args.intermediate,
        "label2id": {"0": 0, "1": 1},
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": args.max_seq_length,
        "model_type": "bert",
        "num_attention_heads": args.heads,
        "num_hidden_layers": args.layers,
        "num_labels": 2,
        "pad_token_id": vocab.index("[PAD]"),
        "position_embedding_type": "absolute",
        "problem_type": "single_label_classification",
        "torch_dtype": "float16",
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
    }

    # 4: train, then score dev in f32 and with the stored f16 weights
    model, hist = train(args, cfg, train_seqs, train_labels, dev_seqs, dev_labels, log)
    acc32, ok32, loss32 = evaluate(model, dev_seqs, dev_labels)
    m16 = f16_rounded(model)
    acc16, ok16, loss16 = evaluate(m16, dev_seqs, dev_labels)
    log("dev accuracy f32 %.4f (%d/%d), f16 weights %.4f (%d/%d)"
        % (acc32, ok32, len(dev_seqs), acc16, ok16, len(dev_seqs)))

    # 5: the Hugging Face model directory
    cfg["num_labels"] = 2
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({k: cfg[k] for k in sorted(cfg) if k != "num_labels"}, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(args.out, "model.safetensors"), list(model.named_parameters()),
                      {"format": "pt"})
    training = {
        "task": "SST-2 (GLUE), binary sentiment",
        "script": "data/train_demo_model.py",
        "command": " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
        "train_file": os.path.relpath(os.path.abspath(args.train), REPO),
        "dev_file": os.path.relpath(os.path.abspath(args.dev), REPO),
        "n_train": len(train_seqs),
        "n_dev": len(dev_seqs),
        "tokenizer": {"source_vocab": os.path.relpath(os.path.abspath(args.vocab), REPO),
                      "source_vocab_size": len(full), "tokens_used_train_dev": len(used),
                      "vocab_size": len(vocab), "do_lower_case": True,
                      "max_seq_length": args.max_seq_length,
                      "longest_sequence": max(len(x) for x in red_ids),
                      "unk_tokens_train_dev": n_unk,
                      "tokenised_by": "bertology tokenize (C), identical pieces full vs reduced"},
        "model": {k: cfg[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                      "intermediate_size", "max_position_embeddings", "vocab_size")},
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "settings": {"seed": args.seed, "epochs": args.epochs, "batch_size": args.batch_size,
                     "optimizer": "AdamW(betas=(0.9, 0.999), eps=1e-8)", "lr": args.lr,
                     "schedule": "linear warmup then linear decay to 0",
                     "warmup_fraction": args.warmup, "warmup_steps": hist["warmup_steps"],
                     "weight_decay": args.weight_decay,
                     "weight_decay_excludes": "biases and LayerNorm weights",
                     "max_grad_norm": args.max_grad_norm, "dropout": args.dropout,
                     "init": "normal(0, 0.02), LayerNorm 1/0, biases 0 (transformers' BERT init)",
                     "batching": "shuffled, length-grouped within chunks of 50 batches, padded",
                     "train_dtype": "float32", "stored_dtype": "float16",
                     "max_steps": args.max_steps, "torch_threads": args.threads,
                     "steps": hist["steps"], "steps_per_epoch": hist["steps_per_epoch"]},
        "loss_curve": hist["loss_curve"],
        "dev_curve": hist["dev_curve"],
        "epochs": hist["epochs"],
        "dev": {"accuracy_f32": acc32, "correct_f32": ok32, "loss_f32": loss32,
                "accuracy_f16": acc16, "correct_f16": ok16, "loss_f16": loss16,
                "note": "f16 = every weight rounded to float16 (as stored), computed in float32; "
                        "the final model, no selection on dev"},
        "train_seconds": hist["train_seconds"],
        "wall_seconds": round(time.time() - t_start, 1),
        "environment": {"torch": torch.__version__, "numpy": np.__version__,
                        "python": platform.python_version(), "machine": platform.machine(),
                        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")},
    }
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(training, f, indent=2)
        f.write("\n")
    size = dir_bytes(args.out)
    log("wrote %s: %d bytes" % (args.out, size))
    if size > args.max_mb * 1e6:
        sys.exit("%s is %d bytes, over %.0f MB" % (args.out, size, args.max_mb))


if __name__ == "__main__":
    main()
