"""Compares `bertology forward` with the float64 PyTorch reference (torch_bert.py): the
comparisons test_engine.py runs (ref.engine.NAME) and test_harness.py checks (ref.harness).

NAME is a model configuration (see CONFIGS; EXTRA by hand: `python3 -m pytest
tests/ref/test_engine.py -m manual`) or one of the checks `packing`, `fd`, `errors`.
Each configuration writes a random checkpoint (make_checkpoint.py), random sequences (ids 0
and V-1 included, lengths 1..P with 1 and P = max_position_embeddings included, random token
types), random labels and gates (some exactly 0, some exactly 1, the rest in between), runs
the engine once (all sequences in one packed batch) and the reference on each sequence alone.

Acceptance (engine a against reference b; the reference is float64 on the stored weights):
  logits, loss, hidden, entropy:  max_i |a_i - b_i| / max(|b_i|, rms(b)) <= 1e-5, where rms is
      over the whole tensor (all sequences): relative where values are of typical size, and
      absolute at 1e-5 * rms near zero, where float32 cancellation makes relative error
      meaningless (a hidden unit that happens to be 1e-4 carries the absolute error of O(1)
      neighbours).
  gate_grad, gate_grad_tok:  per sequence, max_{l,h} |a - b| <= 1e-4 * max_{l,h} |b|.
  attention (gated probabilities):  max |a - b| <= 1e-5 absolute.
Also exact output shapes and dtypes (logits/attn/hidden float32, the rest float64), and no
loss/gate files when no labels are given.

Checks: packing  - the same sequences packed in one batch, in small batches (--batch-tokens P)
                   and alone: max abs difference and whether bitwise (the tolerance is the
                   one above; bitwise equality is reported, not required);
        fd       - central differences of the ENGINE's own loss w.r.t. every gate (a run per
                   perturbed gate) against its gate_grad; see FD_* below;
        errors   - bad input exits with code 2 and one line on stderr naming the file at
                   fault (never a crash, never exit 0 or 1).
run_all() prints a table of the largest errors and says whether everything passed.
"""
import os
import shutil

import numpy as np

import make_checkpoint
import torch_bert
from bttest import run

TOL_REL = 1e-5
TOL_GRAD = 1e-4
TOL_ATTN = 1e-5

# Finite differences of a float32 engine: h = 2^-7 (exact in float32) balances truncation
# (~h^2/6 |L'''| ~ 1e-5) against rounding (loss noise ~1e-7 |L| over 2h ~ 1e-5); the
# tolerance is 2e-3 of the sequence's largest |g| plus 2e-5 absolute. Gates at 0 use the
# one-sided second-order formula (-3 L(0) + 4 L(h) - L(2h)) / 2h so no gate goes negative.
FD_H = 2.0 ** -7
FD_REL = 2e-3
FD_ABS = 2e-5

P = 24  # max_position_embeddings of the test models: lengths up to P stay cheap

CONFIGS = {
    "base": dict(layers=3, hidden=64, heads=4, labels=2),
    "three": dict(layers=2, hidden=48, heads=3, labels=3, eps=1e-3, omit_num_labels=True),
    "regress": dict(layers=2, hidden=32, heads=2, labels=1),
    "f16": dict(layers=2, hidden=64, heads=4, labels=2, dtype="F16"),
    "bf16": dict(layers=2, hidden=64, heads=4, labels=2, dtype="BF16"),
    "gelu_new": dict(layers=2, hidden=32, heads=4, labels=2, act="gelu_new"),
    "relu": dict(layers=2, hidden=32, heads=4, labels=2, act="relu"),
    "odd": dict(layers=2, hidden=60, heads=5, ff=150, vocab=1000, labels=5, type_vocab=3),
    "nohead": dict(layers=2, hidden=32, heads=2, no_head=True),
    "sharded": dict(layers=3, hidden=32, heads=4, labels=2, shards=3),
    "pruned": dict(layers=3, hidden=64, heads=4, labels=2,
                   pruned_heads={"0": [1], "1": [0, 1, 2, 3], "2": [0, 3]}),
    "wide": dict(layers=4, hidden=256, heads=8, ff=1024, vocab=3000, labels=2, max_pos=128,
                 n_seqs=6),
}
# Not in the default list (a minute or more): bert-base dimensions at full length.
EXTRA = {
    "bertbase": dict(bert_base=True, labels=2, max_pos=512, n_seqs=3),
}
CHECKS = ("packing", "fd", "errors")
ALL_CONFIGS = dict(CONFIGS, **EXTRA)


class Failure(Exception):
    pass


class Case:
    """A checkpoint plus random sequences, labels and gates written to files."""

    def __init__(self, root, name, kw, n_seqs=12, seed=0):
        self.name, self.dir = name, os.path.join(root, name)
        kw = dict(kw)
        n_seqs = kw.pop("n_seqs", n_seqs)
        self.P = Pm = kw.setdefault("max_pos", P)
        self.kw = kw = dict(kw, seed=seed + 17)
        self.model_dir = os.path.join(self.dir, "model")
        make_checkpoint.make_checkpoint(self.model_dir, **kw)
        self.ref = torch_bert.Bert(self.model_dir)
        m, rng = self.ref, np.random.default_rng(seed)
        V, TV = m.cfg["vocab_size"], m.cfg["type_vocab_size"]
        lens = [1, Pm] + list(rng.integers(1, Pm + 1, n_seqs - 2))
        rng.shuffle(lens)
        self.seqs = [list(rng.integers(0, V, n)) for n in lens]
        self.seqs[0][0] = 0
        self.seqs[-1][-1] = V - 1
        self.types = [list(rng.integers(0, TV, n)) for n in lens]
        if m.head == torch_bert.HEAD_REGRESS:
            self.labels = list(rng.uniform(-1, 3, n_seqs).round(4))
        elif m.head == torch_bert.HEAD_CLASSIFY:
            self.labels = list(rng.integers(0, m.C, n_seqs))
        else:
            self.labels = None
        g = rng.uniform(0, 1, (m.L, m.H))
        r = rng.random((m.L, m.H))
        g[r < 0.2], g[r > 0.8] = 0.0, 1.0
        present = [(l, h) for l in range(m.L) for h in m.present[l]]
        (l0, h0), (l1, h1) = present[0], present[-1]
        g[l0, h0], g[l1, h1] = 0.0, 1.0
        self.gates = g.astype(np.float32)
        os.makedirs(self.dir, exist_ok=True)
        self.files = {"ids": self.write_lines("ids.txt", self.seqs),
                      "types": self.write_lines("types.txt", self.types),
                      "gates": os.path.join(self.dir, "gates.npy")}
        np.save(self.files["gates"], self.gates)
        if self.labels is not None:
            self.files["labels"] = self.write_lines("labels.txt", [[v] for v in self.labels])

    def write_lines(self, fn, rows):
        path = os.path.join(self.dir, fn)
        with open(path, "w") as f:
            for row in rows:
                f.write(" ".join(str(v) for v in row) + "\n")
        return path

    def reference(self):
        gates = self.gates.astype(np.float64)
        return torch_bert.run(self.ref, self.seqs, self.types, self.labels, gates)


class Engine:
    def __init__(self, binary, threads=1):
        self.binary, self.threads = binary, threads

    def run(self, case, out, ids=None, types=None, labels="default", gates=None,
            extra=(), model=None):
        cmd = [self.binary, "forward", "--model", model or case.model_dir,
               "--ids", ids or case.files["ids"], "--types", types or case.files["types"],
               "--gates", gates or case.files["gates"], "--threads", str(self.threads),
               "--out", out]
        if labels == "default":
            labels = case.files.get("labels")
        if labels:
            cmd += ["--labels", labels]
        cmd += list(extra)
        return run(cmd, expect=None, timeout=600)

    def forward(self, case, out, **kw):
        p = self.run(case, out, **kw)
        if p.returncode != 0:
            raise Failure("%s: bertology forward exited %d: %s"
                          % (case.name, p.returncode, p.stderr.strip()[-500:]))
        with open(kw.get("ids") or case.files["ids"]) as f:
            n = sum(1 for line in f if line.strip())
        return load_outputs(out, n)


def load_outputs(out, n):
    r = {}
    for k in ("logits", "loss", "gate_grad", "gate_grad_tok", "entropy"):
        path = os.path.join(out, k + ".npy")
        if os.path.exists(path):
            r[k] = np.load(path)
    for k, prefix in (("attn", "attn_"), ("hidden", "hidden_")):
        paths = [os.path.join(out, "%s%d.npy" % (prefix, b)) for b in range(n)]
        if all(os.path.exists(p) for p in paths):
            r[k] = [np.load(p) for p in paths]
    return r


def scaled_err(a, b):
    """max_i |a_i - b_i| / max(|b_i|, rms(b)) (see the module docstring)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    floor = max(np.sqrt(np.mean(b * b)), 1e-30)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor)))


def grad_err(a, b):
    """Per sequence: max |a - b| over (l, h), divided by max |b| of that sequence; worst one."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    B = b.shape[0]
    num = np.abs(a - b).reshape(B, -1).max(1)
    den = np.maximum(np.abs(b).reshape(B, -1).max(1), 1e-30)
    return float(np.max(num / den))


def cat_scaled_err(a_list, b_list):
    """scaled_err over per-sequence tensors of different shapes, with one rms for all."""
    a = np.concatenate([np.ravel(x) for x in a_list])
    b = np.concatenate([np.ravel(x) for x in b_list])
    return scaled_err(a, b)


def max_abs(a_list, b_list):
    return float(max(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))
                     for x, y in zip(a_list, b_list)))


def check_shapes(case, e, with_labels=True):
    m, B = case.ref, len(case.seqs)
    want = {"entropy": ((B, m.L, m.H), np.float64)}
    if m.head != torch_bert.HEAD_NONE:
        want["logits"] = ((B, m.C), np.float32)
    if with_labels and case.labels is not None:
        want.update(loss=((B,), np.float64), gate_grad=((B, m.L, m.H), np.float64),
                    gate_grad_tok=((B, m.L, m.H), np.float64))
    problems = []
    for k, (shape, dt) in want.items():
        if k not in e:
            problems.append("%s.npy missing" % k)
        elif e[k].shape != shape or e[k].dtype != dt:
            problems.append("%s.npy is %s %s, want %s %s" % (k, e[k].dtype, e[k].shape,
                                                            np.dtype(dt), shape))
    for k in ("loss", "gate_grad", "gate_grad_tok"):
        if k in e and k not in want:
            problems.append("%s.npy written without labels" % k)
    for k, shape_of in (("attn", lambda T: (m.L, m.H, T, T)),
                        ("hidden", lambda T: (m.L + 1, T, m.D))):
        if k not in e:
            problems.append("%s_<b>.npy missing" % k)
            continue
        for b, (x, s) in enumerate(zip(e[k], case.seqs)):
            if x.shape != shape_of(len(s)) or x.dtype != np.float32:
                problems.append("%s_%d.npy is %s %s, want float32 %s"
                                % (k, b, x.dtype, x.shape, shape_of(len(s))))
                break
    if problems:
        raise Failure("%s: %s" % (case.name, "; ".join(problems)))


def compare(e, r):
    """Errors of engine outputs e against reference r, each with its pass flag."""
    out = {}
    for k in ("logits", "loss", "entropy"):
        if k in r:
            err = scaled_err(e[k], r[k])
            out[k] = (err, err <= TOL_REL)
    if "hidden" in r:
        err = cat_scaled_err(e["hidden"], r["hidden"])
        out["hidden"] = (err, err <= TOL_REL)
    for k in ("gate_grad", "gate_grad_tok"):
        if k in r:
            err = grad_err(e[k], r[k])
            out[k] = (err, err <= TOL_GRAD)
    err = max_abs(e["attn"], r["attn"])
    out["attn"] = (err, err <= TOL_ATTN)
    return out


COLS = ("logits", "loss", "hidden", "gate_grad", "gate_grad_tok", "entropy", "attn")


def row(name, errs, note=""):
    cells = []
    for k in COLS:
        if k in errs:
            v, ok = errs[k]
            cells.append("%9.2e%s" % (v, " " if ok else "!"))
        else:
            cells.append("%10s" % "-")
    return "%-10s %s %s" % (name, " ".join(cells), note)


def run_config(name, root, eng):
    case = Case(root, name, ALL_CONFIGS[name])
    out = os.path.join(case.dir, "engine")
    e = case.engine_out = eng.forward(case, out, extra=["--attentions", "--hidden"])
    check_shapes(case, e)
    errs = compare(e, case.reference())
    bad = [k for k, (_, ok) in errs.items() if not ok]
    note = "%d seqs" % len(case.seqs)
    if case.labels is not None:
        # Without --labels: same forward numbers, and no loss or gate files.
        e2 = eng.forward(case, os.path.join(case.dir, "nolabels"), labels=None)
        check_shapes(case, dict(e2, attn=e["attn"], hidden=e["hidden"]), with_labels=False)
        if not np.array_equal(e2.get("logits"), e["logits"]):
            bad.append("logits differ without --labels")
    if name == "pruned":
        bad += pruned_vs_masked(case, root, eng, e)
    print(row(name, errs, note + ("" if not bad else "  FAIL: " + ", ".join(bad))), flush=True)
    return not bad


def pruned_vs_masked(case, root, eng, e):
    """SPEC: a pruned model computes what the masked model computes (float rounding aside)."""
    kw = {k: v for k, v in case.kw.items() if k != "pruned_heads"}
    full_dir = os.path.join(root, "pruned_full")
    make_checkpoint.make_checkpoint(full_dir, **kw)
    masked = case.gates.copy()
    for l, hs in CONFIGS["pruned"]["pruned_heads"].items():
        masked[int(l), hs] = 0
    gpath = os.path.join(case.dir, "gates_masked.npy")
    np.save(gpath, masked)
    f = eng.forward(case, os.path.join(case.dir, "masked_full"), gates=gpath, model=full_dir)
    bad = []
    if scaled_err(e["logits"], f["logits"]) > TOL_REL:
        bad.append("pruned != masked logits")
    if scaled_err(e["entropy"], f["entropy"]) > TOL_REL:
        bad.append("pruned != masked entropy")
    kept = masked != 0
    if grad_err(e["gate_grad"][:, kept][:, None], f["gate_grad"][:, kept][:, None]) > TOL_GRAD:
        bad.append("pruned != masked gate_grad")
    print("  pruned vs masked full model: logits %.2e, entropy %.2e"
          % (scaled_err(e["logits"], f["logits"]), scaled_err(e["entropy"], f["entropy"])))
    return bad


def check_packing(root, eng):
    """One batch, batches of <= P tokens, and single sequences alone must agree."""
    case = Case(root, "packing", CONFIGS["base"], n_seqs=10, seed=3)
    flags = ["--attentions", "--hidden"]
    one = eng.forward(case, os.path.join(case.dir, "one"), extra=flags)
    small = eng.forward(case, os.path.join(case.dir, "small"),
                        extra=flags + ["--batch-tokens", str(P)])
    r = case.reference()
    ok = all(v[1] for v in compare(one, r).values())
    lines, diffs = [], []
    order = sorted(range(len(case.seqs)), key=lambda b: len(case.seqs[b]))
    alone_ids = sorted({0, order[0], order[-1]})
    alone = {}
    for b in alone_ids:
        d = os.path.join(case.dir, "alone%d" % b)
        os.makedirs(d, exist_ok=True)
        ids = case.write_lines("ids%d.txt" % b, [case.seqs[b]])
        types = case.write_lines("types%d.txt" % b, [case.types[b]])
        labels = case.write_lines("labels%d.txt" % b, [[case.labels[b]]])
        alone[b] = eng.forward(case, d, ids=ids, types=types, labels=labels, extra=flags)
    two = None
    if eng.threads == 1:
        two = Engine(eng.binary, 2).forward(case, os.path.join(case.dir, "threads2"), extra=flags)

    def diff(pairs):
        """Largest abs difference over every output of the (x, y) sequence pairs."""
        worst, bitwise = 0.0, True
        for k in ("logits", "loss", "gate_grad", "gate_grad_tok", "entropy", "attn", "hidden"):
            for x, y in pairs(k):
                x, y = np.asarray(x), np.asarray(y)
                bitwise &= x.shape == y.shape and np.array_equal(x, y)
                worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y))))
        return worst, bitwise

    every = range(len(case.seqs))
    w, bit = diff(lambda k: [(small[k][b], one[k][b]) for b in every])
    lines.append("  batch-tokens %d vs one batch: max abs diff %.2e, %s"
                 % (P, w, "bitwise" if bit else "not bitwise"))
    diffs.append(compare(small, r))
    for b in alone_ids:
        w, bit = diff(lambda k: [(alone[b][k][0], one[k][b])])
        lines.append("  seq %d (T=%d) alone vs packed: max abs diff %.2e, %s"
                     % (b, len(case.seqs[b]), w, "bitwise" if bit else "not bitwise"))
        diffs.append(compare(alone[b], {k: v[b:b + 1] for k, v in r.items()}))
    if two is not None:
        w, bit = diff(lambda k: [(two[k][b], one[k][b]) for b in every])
        lines.append("  --threads 2 vs 1: max abs diff %.2e, %s"
                     % (w, "bitwise" if bit else "not bitwise"))
        diffs.append(compare(two, r))
    for d in diffs:
        ok &= all(v[1] for v in d.values())
    worst = {k: (max(d[k][0] for d in diffs), all(d[k][1] for d in diffs)) for k in diffs[0]}
    print(row("packing", worst, "" if ok else "FAIL: packed results off the reference"))
    print("\n".join(lines), flush=True)
    return ok


def check_fd(root, eng, names=("base", "pruned")):
    """The engine's gate_grad against central differences of its own loss."""
    ok = True
    for name in names:
        case = Case(root, "fd_" + name, CONFIGS[name], n_seqs=4, seed=5)
        m = case.ref
        g0 = np.where(case.gates == 0, 0.0, np.clip(case.gates, 0.1, 0.9)).astype(np.float32)
        gp = os.path.join(case.dir, "g.npy")

        def loss_at(gates, tag):
            np.save(gp, gates.astype(np.float32))
            return eng.forward(case, os.path.join(case.dir, tag), gates=gp)

        base = loss_at(g0, "base")
        g_eng = base["gate_grad"]
        fd = np.zeros_like(g_eng)
        for l in range(m.L):
            for h in range(m.H):
                if g0[l, h] == 0:
                    pts = [np.float32(0), np.float32(FD_H), np.float32(2 * FD_H)]
                else:
                    pts = [np.float32(g0[l, h] + FD_H), np.float32(g0[l, h] - FD_H)]
                Ls = []
                for i, v in enumerate(pts):
                    gg = g0.copy()
                    gg[l, h] = v
                    Ls.append(base["loss"] if g0[l, h] == 0 and i == 0
                              else loss_at(gg, "p")["loss"])
                if g0[l, h] == 0:
                    fd[:, l, h] = (-3 * Ls[0] + 4 * Ls[1] - Ls[2]) / (2.0 * float(pts[1]))
                else:
                    fd[:, l, h] = (Ls[0] - Ls[1]) / (float(pts[0]) - float(pts[1]))
        scale = np.abs(g_eng).reshape(len(case.seqs), -1).max(1)[:, None, None]
        excess = np.abs(fd - g_eng) - (FD_REL * scale + FD_ABS)
        good = bool(np.all(excess <= 0))
        worst = float(np.max(np.abs(fd - g_eng) / scale))
        ok &= good
        print("fd_%-7s max |fd - g| / max|g| = %.2e over %d gates x %d seqs (tol %.0e + %.0e)%s"
              % (name, worst, m.L * m.H, len(case.seqs), FD_REL, FD_ABS,
                 "" if good else "  FAIL"), flush=True)
    return ok


def check_errors(root, eng):
    """Bad input must exit 2 with one stderr line naming the file at fault."""
    case = Case(root, "errors", CONFIGS["base"], n_seqs=3, seed=7)
    m, d = case.ref, case.dir
    V, C, TV = m.cfg["vocab_size"], m.C, m.cfg["type_vocab_size"]
    s = case.seqs
    w = case.write_lines
    bad_gates = os.path.join(d, "gates_shape.npy")
    np.save(bad_gates, np.ones((m.L, m.H + 1), np.float32))
    nan_gates = os.path.join(d, "gates_nan.npy")
    g = np.ones((m.L, m.H), np.float32)
    g[1, 2] = np.nan
    np.save(nan_gates, g)
    def ids_types(fn, rows):
        """A bad ids file with a matching types file, so only the ids are at fault."""
        return dict(ids=w(fn, rows), types=w("t_" + fn, [[0] * len(r) for r in rows]))

    # (what, engine flags, the file the message must name)
    cases = [
        ("token id = V", ids_types("e1.txt", [s[0], [1, V, 2], s[2]]), "e1.txt"),
        ("token id = -1", ids_types("e2.txt", [s[0], s[1], [1, -1]]), "e2.txt"),
        ("token id not a number", ids_types("e3.txt", [s[0], ["3", "x7"], s[2]]), "e3.txt"),
        ("label = C", dict(labels=w("e4.txt", [[0], [C], [1]])), "e4.txt"),
        ("label = -1", dict(labels=w("e5.txt", [[0], [-1], [1]])), "e5.txt"),
        ("fewer labels than sequences", dict(labels=w("e6.txt", [[0], [1]])), "e6.txt"),
        ("type id = type_vocab_size", dict(types=w("e7.txt", [[0] * len(s[0]), [TV] * len(s[1]),
                                                            [0] * len(s[2])])), "e7.txt"),
        ("types length != ids length", dict(types=w("e8.txt", [[0] * len(s[0]), [0],
                                                             [0] * len(s[2])])), "e8.txt"),
        ("sequence longer than P", ids_types("e9.txt", [s[0], [5] * (P + 1), s[2]]), "e9.txt"),
        ("gates shape [L, H+1]", dict(gates=bad_gates), "gates_shape.npy"),
        ("gates with NaN", dict(gates=nan_gates), "gates_nan.npy"),
        ("missing model dir", dict(model=os.path.join(d, "no_such_model")), "no_such_model"),
        ("missing ids file", dict(ids=os.path.join(d, "no_such_ids.txt")), "no_such_ids.txt"),
    ]
    ok = True
    for what, kw, culprit in cases:
        out = os.path.join(d, "out_err")
        shutil.rmtree(out, ignore_errors=True)
        p = eng.run(case, out, **kw)
        lines = p.stderr.strip().splitlines()
        # DESIGN: exit 2 for bad input; project rule: one line naming the file at fault.
        verdict = ("FAIL exit" if p.returncode != 2 else "FAIL lines" if len(lines) != 1
                   else "FAIL file" if culprit not in lines[0] else "ok")
        ok &= verdict == "ok"
        msg = (" | ".join(lines) or "<no message>").replace(d + "/", "")
        print("  %-28s exit %3d %-10s %s" % (what, p.returncode, verdict, msg[:100]), flush=True)
    print("errors     %s" % ("all exit 2 with one line naming the file" if ok else "FAIL"))
    return ok


def run_all(todo, root, eng):
    """The configurations and checks named in todo, under root; True when all of them pass."""
    torch_bert.torch.set_num_threads(1)  # the reference is small; leave the cores to the engine
    print("tolerances: logits/loss/hidden/entropy %.0e scaled, gate grads %.0e of max|g|, "
          "attn %.0e abs ('!' = over)" % (TOL_REL, TOL_GRAD, TOL_ATTN))
    print("%-10s %s" % ("config", " ".join("%10s" % c[:10] for c in COLS)))
    ok = True
    for n in todo:
        try:
            if n in ALL_CONFIGS:
                ok &= run_config(n, root, eng)
            elif n == "packing":
                ok &= check_packing(root, eng)
            elif n == "fd":
                ok &= check_fd(root, eng)
            elif n == "errors":
                ok &= check_errors(root, eng)
        except (Failure, OSError) as ex:
            print("%-10s FAIL: %s" % (n, ex), flush=True)
            ok = False
    print("RESULT: %s" % ("PASS" if ok else "FAIL"))
    return ok
