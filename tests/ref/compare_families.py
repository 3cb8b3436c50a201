"""`bertology forward` on GPT-2, GPT (openai-gpt), RoBERTa and DistilBERT checkpoints against
the float64 references (torch_gpt2.py, torch_families.py), plus checks of the references, of
the loader's write-back and of bad input: the comparisons test_families.py runs
(families.GROUP).

NAME is a configuration (CONFIGS: a random checkpoint from make_checkpoint_family.py, random
sequences with lengths 1 and P included, gates with exact 0s and 1s, labels for classifiers;
LM models need none) or a check:
  ref     the references themselves: autograd gate gradients == SPEC's sum_t <dL/d(xi ctx), ctx>
          == central differences (float64); GPT-2 and GPT against a second, numpy/scipy
          implementation written loop-per-head from the transformers formulas; RoBERTa and
          DistilBERT against torch_bert.py (another engineer's BERT) on the same weights
          converted to BERT's layout; pruned checkpoints == masked full models; causality
          (a decoder's outputs at t do not depend on tokens after t).
  save    bt_model_load + bt_model_prune + bt_model_save (mk_model_dump) of each family:
          the written tensors (names, shapes, values bit for bit) and config equal what
          make_checkpoint_family.py writes for the pruned model, the way transformers
          save_pretrained lays it out (GPT-2's c_attn keeps q, k, v column blocks).
  tiny    the real tiny GPT-2 checkpoint (tests/data/models/tiny-gpt2) runs and matches.
  errors  bad model directories exit 2 with a one-line message naming the field or tensor.

Tolerances are those of compare_engine.py: logits/loss/hidden/entropy 1e-5 scaled, gate
gradients 1e-4 of the sequence's max |g|, attention 1e-5 absolute.
"""
import json
import os
import shutil

import numpy as np
import scipy.special as sp
import torch

import compare_engine as ce
import make_checkpoint_family as mcf
import safetensors_np
import torch_bert
import torch_families as tf
from bttest import TINY_GPT2, run

P = 20  # usable positions of every test model (RoBERTa's table has pad + 1 more rows)

PRUNE = {"0": [1], "1": [0, 1, 2, 3], "2": [0, 3]}
CONFIGS = {
    "gpt2": dict(family="gpt2", layers=3, hidden=64, heads=4),
    "gpt2_f16": dict(family="gpt2", layers=2, hidden=32, heads=4, dtype="F16"),
    "gpt2_odd": dict(family="gpt2", layers=2, hidden=60, heads=5, ff=150, vocab=1000, act="gelu",
                     eps=1e-3),
    "gpt2_cls": dict(family="gpt2", layers=2, hidden=32, heads=4, labels=3, pad_token_id=99),
    "gpt2_reg": dict(family="gpt2", layers=2, hidden=32, heads=2, labels=1, act="relu"),
    "gpt2_base": dict(family="gpt2", layers=2, hidden=32, heads=4, base=True),
    "gpt2_extra": dict(family="gpt2", layers=2, hidden=32, heads=4, extra=True),
    "gpt2_pruned": dict(family="gpt2", layers=3, hidden=64, heads=4, pruned_heads=PRUNE),
    "gpt": dict(family="openai-gpt", layers=3, hidden=48, heads=4),
    "gpt_cls": dict(family="openai-gpt", layers=2, hidden=32, heads=4, labels=2, act="relu"),
    "gpt_pruned": dict(family="openai-gpt", layers=3, hidden=32, heads=4, pruned_heads=PRUNE),
    "roberta": dict(family="roberta", layers=3, hidden=64, heads=4, labels=3),
    "roberta_reg": dict(family="roberta", layers=2, hidden=32, heads=2, labels=1, pad_token_id=0,
                        type_vocab=2, eps=1e-12, act="gelu_new"),
    "roberta_base": dict(family="roberta", layers=2, hidden=32, heads=4, base=True, extra=True),
    # RobertaForMaskedLM (CodeBERT's class): "roberta." keys, an LM head the engine ignores
    "roberta_mlm": dict(family="roberta", layers=2, hidden=32, heads=4, mlm=True),
    "roberta_pruned": dict(family="roberta", layers=3, hidden=32, heads=4, labels=2,
                           pruned_heads=PRUNE),
    "distilbert": dict(family="distilbert", layers=3, hidden=64, heads=4, labels=2),
    "distilbert_f16": dict(family="distilbert", layers=2, hidden=32, heads=4, labels=2, dtype="F16"),
    "distilbert_relu": dict(family="distilbert", layers=2, hidden=48, heads=3, ff=100, labels=1,
                            act="relu"),
    "distilbert_base": dict(family="distilbert", layers=2, hidden=32, heads=4, base=True),
    "distilbert_pruned": dict(family="distilbert", layers=3, hidden=32, heads=4, labels=2,
                              pruned_heads=PRUNE),
}
CHECKS = ("ref", "save", "tiny", "errors")
TINY = TINY_GPT2


class Failure(Exception):
    pass


def max_pos_for(kw):
    pad = kw.get("pad_token_id", 1) if kw["family"] == "roberta" else -1
    return P + pad + 1


class Case:
    """A family checkpoint plus sequences, labels and gates written to files."""

    def __init__(self, root, name, kw, n_seqs=12, seed=0, model_dir=None):
        self.name, self.dir = name, os.path.join(root, name)
        self.kw = kw = dict(kw, max_pos=max_pos_for(kw), seed=seed + 29)
        self.model_dir = model_dir or os.path.join(self.dir, "model")
        if model_dir is None:
            mcf.make_checkpoint(self.model_dir, **kw)
        self.ref = m = tf.load(self.model_dir)
        rng = np.random.default_rng(seed)
        V = m.cfg["vocab_size"]
        lens = [1, 2, P] + list(rng.integers(1, P + 1, n_seqs - 3))
        rng.shuffle(lens)
        self.seqs = [[int(t) for t in rng.integers(0, V, n)] for n in lens]
        self.seqs[0][0] = 0
        self.seqs[-1][-1] = V - 1
        if kw["family"] == "roberta":
            # transformers numbers positions by counting non-pad tokens: a pad id inside a
            # sequence is a padded position there, a token here (see torch_families.py)
            pad = m.pad
            self.seqs = [[t if t != pad else (pad + 1) % V for t in s] for s in self.seqs]
        if getattr(m, "pad", None) is not None and m.head != tf.HEAD_LM and kw["family"] != "roberta":
            # a classifier reads the last token that is not pad_token_id: keep it the last one
            for s in self.seqs:
                if len(s) > 1 and s[-1] == m.pad:
                    s[-1] = (m.pad + 1) % V
        self.types = None
        if kw["family"] == "roberta":
            TV = m.cfg["type_vocab_size"]
            self.types = [[int(t) for t in rng.integers(0, TV, len(s))] for s in self.seqs]
        self.labels = None
        if m.head == tf.HEAD_REGRESS:
            self.labels = [float(v) for v in rng.uniform(-1, 3, n_seqs).round(4)]
        elif m.head == tf.HEAD_CLASSIFY:
            self.labels = [int(v) for v in rng.integers(0, m.C, n_seqs)]
        g = rng.uniform(0, 1, (m.L, m.H))
        r = rng.random((m.L, m.H))
        g[r < 0.2], g[r > 0.8] = 0.0, 1.0
        present = [(l, h) for l in range(m.L) for h in m.present[l]]
        (l0, h0), (l1, h1) = present[0], present[-1]
        g[l0, h0], g[l1, h1] = 0.0, 1.0
        self.gates = g.astype(np.float32)
        os.makedirs(self.dir, exist_ok=True)
        self.files = {"ids": self.write_lines("ids.txt", self.seqs),
                      "gates": os.path.join(self.dir, "gates.npy")}
        np.save(self.files["gates"], self.gates)
        if self.types is not None:
            self.files["types"] = self.write_lines("types.txt", self.types)
        if self.labels is not None:
            self.files["labels"] = self.write_lines("labels.txt", [[v] for v in self.labels])

    def write_lines(self, fn, rows):
        path = os.path.join(self.dir, fn)
        with open(path, "w") as f:
            for row in rows:
                f.write(" ".join(str(v) for v in row) + "\n")
        return path

    def reference(self, gates=None, model=None):
        g = (self.gates if gates is None else gates).astype(np.float64)
        return tf.run(model or self.ref, self.seqs, self.types, self.labels, g)


class Engine:
    def __init__(self, binary, threads=1):
        self.binary, self.threads = binary, threads

    def run(self, case, out, labels="default", gates=None, model=None, ids=None, types="default",
            extra=()):
        cmd = [self.binary, "forward", "--model", model or case.model_dir,
               "--ids", ids or case.files["ids"], "--gates", gates or case.files["gates"],
               "--threads", str(self.threads), "--out", out]
        if types == "default":
            types = case.files.get("types")
        if types:
            cmd += ["--types", types]
        if labels == "default":
            labels = case.files.get("labels")
        if labels:
            cmd += ["--labels", labels]
        return run(cmd + list(extra), expect=None, timeout=600)

    def forward(self, case, out, **kw):
        p = self.run(case, out, **kw)
        if p.returncode != 0:
            raise Failure("%s: bertology forward exited %d: %s"
                          % (case.name, p.returncode, p.stderr.strip()[-500:]))
        return ce.load_outputs(out, len(case.seqs))


def row(name, errs, note=""):
    """compare_engine's table row with room for the longer names here."""
    line = ce.row(name, errs, note)
    return "%-17s%s" % (name, line[max(len(name), 10):])


def check_shapes(case, e, with_labels=True):
    """Files, shapes and dtypes `bertology forward` must write for this head."""
    m, B = case.ref, len(case.seqs)
    want = {"entropy": ((B, m.L, m.H), np.float64)}
    cls = m.head in (tf.HEAD_CLASSIFY, tf.HEAD_REGRESS)
    if cls:
        want["logits"] = ((B, m.C), np.float32)
    if m.head == tf.HEAD_LM or (cls and with_labels):
        want.update(loss=((B,), np.float64), gate_grad=((B, m.L, m.H), np.float64),
                    gate_grad_tok=((B, m.L, m.H), np.float64))
    problems = []
    for k, (shape, dt) in want.items():
        if k not in e:
            problems.append("%s.npy missing" % k)
        elif e[k].shape != shape or e[k].dtype != dt:
            problems.append("%s.npy is %s %s, want %s %s" % (k, e[k].dtype, e[k].shape,
                                                            np.dtype(dt), shape))
    for k in ("logits", "loss", "gate_grad", "gate_grad_tok"):
        if k in e and k not in want:
            problems.append("%s.npy written for head %s%s" % (k, m.head, "" if with_labels
                                                               else " without labels"))
    for k, shape_of in (("attn", lambda T: (m.L, m.H, T, T)), ("hidden", lambda T: (m.L + 1, T, m.D))):
        for b, (x, s) in enumerate(zip(e.get(k, []), case.seqs)):
            if x.shape != shape_of(len(s)) or x.dtype != np.float32:
                problems.append("%s_%d.npy is %s %s, want float32 %s"
                                % (k, b, x.dtype, x.shape, shape_of(len(s))))
                break
        if k not in e:
            problems.append("%s_<b>.npy missing" % k)
    if problems:
        raise Failure("%s: %s" % (case.name, "; ".join(problems)))


def run_config(name, root, eng):
    kw = CONFIGS[name]
    case = Case(root, name, kw)
    e = eng.forward(case, os.path.join(case.dir, "engine"), extra=["--attentions", "--hidden"])
    check_shapes(case, e)
    errs = ce.compare(e, case.reference())
    bad = [k for k, (_, ok) in errs.items() if not ok]
    note = "%d seqs, head %s" % (len(case.seqs), case.ref.head)
    if case.labels is not None:
        e2 = eng.forward(case, os.path.join(case.dir, "nolabels"), labels=None)
        check_shapes(case, dict(e2, attn=e["attn"], hidden=e["hidden"]), with_labels=False)
        if not np.array_equal(e2.get("logits"), e["logits"]):
            bad.append("logits differ without --labels")
    if kw.get("pruned_heads"):
        bad += pruned_vs_masked(case, root, eng, e)
    print(row(name, errs, note + ("" if not bad else "  FAIL: " + ", ".join(bad))), flush=True)
    return not bad


def pruned_vs_masked(case, root, eng, e):
    """SPEC: a pruned model computes what the masked full model computes."""
    kw = {k: v for k, v in case.kw.items() if k != "pruned_heads"}
    full_dir = os.path.join(root, case.name + "_full")
    mcf.make_checkpoint(full_dir, **kw)
    masked = case.gates.copy()
    for l, hs in case.kw["pruned_heads"].items():
        masked[int(l), hs] = 0
    gpath = os.path.join(case.dir, "gates_masked.npy")
    np.save(gpath, masked)
    f = eng.forward(case, os.path.join(case.dir, "masked_full"), gates=gpath, model=full_dir)
    bad, msg = [], []
    for k in ("logits", "loss", "entropy"):
        if k in e:
            err = ce.scaled_err(e[k], f[k])
            msg.append("%s %.2e" % (k, err))
            if err > ce.TOL_REL:
                bad.append("pruned != masked %s" % k)
    kept = masked != 0
    if ce.grad_err(e["gate_grad"][:, kept][:, None], f["gate_grad"][:, kept][:, None]) > ce.TOL_GRAD:
        bad.append("pruned != masked gate_grad")
    print("  pruned vs masked full model: " + ", ".join(msg))
    return bad


# ---- the references themselves ------------------------------------------------------------

def numpy_decoder(model_dir, ids, gates):
    """A second GPT-2 / GPT: numpy + scipy, one head at a time, straight from the formulas of
    modeling_gpt2.py / modeling_openai.py. Returns hidden [L+1,T,D], attn [L,H,T,T], loss."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    W, _ = safetensors_np.read_dir(model_dir)
    gpt2 = c["model_type"] == "gpt2"
    pre = "transformer." if ("transformer.wte.weight" in W or "transformer.tokens_embed.weight" in W) else ""
    L, H, D = c["n_layer"], c["n_head"], c["n_embd"]
    dh, eps, T = D // H, c["layer_norm_epsilon"], len(ids)
    pruned = {int(k): set(v) for k, v in (c.get("pruned_heads") or {}).items()}
    name = c.get("activation_function", "gelu_new") if gpt2 else {"gelu": "gelu_new"}.get(c["afn"], c["afn"])
    act = {"gelu": lambda x: x * 0.5 * (1 + sp.erf(x / np.sqrt(2))),
           "gelu_new": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
           "relu": lambda x: np.maximum(x, 0)}[name]

    def ln(x, n):
        z = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
        return z * W[n + ".weight"] + W[n + ".bias"]

    def conv(x, n):
        return x @ W[n + ".weight"] + W[n + ".bias"]

    wte = W[pre + ("wte.weight" if gpt2 else "tokens_embed.weight")]
    x = wte[ids] + W[pre + ("wpe.weight" if gpt2 else "positions_embed.weight")][:T]
    hidden, attn = [x], np.zeros((L, H, T, T))
    for l in range(L):
        p = "%sh.%d." % (pre, l)
        heads = [h for h in range(H) if h not in pruned.get(l, ())]
        Dl = len(heads) * dh
        qkv = conv(ln(x, p + "ln_1") if gpt2 else x, p + "attn.c_attn")
        ctx = np.zeros((T, Dl))
        for j, h in enumerate(heads):
            q, k, v = (qkv[:, i * Dl + j * dh:i * Dl + (j + 1) * dh] for i in range(3))
            s = q @ k.T / np.sqrt(dh)
            s[np.triu_indices(T, 1)] = -np.inf
            pr = sp.softmax(s, axis=1) * gates[l, h]
            attn[l, h] = pr
            ctx[:, j * dh:(j + 1) * dh] = pr @ v
        a = conv(ctx, p + "attn.c_proj")
        if gpt2:
            x = x + a
            x = x + conv(act(conv(ln(x, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
        else:
            n = ln(x + a, p + "ln_1")
            x = ln(n + conv(act(conv(n, p + "mlp.c_fc")), p + "mlp.c_proj"), p + "ln_2")
        hidden.append(x)
    if gpt2:
        hidden[-1] = x = ln(x, pre + "ln_f")
    z = x @ wte.T
    loss = np.mean(sp.logsumexp(z[:-1], axis=1) - z[np.arange(T - 1), ids[1:]]) if T > 1 else 0.0
    return np.stack(hidden), attn, loss


def bert_layout(model_dir, out_dir):
    """The same weights in BERT's layout (BertModel / BertForSequenceClassification), for
    torch_bert.py. RoBERTa: position rows shifted by pad + 1, classifier.dense -> pooler.
    DistilBERT: renamed, zero token-type row, eps 1e-12, no head (its pooler is ReLU)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    W, _ = safetensors_np.read_dir(model_dir)
    rob = c["model_type"] == "roberta"
    out, rename = {}, {}
    if rob:
        pre = "roberta." if "roberta.embeddings.word_embeddings.weight" in W else ""
        off = c["pad_token_id"] + 1
        for k, v in W.items():
            if k.startswith(pre + "embeddings.") or k.startswith(pre + "encoder."):
                out["bert." + k[len(pre):]] = v
        pos = out["bert.embeddings.position_embeddings.weight"]
        out["bert.embeddings.position_embeddings.weight"] = pos[off:]
        head = "classifier.out_proj.weight" in W
        if head:
            for a, b in (("classifier.dense", "bert.pooler.dense"), ("classifier.out_proj", "classifier")):
                out[b + ".weight"], out[b + ".bias"] = W[a + ".weight"], W[a + ".bias"]
        cfg = dict(c, model_type="bert", max_position_embeddings=c["max_position_embeddings"] - off,
                   architectures=["BertForSequenceClassification" if head else "BertModel"])
    else:
        pre = "distilbert." if "distilbert.embeddings.word_embeddings.weight" in W else ""
        rename = {"attention.q_lin": "attention.self.query", "attention.k_lin": "attention.self.key",
                  "attention.v_lin": "attention.self.value", "attention.out_lin": "attention.output.dense",
                  "sa_layer_norm": "attention.output.LayerNorm", "ffn.lin1": "intermediate.dense",
                  "ffn.lin2": "output.dense", "output_layer_norm": "output.LayerNorm"}
        for k, v in W.items():
            if not k.startswith(pre) or k.startswith("pre_classifier") or k.startswith("classifier"):
                continue
            k = k[len(pre):].replace("transformer.layer.", "encoder.layer.")
            for a, b in rename.items():
                k = k.replace("." + a + ".", "." + b + ".")
            out[k] = v
        out["embeddings.token_type_embeddings.weight"] = np.zeros((1, c["dim"]))
        cfg = {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": c["dim"],
               "num_hidden_layers": c["n_layers"], "num_attention_heads": c["n_heads"],
               "intermediate_size": c["hidden_dim"], "vocab_size": c["vocab_size"],
               "max_position_embeddings": c["max_position_embeddings"], "type_vocab_size": 1,
               "layer_norm_eps": 1e-12, "hidden_act": c["activation"],
               "pruned_heads": c.get("pruned_heads", {})}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f)
    safetensors_np.write(os.path.join(out_dir, "model.safetensors"),
                         [(k, v.shape, lambda v=v: v) for k, v in out.items()], "F32")
    return out_dir


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def check_ref(root, eng=None):
    ok, lines = True, []

    def verdict(what, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        lines.append("  %-58s %.2e (tol %.0e)%s" % (what, err, tol, "" if good else "  FAIL"))

    names = ("gpt2", "gpt2_cls", "gpt", "roberta", "roberta_reg", "distilbert", "distilbert_relu")
    for name in names:
        case = Case(root, "ref_" + name, dict(CONFIGS[name], layers=2), n_seqs=4, seed=11)
        m = case.ref
        b = max(range(len(case.seqs)), key=lambda i: len(case.seqs[i]))
        ids, lab = case.seqs[b], None if case.labels is None else case.labels[b]
        types = None if case.types is None else case.types[b]
        g0 = np.clip(case.gates.astype(np.float64), 0.1, 0.9)
        r = m.example(ids, types, g0, lab)
        verdict("%s: autograd vs sum_t <dL/d(xi ctx), ctx>" % name,
                rel(r["gate_grad"], r["gate_grad_ctx"]), 1e-10)
        fd, h = np.zeros_like(g0), 1e-5
        for l in range(m.L):
            for hh in m.present[l]:
                gp, gm = g0.copy(), g0.copy()
                gp[l, hh] += h
                gm[l, hh] -= h
                fd[l, hh] = (m.example(ids, types, gp, lab)["loss"]
                             - m.example(ids, types, gm, lab)["loss"]) / (2 * h)
        verdict("%s: autograd vs central differences" % name, rel(r["gate_grad"], fd), 1e-7)
        if name in ("gpt2", "gpt"):
            hid, att, loss = numpy_decoder(case.model_dir, np.array(ids), g0)
            verdict("%s: torch vs numpy loop-per-head (hidden, attn, loss)" % name,
                    max(rel(r["hidden"], hid), rel(r["attn"], att), abs(r["loss"] - loss) / abs(loss)),
                    1e-10)
            # causality: appending tokens leaves every earlier position unchanged
            short = list(ids[:P - 3])
            T, rs = len(short), m.example(short, None, g0)
            longer = m.example(short + [3, 5, 7], None, g0)
            verdict("%s: outputs at t unchanged by tokens after t" % name,
                    max(rel(longer["hidden"][:-1, :T], rs["hidden"][:-1]),
                        rel(longer["attn"][:, :, :T, :T], rs["attn"])), 1e-12)
        if name in ("roberta", "roberta_reg", "distilbert", "distilbert_relu"):
            bdir = bert_layout(case.model_dir, os.path.join(case.dir, "as_bert"))
            bm = torch_bert.Bert(bdir)
            rb = bm.example(ids, types, g0, lab if bm.head != torch_bert.HEAD_NONE else None)
            err = max(rel(r["hidden"], rb["hidden"]), rel(r["attn"], rb["attn"]))
            if bm.head != torch_bert.HEAD_NONE:
                err = max(err, rel(r["logits"], rb["logits"]), rel(r["gate_grad"], rb["gate_grad"]))
            verdict("%s: vs torch_bert on the weights in BERT layout" % name, err, 1e-10)
    for name in ("gpt2_pruned", "gpt_pruned", "roberta_pruned", "distilbert_pruned"):
        case = Case(root, "ref_" + name, CONFIGS[name], n_seqs=3, seed=13)
        kw = {k: v for k, v in case.kw.items() if k != "pruned_heads"}
        full = tf.load(mcf.make_checkpoint(os.path.join(case.dir, "full"), **kw))
        masked = case.gates.astype(np.float64)
        for l, hs in case.kw["pruned_heads"].items():
            masked[int(l), hs] = 0
        a, bb = case.reference(masked), case.reference(masked, model=full)
        kept = masked != 0
        err = max(max(rel(x, y) for x, y in zip(a["hidden"], bb["hidden"])), rel(a["loss"], bb["loss"]),
                  rel(a["gate_grad"][:, kept], bb["gate_grad"][:, kept]))
        verdict("%s: pruned checkpoint vs masked full model" % name, err, 1e-10)
    print("ref        %s" % ("references agree with their checks" if ok else "FAIL"))
    print("\n".join(lines), flush=True)
    return ok


# ---- write-back -----------------------------------------------------------------------------

def check_save(root, mk_dump):
    """Prune with bt_model_prune, write with bt_model_save; compare with the checkpoint
    make_checkpoint_family.py writes for the pruned model (same seed: same values)."""
    if not mk_dump:
        print("save       FAIL: needs --mk-model-dump")
        return False
    ok = True
    prune = {"0": [1], "1": [0, 2]}
    for name in ("gpt2", "gpt2_cls", "gpt", "roberta", "roberta_base", "distilbert", "gpt2_extra"):
        kw = dict(CONFIGS[name], layers=2, max_pos=max_pos_for(CONFIGS[name]), seed=5)
        d = os.path.join(root, "save_" + name)
        full = mcf.make_checkpoint(os.path.join(d, "full"), **kw)
        want_dir = mcf.make_checkpoint(os.path.join(d, "want"), **dict(kw, pruned_heads=prune, extra=False))
        H = kw["heads"]
        mask = np.ones((2, H), np.float32)
        for l, hs in prune.items():
            mask[int(l), hs] = 0
        mask_path = os.path.join(d, "mask.f32")
        mask.tofile(mask_path)
        problems = []
        for tag, args, want in (("roundtrip", [], mcf.make_checkpoint(os.path.join(d, "want_full"),
                                                                     **dict(kw, extra=False))),
                                ("pruned", [mask_path], want_dir)):
            out, dump = os.path.join(d, "saved_" + tag), os.path.join(d, "dump_" + tag)
            os.makedirs(dump, exist_ok=True)
            p = run([mk_dump, full, dump, out] + args, expect=None)
            if p.returncode != 0:
                problems.append("%s: mk_model_dump exited %d: %s" % (tag, p.returncode, p.stderr.strip()))
                continue
            got, _ = safetensors_np.read(os.path.join(out, "model.safetensors"))
            exp, _ = safetensors_np.read(os.path.join(want, "model.safetensors"))
            if sorted(got) != sorted(exp):
                problems.append("%s: tensors %s missing, %s unexpected"
                                % (tag, sorted(set(exp) - set(got))[:3], sorted(set(got) - set(exp))[:3]))
            for k in sorted(set(got) & set(exp)):
                if got[k].shape != exp[k].shape or not np.array_equal(got[k], exp[k]):
                    problems.append("%s: %s differs (%s vs %s)" % (tag, k, got[k].shape, exp[k].shape))
                    break
            with open(os.path.join(out, "config.json")) as f:
                gc = json.load(f)
            with open(os.path.join(want, "config.json")) as f:
                wc = json.load(f)
            for k in sorted(set(gc) | set(wc)):
                if k != "torch_dtype" and gc.get(k) != wc.get(k):
                    problems.append("%s: config %s = %r, want %r" % (tag, k, gc.get(k), wc.get(k)))
        good = not problems
        ok &= good
        print("  save %-14s %s" % (name, "saved tensors and config as transformers writes them"
                                    if good else "FAIL: " + "; ".join(problems[:4])), flush=True)
    print("save       %s" % ("PASS" if ok else "FAIL"))
    return ok


# ---- the real tiny GPT-2 --------------------------------------------------------------------

def check_tiny(root, eng):
    if not os.path.exists(os.path.join(TINY, "model.safetensors")):
        print("tiny       FAIL: %s not found (set BT_TESTDATA)" % TINY)
        return False
    case = Case(root, "tiny", {"family": "gpt2"}, n_seqs=6, model_dir=TINY)
    case.seqs[1] = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]  # GPT-2 ids of a sentence
    case.files["ids"] = case.write_lines("ids.txt", case.seqs)
    e = eng.forward(case, os.path.join(case.dir, "engine"), extra=["--attentions", "--hidden"])
    check_shapes(case, e)
    errs = ce.compare(e, case.reference())
    bad = [k for k, (_, ok) in errs.items() if not ok]
    # a random-init model with vocabulary V predicts uniformly: loss ~ log V
    lm = [x for x, s in zip(e["loss"], case.seqs) if len(s) > 1]
    if not all(abs(x - np.log(50257)) < 0.1 for x in lm):
        bad.append("loss %s not ~ log(50257)" % lm)
    note = "%d seqs%s" % (len(case.seqs), "" if not bad else "  FAIL: " + ", ".join(bad))
    print(row("tiny-gpt2", errs, note), flush=True)
    return not bad


# ---- bad input ------------------------------------------------------------------------------

def check_errors(root, eng):
    """Each broken model directory must give exit code 2 and a message containing the
    words that say what is wrong."""
    d = os.path.join(root, "errors")
    base = {"family": "gpt2", "layers": 2, "hidden": 32, "heads": 4, "max_pos": P}

    def model(tag, kw=None, config=None, drop=(), reshape=None):
        md = mcf.make_checkpoint(os.path.join(d, tag), **dict(base, **(kw or {})))
        if config:
            with open(os.path.join(md, "config.json")) as f:
                c = json.load(f)
            c.update(config)
            with open(os.path.join(md, "config.json"), "w") as f:
                json.dump(c, f)
        if drop or reshape:
            W, dt = safetensors_np.read(os.path.join(md, "model.safetensors"), np.float32)
            specs = []
            for k, v in W.items():
                if k in drop:
                    continue
                if reshape and k == reshape:
                    v = v[:, :-1]
                specs.append((k, v.shape, lambda v=v: v))
            safetensors_np.write(os.path.join(md, "model.safetensors"), specs, "F32")
        return md

    case = Case(root, "errors_case", dict(base), n_seqs=3, seed=3)
    long_rob = Case(root, "errors_roberta", dict(family="roberta", layers=1, hidden=16, heads=2, labels=2),
                    n_seqs=3, seed=4)
    too_long = long_rob.write_lines("long.txt", [[5] * (P + 1)])
    cases = [
        ("unknown model_type", dict(model=model("mt", config={"model_type": "t5"})), ["t5", "gpt2"]),
        ("gpt2 tensor missing", dict(model=model("miss", drop=("transformer.h.1.mlp.c_fc.weight",))),
         ["transformer.h.1.mlp.c_fc.weight"]),
        ("gpt2 c_attn shape", dict(model=model("shape", reshape="transformer.h.0.attn.c_attn.weight")),
         ["transformer.h.0.attn.c_attn.weight", "[32,95]"]),
        ("gpt2 no wte at all", dict(model=model("nowte", drop=("transformer.wte.weight",))),
         ["transformer.wte.weight"]),
        ("GPT2ForSequenceClassification without score",
         dict(model=model("noscore", config={"architectures": ["GPT2ForSequenceClassification"]})),
         ["score.weight"]),
        ("gpt2 activation swish", dict(model=model("act", config={"activation_function": "swish"})),
         ["activation_function", "swish"]),
        ("gpt2 scale_attn_by_inverse_layer_idx",
         dict(model=model("scale", config={"scale_attn_by_inverse_layer_idx": True})),
         ["scale_attn_by_inverse_layer_idx"]),
        ("openai-gpt afn", dict(model=model("afn", kw=dict(family="openai-gpt"), config={"afn": "swish"})),
         ["afn", "swish"]),
        ("roberta classifier missing",
         dict(model=model("rob", kw=dict(family="roberta", labels=2, max_pos=P + 2),
                          drop=("classifier.out_proj.weight", "classifier.out_proj.bias"))),
         ["classifier.out_proj.weight"]),
        ("distilbert sinusoidal", dict(model=model("sin", kw=dict(family="distilbert", labels=2),
                                                   config={"sinusoidal_pos_embds": True})),
         ["sinusoidal_pos_embds"]),
        ("distilbert pre_classifier missing",
         dict(model=model("pre", kw=dict(family="distilbert", labels=2), drop=("pre_classifier.weight",))),
         ["pre_classifier.weight"]),
        ("roberta sequence beyond max_pos - pad - 1",
         dict(model=long_rob.model_dir, ids=too_long, labels=None, types=None), ["21", "20"]),
    ]
    ok = True
    for what, kw, words in cases:
        out = os.path.join(d, "out_err")
        shutil.rmtree(out, ignore_errors=True)
        c = long_rob if kw.get("model") == long_rob.model_dir else case
        p = eng.run(c, out, **kw)
        lines = p.stderr.strip().splitlines() or ["<no message>"]
        msg = lines[-1]
        good = p.returncode == 2 and len(lines) == 1 and all(w in msg for w in words)
        ok &= good
        print("  %-44s exit %3d %s %s" % (what, p.returncode, "ok  " if good else "FAIL", msg[:140]),
              flush=True)
    print("errors     %s" % ("all exit 2 with a message naming the culprit" if ok else "FAIL"))
    return ok


def run_all(todo, root, eng, mk_dump=None):
    """The configurations and checks named in todo, under root; True when all of them pass."""
    torch.set_num_threads(1)
    print("tolerances: logits/loss/hidden/entropy %.0e scaled, gate grads %.0e of max|g|, "
          "attn %.0e abs ('!' = over)" % (ce.TOL_REL, ce.TOL_GRAD, ce.TOL_ATTN))
    print("%-17s %s" % ("config", " ".join("%10s" % c[:10] for c in ce.COLS)))
    ok = True
    for n in todo:
        try:
            if n in CONFIGS:
                ok &= run_config(n, root, eng)
            elif n == "ref":
                ok &= check_ref(root)
            elif n == "save":
                ok &= check_save(root, mk_dump)
            elif n == "tiny":
                ok &= check_tiny(root, eng)
            elif n == "errors":
                ok &= check_errors(root, eng)
        except Failure as ex:
            print("%-10s FAIL: %s" % (n, ex), flush=True)
            ok = False
    print("RESULT: %s" % ("PASS" if ok else "FAIL"))
    return ok
