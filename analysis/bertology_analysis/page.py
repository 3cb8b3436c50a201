"""index.html: the interactive report, one self-contained file (JavaScript and CSS inlined, no
request of any kind, opens from file://).

The page is data plus one script (web/report.js). The data is a JSON document inlined in the
page: per-head values ([L, H] matrices: importance, entropy, Clark et al.'s statistics, and what
the experiment sections add), sections of generic blocks (grid, curve, table, text), and the
examples: every example's text, label, prediction and loss, and the attention maps of as many
examples as fit in the page budget, each quantised to 8 bits (value = round(255 p)), optionally
cut to the top k of each row, compressed with zlib and base64-encoded. The browser decodes an
example when it is picked (DecompressionStream, built into every current browser).

A section is one function from the runs to a dict (SECTIONS below): the page's script draws any
section from its blocks, so a new kind of result (e.g. CAT-scores, /cat) is one more function.
"""
from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import clark, experiments
from .run import Run
from .vocab import CLS_TOKENS, SEP_TOKENS, Vocab

WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
PAGE_FORMAT = 1
QUANT = 255  # attention value = byte / QUANT
MAPS_PER_STEP = 16  # encode_attention's working set: 16 maps [T, T] at a time
COLORMAPS = ("viridis", "RdBu_r", "plasma_r", "Blues")

Block = Dict[str, Any]
Section = Dict[str, Any]


@dataclass
class PageContext:
    """What a section function sees: the runs (first run holding the data wins), the shape, and
    a place to register per-head values, which every grid, tooltip and the head card show."""

    runs: Sequence[Run]
    L: int
    H: int
    probes: Optional[Dict[str, Any]] = None
    min_arcs: int = 100
    clark: Optional[Dict[str, Any]] = None
    head_values: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)

    def first(self, test: Callable[[Run], bool]) -> Optional[Run]:
        return next((r for r in self.runs if test(r)), None)

    def first_with(self, read: Callable[[Run], Any], what: str, why: str) -> Tuple[Optional[Run], Any]:
        """The first run for which read() is not None, and that value; or (None, None) after
        noting the section as skipped (what: why)."""
        for r in self.runs:
            v = read(r)
            if v is not None:
                return r, v
        self.skip(what, why)
        return None, None

    def add_head_values(self, key: str, label: str, m: Any, fmt: str = ".3f", cmap: str = "viridis",
                        vmin: Optional[float] = None, vmax: Optional[float] = None, note: str = "") -> Block:
        """Registers an [L, H] matrix (NaN = no value) and returns a grid block showing it."""
        a = np.asarray(m, dtype=np.float64)
        if a.shape != (self.L, self.H):
            raise ValueError("head values %s: shape %s, expected (%d, %d)" % (key, a.shape, self.L, self.H))
        fin = a[np.isfinite(a)]
        lo = float(fin.min()) if vmin is None and fin.size else (vmin if vmin is not None else 0.0)
        hi = float(fin.max()) if vmax is None and fin.size else (vmax if vmax is not None else 1.0)
        if cmap == "RdBu_r":  # symmetric around 0
            r = max(abs(lo), abs(hi)) or 1.0
            lo, hi = -r, r
        self.head_values[key] = {"label": label, "values": _nan_none(a), "fmt": fmt, "cmap": cmap,
                                 "vmin": lo, "vmax": hi, "note": note}
        return {"kind": "grid", "key": key}

    def skip(self, what: str, why: str) -> None:
        self.skipped.append("%s: %s" % (what, why))


# ---- sections: each a function of the context, returning a section or None -----------------

def section_heads(ctx: PageContext) -> Optional[Section]:
    run = ctx.first(lambda r: r.importance is not None)
    blocks: List[Block] = []
    if run is not None:
        o = run.options
        blocks.append(ctx.add_head_values("importance", "importance (normalised)", run.importance,
                                          note="|dL/d gate| summed over %s %s (%d examples), granularity %s"
                                          % (run.task, run.split, run.n_examples, o.get("granularity", "example"))))
        raw = run.importance_raw
        if raw is not None:
            ctx.add_head_values("importance_raw", "importance (raw sum)", raw, fmt=".4g")
        if run.ranks is not None:
            ctx.add_head_values("rank", "importance rank (1 = most important)", np.asarray(run.ranks) + 1.0,
                                fmt=".0f", cmap="plasma_r")
    else:
        ctx.skip("importance", "no /importance in any run")
    erun = ctx.first(lambda r: r.entropy is not None)
    if erun is not None:
        blocks.append(ctx.add_head_values("entropy", "attention entropy (nats per query token)", erun.entropy,
                                          note="mean entropy of the head's attention rows"))
    if not blocks:
        return None
    return {"id": "heads", "title": "Heads: importance and attention entropy",
            "note": "Hover a cell for the head's numbers, click it to select the head for the views below. "
                    "Layers and heads count from 1 (as bertology prints them).",
            "blocks": blocks, "layout": "row"}


def section_clark(ctx: PageContext) -> Optional[Section]:
    s = ctx.clark
    if not s:
        return None
    blocks = []
    for k in clark.STATS:
        blocks.append(ctx.add_head_values("clark_" + k, clark.LABELS[k], s[k], vmin=0.0,
                                          cmap="plasma_r" if k == "distance" else "viridis"))
    how = "every query token weighs the same" if s.get("weighting", "tokens") == "tokens" else "per example first"
    return {"id": "clark", "title": "What the heads look at (Clark et al. 2019)",
            "note": "Mean attention a query puts on [CLS], [SEP], punctuation, itself, the next and previous token, "
                    "and the mean attention distance, over %d examples (%d query tokens; %s)."
                    % (s["n_examples"], s["n_tokens"], how),
            "blocks": blocks, "layout": "row", "small": True}


def _ranking(r: Run) -> str:
    """What ranked a mask run's heads (/masking attribute method): "gate", "attattr" or
    "scores: FILE"."""
    a = r.f["masking"].attrs
    method = [str(x) for x in a.get("method", ["gate"])]
    files = [os.path.basename(str(x)) for x in a.get("scores_file", [""])]
    if method[:1] == ["scores"]:
        return "scores: %s" % files[0]
    return "attention attribution" if method[:1] == ["attattr"] else "gate importance"


def section_masking(ctx: PageContext) -> Optional[Section]:
    run, c = ctx.first_with(experiments.masking_curve, "masking curve", "no /masking in any run (bertology mask)")
    if run is None:
        return None
    series = [{"name": c["metric"], "x": _floats(c["percent"]), "y": _floats(c["score"])}]
    # every mask run given, named by what ranked its heads: the gate importance against a score
    # file (e.g. attention attribution), side by side
    others = [(r, experiments.masking_curve(r)) for r in ctx.runs if r is not run]
    others = [(r, oc) for r, oc in others if oc is not None]
    if others:
        series = [{"name": "%s (%s)" % (_ranking(r), oc["metric"]), "x": _floats(oc["percent"]),
                   "y": _floats(oc["score"])} for r, oc in [(run, c)] + others]
    curve: Block = {"kind": "curve", "title": "Score while masking heads", "xlabel": "heads masked (%)",
                    "ylabel": c["metric"], "series": series}
    if c["threshold_score"] is not None:
        curve["hline"] = {"y": c["threshold_score"], "label": "stop below %.4f" % c["threshold_score"]}
    if c["chosen"] is not None:
        curve["mark"] = {"x": c["chosen"][0], "y": c["chosen"][1], "label": "mask kept"}
    blocks = [curve]
    if c["masked_at"] is not None:
        blocks.append(ctx.add_head_values("masked_at", "masking step at which the head goes (empty: never)",
                                          c["masked_at"], fmt=".0f", cmap="plasma_r"))
    blocks.append({"kind": "table", "header": ["step", "heads masked (%)", "heads left", c["metric"]],
                   "rows": [list(r) for r in c["steps"]]})
    return {"id": "masking", "title": "Masking (Michel et al. 2019)",
            "note": "`%s`: score against the share of heads masked, least important first." % run.command_line,
            "blocks": blocks, "layout": "row"}


def section_ablation(ctx: PageContext) -> Optional[Section]:
    run, mats = ctx.first_with(experiments.ablation_matrices, "ablation", "no /ablation in any run (bertology ablate)")
    if run is None:
        return None
    metric = experiments.metric_name(run)
    blocks = []
    for k in sorted(x for x in mats if not x.startswith("@")):
        m = mats[k]
        signed = k == "score_change" or bool(np.nanmin(m) < 0 < np.nanmax(m))
        blocks.append(ctx.add_head_values("ablation_" + k, "%s (%s)" % (mats["@title:" + k], metric), m,
                                          fmt=".4f", cmap="RdBu_r" if signed else "viridis"))
    base = mats.get("@base_score")
    return {"id": "ablation", "title": "Ablation: one head at a time",
            "note": "`%s`: %s of the unmasked model %s." % (run.command_line, metric,
                                                          "n/a" if base is None else "%.4f" % base),
            "blocks": blocks, "layout": "row"}


def section_syntax(ctx: PageContext) -> Optional[Section]:
    from .make_report import syntax_table
    run, _ = ctx.first_with(lambda r: True if "syntax" in r.f else None, "syntax", "no /syntax in any run (bertology syntax)")
    if run is None:
        return None
    g = run.f["syntax"]
    rels = [str(x) for x in g.attrs["relations"]]
    arcs, acc = g["arcs"][()], g["accuracy"][()]
    rows = syntax_table(run, ctx.min_arcs)
    blocks: List[Block] = [{"kind": "table", "header": ["relation", "arcs", "best head", "direction", "accuracy",
                                                        "baseline", "offset"],
                            "rows": [[str(c) for c in r] for r in rows], "head_column": 2}]
    keep = [q for q, r in enumerate(rels) if r != "all" and arcs[q] >= max(ctx.min_arcs, 1)]
    if keep:
        with np.errstate(all="ignore"):
            best = np.nanmax(acc[keep], axis=(0, 3)) if np.isfinite(acc[keep]).any() else np.full((ctx.L, ctx.H), np.nan)
        blocks.append(ctx.add_head_values("syntax_best", "best head-as-parser accuracy over %d relations" % len(keep),
                                          best, vmin=0.0))
    return {"id": "syntax", "title": "Syntactic heads (Clark et al. 2019, section 4)",
            "note": "`%s`: per relation with at least %d arcs, the head whose most-attended word is most often the "
                    "syntactic head, against the best fixed-offset baseline. Click a head in the table to select it."
                    % (run.command_line, ctx.min_arcs),
            "blocks": blocks, "layout": "row"}


def section_probes(ctx: PageContext) -> Optional[Section]:
    res = ctx.probes
    if not res:
        ctx.skip("probes", "no --probes probes.json given")
        return None
    blocks: List[Block] = []
    x = [float(v) for v in res["layers"]]
    for t, r in res["tasks"].items():
        c: Block = {"kind": "curve", "title": "%s (%d classes)" % (t, r["n_classes"]),
                    "xlabel": "hidden state (0 = embeddings)", "ylabel": "test accuracy", "ymin": 0.0, "ymax": 1.0,
                    "series": [{"name": "layer alone", "x": x, "y": _floats(r["accuracy"])},
                               {"name": "mix of layers 0..l", "x": x, "y": _floats(r["mix_accuracy"])}],
                    "hline": {"y": float(r["majority"]), "label": "majority class"}}
        if r.get("expected_layer") is not None:
            c["vline"] = {"x": float(r["expected_layer"]), "label": "expected layer %.2f" % r["expected_layer"]}
        blocks.append(c)
    return {"id": "probes", "title": "Layer probes (Tenney et al. 2019)",
            "note": "Per-layer accuracy of linear probes (bertology-probe on `%s`)." % res.get("run", "?"),
            "blocks": blocks, "layout": "row"}


def _cat(r: Run) -> Optional[Dict[str, Any]]:
    """A cat run's /cat: groups, head scores [G, L, H], layer scores [G, L], examples [G]."""
    if "cat" not in r.f or "head_score" not in r.f["cat"]:
        return None
    g = r.f["cat"]
    return {"groups": [str(x) for x in g.attrs["groups"]], "head": g["head_score"][()],
            "layer": g["layer_score"][()], "examples": g["examples"][()], "graph": str(g.attrs.get("graph", ""))}


def section_cat(ctx: PageContext) -> Optional[Section]:
    """CAT-scores (Chen et al. 2022; docs/cat.md): the heatmap of every head over all languages of
    the first cat run, and the per-layer curve of each language of every cat run given (so that
    a trained model and the same architecture at random initialisation can be compared)."""
    run, c = ctx.first_with(_cat, "CAT-scores", "no /cat in any run (bertology cat)")
    if run is None:
        return None
    heads = np.asarray(c["head"][c["groups"].index("all")], dtype=np.float64)
    if heads.shape != (ctx.L, ctx.H):
        ctx.skip("CAT-scores", "%s: /cat/head_score has [L, H] = %s, the page shows (%d, %d)"
                 % (run.path, heads.shape, ctx.L, ctx.H))
        return None
    blocks: List[Block] = [ctx.add_head_values("cat", "CAT-score, all languages (%s)" % c["graph"], heads)]
    series = []
    cats = [(r, rc) for r, rc in ((r, _cat(r)) for r in ctx.runs) if rc is not None]
    for r, rc in cats:
        label = os.path.basename(os.path.dirname(os.path.abspath(r.path))) if len(cats) > 1 else ""
        for g, name in enumerate(rc["groups"]):
            if rc["examples"][g] > 0 and (name != "all" or len(rc["groups"]) > 2):
                series.append({"name": ("%s: %s" % (label, name)) if label else name,
                               "x": [float(l + 1) for l in range(rc["layer"].shape[1])],
                               "y": _floats(rc["layer"][g])})
    blocks.append({"kind": "curve", "title": "CAT-score of each layer (heads averaged first)", "xlabel": "layer",
                   "ylabel": "CAT-score", "series": series})
    return {"id": "cat", "title": "CAT-scores (Chen et al. 2022)",
            "note": "How far attention follows the syntax tree of code: per head over all languages (`%s`), and per "
                    "layer and language for every cat run given." % run.command_line,
            "blocks": blocks, "layout": "row"}


SECTIONS: List[Callable[[PageContext], Optional[Section]]] = [
    section_heads, section_clark, section_masking, section_ablation, section_syntax, section_probes, section_cat]


# ---- examples and their attention ----------------------------------------------------------

def _detok(tokens: Sequence[str], vocab: Optional[Vocab]) -> str:
    """Readable text of an example: special tokens at the ends dropped, [SEP] between segments
    kept as a separator, word pieces joined."""
    toks = list(tokens)
    while toks and toks[0] in CLS_TOKENS:
        toks = toks[1:]
    while toks and toks[-1] in SEP_TOKENS:
        toks = toks[:-1]
    if vocab is not None and vocab.kind == "bpe":
        return "".join(" | " if t in SEP_TOKENS else t.replace("\u0120", " ").replace("\u010a", " ")
                       for t in toks).strip()
    out: List[str] = []
    for t in toks:
        if t in SEP_TOKENS:
            out.append(" |")
        elif t.startswith("##") and len(t) > 2 and out:
            out.append(t[2:])
        else:
            out.append((" " if out else "") + t)
    return "".join(out)


def encode_attention(a: np.ndarray, top_k: int = 0) -> Dict[str, Any]:
    """One example's maps [Lsel, H, T, T] as the page stores them: bytes round(255 p) of every
    row ("dense"), or with top_k > 0 and rows longer than 3 top_k the top_k largest bytes of each
    row, ties to the lower key, as key indices (little-endian uint16, or uint32 beyond 65535
    tokens) then their bytes ("topk"); zlib, base64. Works through MAPS_PER_STEP maps at a time,
    so that bert-large at 512 tokens needs tens of MB beside the maps, not gigabytes."""
    T = a.shape[-1]
    maps = np.asarray(a).reshape(-1, T, T)
    steps = range(0, maps.shape[0], MAPS_PER_STEP)
    rec: Dict[str, Any] = {"T": int(T)}
    if top_k and 3 * top_k < T:
        k, ib = int(top_k), 2 if T <= 65535 else 4
        later = T - np.arange(T)                              # ties: the lower key wins
        idx_parts, val_parts, kept = [], [], 0.0
        for m in steps:
            part = maps[m:m + MAPS_PER_STEP]
            q = _quantise(part)
            key = q.astype(np.int64) * (T + 1) + later
            idx = np.argpartition(-key, k - 1, axis=-1)[..., :k]
            idx = np.take_along_axis(idx, np.argsort(-np.take_along_axis(key, idx, -1), axis=-1), -1)
            idx_parts.append(idx.astype("<u%d" % ib).tobytes())
            val_parts.append(np.take_along_axis(q, idx, -1).tobytes())
            kept += float(np.take_along_axis(part, idx, -1).astype(np.float64).sum())
        blob = b"".join(idx_parts) + b"".join(val_parts)
        rec.update(enc="topk", k=k, ib=ib, mass=kept / (maps.shape[0] * T))
    else:
        blob = b"".join(_quantise(maps[m:m + MAPS_PER_STEP]).tobytes() for m in steps)
        rec.update(enc="dense")
    rec["z"] = base64.b64encode(zlib.compress(blob, 6)).decode("ascii")
    return rec


def _quantise(p: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(p, 0.0, 1.0) * QUANT).astype(np.uint8)


def decode_attention(rec: Dict[str, Any], n_maps: int) -> np.ndarray:
    """The inverse of encode_attention, as the page does it: [n_maps, T, T] float64 (entries
    dropped by top-k are 0). For tests and notebooks."""
    T = int(rec["T"])
    raw = zlib.decompress(base64.b64decode(rec["z"]))
    if rec["enc"] == "dense":
        return np.frombuffer(raw, np.uint8).reshape(n_maps, T, T) / QUANT
    k, ib = int(rec["k"]), int(rec["ib"])
    n = n_maps * T * k
    idx = np.frombuffer(raw[:n * ib], "<u%d" % ib).reshape(n_maps, T, k)
    val = np.frombuffer(raw[n * ib:], np.uint8).reshape(n_maps, T, k)
    out = np.zeros((n_maps, T, T))
    np.put_along_axis(out, idx.astype(np.int64), val / QUANT, axis=-1)
    return out


def example_rows(run: Run) -> Dict[str, Any]:
    """Every example's row of the picker (row, tokens, label, prediction, loss, text) and its
    tokens (indices into one table of token strings)."""
    n = run.n_examples
    vocab = run.vocab
    labels, logits, loss = run.get("examples/label"), run.get("examples/logits"), run.get("examples/loss")
    id2label = run.config.get("id2label")
    label_names = None
    if isinstance(id2label, dict) and not all(str(v).startswith("LABEL_") for v in id2label.values()):
        label_names = {str(k): str(v) for k, v in id2label.items()}
    tok_index: Dict[str, int] = {}
    table: List[str] = []
    rows: List[List[Any]] = []
    ids_all: List[List[int]] = []
    for i in range(n):
        toks = run.tokens(i)
        ids = []
        for t in (vocab.display(t) for t in toks) if vocab else toks:
            j = tok_index.get(t)
            if j is None:
                j = tok_index[t] = len(table)
                table.append(t)
            ids.append(j)
        ids_all.append(ids)
        lab = labels[i].item() if labels is not None else None
        pred: Any = None
        if logits is not None:
            pred = int(np.argmax(logits[i])) if logits.shape[1] > 1 else float(logits[i][0])
        rows.append([i, int(run.lengths[i]), _num(lab), _num(pred),
                     _num(float(loss[i])) if loss is not None else None, _detok(toks, vocab)])
    return {"run": run.path, "layers": [int(x) for x in run.attn_layers], "tokens": table, "ids": ids_all,
            "columns": ["row", "tokens", "label", "prediction", "loss", "text"], "rows": rows,
            "label_names": label_names, "dtype": str(run.f["attentions"].attrs.get("dtype", "?")),
            "regression": bool(logits is not None and logits.shape[1] == 1), "quant": QUANT, "maps": {}}


def embed_maps(run: Run, first: Sequence[int], budget: int, top_k: int) -> Tuple[Dict[str, Any], List[int]]:
    """The encoded maps of as many examples as fit in budget bytes (0: all): the rows in
    `first`, then the others in data order, up to the first that does not fit; and the rows
    left out (in that order)."""
    n = run.n_examples
    order = [r for r in first if 0 <= r < n]
    seen = set(order)
    order += [r for r in range(n) if r not in seen]
    maps: Dict[str, Any] = {}
    used = 0
    for j, r in enumerate(order):
        rec = encode_attention(run.attention(r), top_k)
        size = len(_script_json({str(r): rec})) - 1
        if budget and used + size > budget:
            return maps, order[j:]
        maps[str(r)] = rec
        used += size
    return maps, []


# ---- the page ------------------------------------------------------------------------------

def _colormaps() -> Dict[str, str]:
    from matplotlib import colormaps
    out = {}
    for name in COLORMAPS:
        rgb = (np.asarray(colormaps[name](np.linspace(0, 1, 256)))[:, :3] * 255 + 0.5).astype(np.uint8)
        out[name] = rgb.tobytes().hex()
    return out


def _asset(name: str) -> str:
    with open(os.path.join(WEB_DIR, name), encoding="utf-8") as f:
        return f.read()


def _script_json(doc: Any) -> str:
    # inside <script type="application/json"> no "<" at all: "</script" would end the element and
    # "<!--<script" would change how the HTML parser finds its end. NaN is not JSON.
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def build_page(runs: Sequence[Run], title: str, clark_stats: Optional[Dict[str, Any]] = None,
               probes: Optional[Dict[str, Any]] = None, min_arcs: int = 100, examples: Sequence[int] = (),
               page_bytes: int = 5_000_000, top_k: int = 0, log: Callable[[str], None] = print) -> Tuple[str, Dict[str, Any]]:
    """The page's HTML and a summary {"bytes", "embedded", "examples", "skipped", "sections"}."""
    from .make_report import choose_examples  # make_report imports this module
    main = runs[0]
    L, H = main.shape
    ctx = PageContext(runs, L, H, probes=probes, min_arcs=min_arcs, clark=clark_stats)
    sections = [s for s in (fn(ctx) for fn in SECTIONS) if s is not None]
    doc: Dict[str, Any] = {
        "format": PAGE_FORMAT, "title": title, "L": L, "H": H, "colormaps": _colormaps(),
        "runs": [{"path": r.path, "command": r.command_line, "task": r.task, "split": r.split,
                  "shape": "%d x %d" % r.shape, "examples": r.n_examples, "ranks": r.n_ranks, "created": r.created,
                  "metrics": {k: _num(v) for k, v in r.metrics.items()}} for r in runs],
        "sections": sections, "head_values": ctx.head_values, "examples": None, "notes": [],
    }
    template = _asset("page.html")
    css, js = _asset("report.css"), _asset("report.js")
    attn_run = ctx.first(lambda r: r.has_attentions)
    left_out: List[int] = []
    if attn_run is None:
        ctx.skip("attention views", "no /attentions in any run (run bertology with --save-attentions)")
    else:
        ex = example_rows(attn_run)
        first = list(examples) or choose_examples(attn_run)
        ex["default"] = first[0] if first else 0
        fixed = sum(_bytes(x) for x in (template, css, js, html.escape(title), _script_json(doc), _script_json(ex)))
        fixed += 600  # the notes below
        if page_bytes and fixed > page_bytes:
            doc["notes"].append("the page is above --page-mb without any attention map (%.1f MB of example rows)"
                                % (fixed / 1e6))
        budget = 0 if not page_bytes else max(page_bytes - fixed, 1)
        ex["maps"], left_out = embed_maps(attn_run, first, budget, top_k)
        ex["top_k"] = top_k
        doc["examples"] = ex
    doc["skipped"] = ctx.skipped
    notes = list(doc["notes"])

    def render() -> str:
        doc["notes"] = list(notes)
        if left_out:
            doc["notes"].append("attention maps of %d of %d examples embedded: the page budget stopped at row %d "
                                "(--page-mb raises it, --examples puts rows first, --top-k makes maps smaller)"
                                % (len(doc["examples"]["maps"]), len(doc["examples"]["rows"]), left_out[0]))
        parts = {"TITLE": html.escape(title), "CSS": css, "DATA": _script_json(doc), "JS": js}
        return re.sub(r"\{\{(TITLE|CSS|DATA|JS)\}\}", lambda m: parts[m.group(1)], template)  # one pass

    page = render()
    while page_bytes and doc["examples"] and doc["examples"]["maps"] and _bytes(page) > page_bytes:
        last = list(doc["examples"]["maps"])[-1]   # the estimate was short: give back the last map
        del doc["examples"]["maps"][last]
        left_out.insert(0, int(last))
        page = render()
    info = {"bytes": len(page.encode("utf-8")), "sections": [s["id"] for s in sections], "skipped": ctx.skipped,
            "embedded": len(doc["examples"]["maps"]) if doc["examples"] else 0,
            "examples": attn_run.n_examples if attn_run else 0}
    return page, info


def write_page(path: str, runs: Sequence[Run], title: str, **kw: Any) -> Dict[str, Any]:
    page, info = build_page(runs, title, **kw)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
    return info


def _bytes(s: str) -> int:
    return len(s.encode("utf-8"))


def _num(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    f = float(v)
    return f if math.isfinite(f) else None


def _floats(a: Any) -> List[Optional[float]]:
    return [_num(x) for x in np.asarray(a, dtype=np.float64).reshape(-1)]


def _nan_none(a: np.ndarray) -> List[List[Optional[float]]]:
    return [[_num(x) for x in row] for row in a]
