#!/usr/bin/python3
"""A PyTorch re-implementation of compute_heads_importance() of Hugging Face's BERTology example
(examples/research_projects/bertology/run_bertology.py), written from that script's behaviour,
on the independent BERT of tests/ref/torch_bert.py (float64) and the reference WordPiece of
tests/text/wordpiece_ref.py. Nothing here comes from bertology's C code.

What it reproduces, step by step as HF does it:
  * GlueDataset: every example encoded with truncation 'longest_first' to max_seq_length and
    padded to exactly max_seq_length (pad id 0, token type 0, attention_mask 0 on padding);
    --data_subset keeps the first N examples; SequentialSampler + DataLoader(batch_size B).
  * head_mask = ones(L, H), requires_grad; the model's loss is the batch MEAN (CrossEntropyLoss /
    MSELoss); loss.backward() every batch and head_mask.grad is NEVER zeroed, so after batch k
    it holds sum_{j<=k} G_j and head_importance += |head_mask.grad| adds that running sum.
    (--zero-grad gives the plain per-batch sum_b |G_b| instead: bertology's batch granularity
    without --hf-compat.)
  * entropy(p) = -sum p log p with 0 log 0 = 0 over the keys of the gated probabilities, times
    attention_mask on the query positions, summed over queries and the batch.
  * tot_tokens = sum of attention_mask; both matrices divided by it; per-layer L2 normalisation
    (+1e-20); global min-max; head_importance.npy / attn_entropy.npy saved as float32;
    the three tables printed by print_2d_tensor (including its header, which counts len(tensor)
    = the number of LAYERS, as HF's code does), and head ranks by a descending sort.

  PYTHONPATH=tests/ref:tests/text hf_loop.py --model DIR --task sst-2|rte|... --data DIR --batch-size B --max-seq-length 128
             [--subset N] [--zero-grad] --output-dir OUT
"""
import argparse
import os
import sys

import numpy as np
import torch

import torch_bert
import wordpiece_ref

# GLUE dev files as HF's processors read them: (text_a column, text_b column or None, label
# column, label list); the header line is skipped (CoLA has none).
TASKS = {
    "sst-2": (0, None, 1, ["0", "1"], True),
    "cola": (3, None, 1, ["0", "1"], False),
    "rte": (1, 2, 3, ["entailment", "not_entailment"], True),
    "qnli": (1, 2, 3, ["entailment", "not_entailment"], True),
    "wnli": (1, 2, 3, ["0", "1"], True),
}


def read_glue(data_dir, task, subset):
    a, b, y, labels, header = TASKS[task]
    with open(os.path.join(data_dir, "dev.tsv"), encoding="utf-8-sig") as f:
        rows = [ln.rstrip("\n").split("\t") for ln in f if ln.strip()]
    rows = rows[1:] if header else rows
    if subset > 0:
        rows = rows[:subset]
    return [(r[a], r[b] if b is not None else None, labels.index(r[y])) for r in rows]


def features(examples, tok, max_len):
    """GlueDataset: padded to max_len, as HF's glue_convert_examples_to_features."""
    n = len(examples)
    ids = torch.zeros(n, max_len, dtype=torch.long)
    types = torch.zeros(n, max_len, dtype=torch.long)
    mask = torch.zeros(n, max_len, dtype=torch.long)
    labels = torch.tensor([e[2] for e in examples], dtype=torch.long)
    for i, (a, b, _) in enumerate(examples):
        x, t = tok.encode(a, b, max_len)
        ids[i, :len(x)] = torch.tensor(x)
        types[i, :len(t)] = torch.tensor(t)
        mask[i, :len(x)] = 1
    return ids, types, mask, labels


def entropy(p):
    plogp = p * torch.log(p)
    plogp[p == 0] = 0
    return -plogp.sum(dim=-1)


def print_2d_tensor(tensor, out):
    out.append("lv, h >\t" + "\t".join(f"{x + 1}" for x in range(len(tensor))))
    for row in range(len(tensor)):
        if tensor.dtype != torch.long:
            out.append(f"layer {row + 1}:\t" + "\t".join(f"{x:.5f}" for x in tensor[row].data))
        else:
            out.append(f"layer {row + 1}:\t" + "\t".join(f"{x:d}" for x in tensor[row].data))


def compute_heads_importance(model, data, batch_size, zero_grad=False, layer_norm=True,
                             global_norm=True):
    ids, types, mask, labels = data
    n_layers, n_heads = model.L, model.H
    head_importance = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    attn_entropy = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    head_mask = torch.ones(n_layers, n_heads, dtype=torch.float64)
    head_mask.requires_grad_(requires_grad=True)
    preds, tot_tokens = [], 0.0
    for start in range(0, len(ids), batch_size):
        sl = slice(start, start + batch_size)
        logits, rec = model.forward(ids[sl], types[sl], head_mask, mask=mask[sl], record="probs")
        loss = model.loss(logits, labels[sl]).mean()
        if zero_grad and head_mask.grad is not None:
            head_mask.grad.zero_()
        loss.backward()
        for layer, attn in enumerate(rec["probs"]):
            masked_entropy = entropy(attn.detach()) * mask[sl].to(torch.float64).unsqueeze(1)
            attn_entropy[layer] += masked_entropy.sum(-1).sum(0).detach()
        head_importance += head_mask.grad.abs().detach()
        preds.append(logits.detach().numpy())
        tot_tokens += float(mask[sl].sum())
    attn_entropy /= tot_tokens
    head_importance /= tot_tokens
    if layer_norm:
        norm_by_layer = torch.pow(torch.pow(head_importance, 2).sum(-1), 1 / 2)
        head_importance /= norm_by_layer.unsqueeze(-1) + 1e-20
    if global_norm:
        head_importance = (head_importance - head_importance.min()) / (
            head_importance.max() - head_importance.min())
    head_ranks = torch.zeros(head_importance.numel(), dtype=torch.long)
    head_ranks[head_importance.view(-1).sort(descending=True)[1]] = torch.arange(
        head_importance.numel())
    head_ranks = head_ranks.view_as(head_importance)
    return attn_entropy, head_importance, head_ranks, np.concatenate(preds), tot_tokens


def run(model_dir, task, data_dir, batch_size, max_len, subset, out_dir, zero_grad=False):
    model = torch_bert.Bert(model_dir)
    tok = wordpiece_ref.RefBert(os.path.join(model_dir, "vocab.txt"))
    data = features(read_glue(data_dir, task, subset), tok, max_len)
    ent, imp, ranks, preds, tot = compute_heads_importance(model, data, batch_size, zero_grad)
    os.makedirs(out_dir, exist_ok=True)
    # HF's tensors are float32; the reference computes in float64 and saves as HF would
    np.save(os.path.join(out_dir, "attn_entropy.npy"), ent.numpy().astype(np.float32))
    np.save(os.path.join(out_dir, "head_importance.npy"), imp.numpy().astype(np.float32))
    lines = ["Attention entropies"]
    print_2d_tensor(ent, lines)
    lines.append("Head importance scores")
    print_2d_tensor(imp, lines)
    lines.append("Head ranked by importance scores")
    print_2d_tensor(ranks, lines)
    return {"entropy": ent.numpy(), "importance": imp.numpy(), "ranks": ranks.numpy(),
            "preds": preds, "labels": data[3].numpy(), "tot_tokens": tot, "lines": lines}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--subset", type=int, default=0)
    ap.add_argument("--zero-grad", action="store_true")
    ap.add_argument("--output-dir", required=True)
    a = ap.parse_args(argv)
    r = run(a.model, a.task, a.data, a.batch_size, a.max_seq_length, a.subset, a.output_dir,
            a.zero_grad)
    print("\n".join(r["lines"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
