"""A report folder from one or more run.h5 files: PNG figures, head_stats.csv, summary.md and
summary.html (the same page; the HTML embeds the PNGs by relative path, so the folder can be
moved or zipped as a whole), and index.html, the interactive page (page.py; self-contained).

Several runs can be combined (`bertology importance`, `mask`, `ablate` each write their own
run.h5): every section takes its data from the first run, in the order given, that holds it,
and a section with no data is listed as skipped with the reason.
"""
import csv
import math
import os

import numpy as np

from . import clark, experiments, figures, page, probe
from .run import load_run
from .summary import to_html, to_markdown

DEFAULT_TOP_HEADS = 3
SHORT_EXAMPLE = 40  # tokens: longer maps get unreadable labels


def _lh(l, h):
    return "%d-%d" % (l + 1, h + 1)


def _first(runs, test):
    return next((r for r in runs if test(r)), None)


def _fmt(v, nd=4):
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else \
        ("%.*f" % (nd, v) if isinstance(v, float) else str(v))


def choose_examples(run, n_default=2):
    """Row 0 (the first example of the split) and the highest-loss example of at most
    SHORT_EXAMPLE tokens: one ordinary sentence and the one the model gets most wrong."""
    rows = [0] if run.n_examples else []
    loss = run.get("examples/loss")
    if loss is not None and run.n_examples > 1:
        ok = np.flatnonzero(run.lengths <= SHORT_EXAMPLE)
        ok = ok[ok != 0]
        if ok.size:
            rows.append(int(ok[np.argmax(loss[ok])]))
    return rows[:n_default]


def choose_heads(run, k=DEFAULT_TOP_HEADS):
    """The k most important heads (by /importance/ranks) among the layers with attention."""
    ranks = run.ranks
    saved = set(run.attn_layers.tolist())
    if ranks is None:
        return [(int(run.attn_layers[0]), 0)] if saved else []
    order = sorted((int(ranks[l, h]), l, h) for l in range(run.n_layers)
                   for h in range(run.n_heads) if l in saved)
    return [(l, h) for _, l, h in order[:k]]


def parse_heads(spec, L, H):
    """"2:3,1:1" (layer:head, 1-based like the figures) -> [(1, 2), (0, 0)]."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        try:
            l, h = (int(x) for x in part.split(":"))
        except ValueError:
            raise ValueError("--heads %r: expected layer:head pairs such as 2:3" % part) from None
        if not (1 <= l <= L and 1 <= h <= H):
            raise ValueError("--heads %s: outside layers 1..%d, heads 1..%d" % (part, L, H))
        out.append((l - 1, h - 1))
    return out


class Report:
    def __init__(self, out_dir, dpi, log):
        self.out_dir, self.dpi, self.log = out_dir, dpi, log
        self.blocks, self.figures, self.skipped = [], [], []

    def figure(self, fig, name, alt):
        figures.save(fig, os.path.join(self.out_dir, name), dpi=self.dpi)
        self.figures.append(name)
        self.blocks.append(("img", name, alt))
        self.log("  wrote %s" % name)

    def add(self, *block):
        self.blocks.append(block)

    def skip(self, section, why):
        self.skipped.append("%s: %s" % (section, why))
        self.blocks.append(("p", "**%s** not shown: %s." % (section, why)))
        self.log("  skipped %s: %s" % (section, why))


def make_report(run_paths, out_dir, vocab=None, examples=None, heads=None, max_examples=None,
                weighting="tokens", punct="all", dpi=110, log=print, probes=None, min_arcs=100,
                page_bytes=5_000_000, top_k=0):
    """Writes the report folder; returns {"figures": [png names], "skipped": [reasons],
    "summary": path of summary.md, "page": index.html's summary (page.build_page)}.
    examples: rows for attention maps (default choose_examples; the interactive page embeds
    them first); heads: [(layer, head)] 0-based for per-head maps (default the most
    important); max_examples: use only the first N examples for the Clark statistics; probes:
    the content of a probes.json (analysis/probe.py) for the probe curves; min_arcs: relations
    with fewer arcs are left out of the syntax table and heatmap; page_bytes: index.html's
    budget (0: every example's maps); top_k: keep the top k of each attention row in index.html
    (0: whole rows)."""
    if isinstance(run_paths, str):
        run_paths = [run_paths]
    os.makedirs(out_dir, exist_ok=True)
    runs = []
    try:
        for p in run_paths:
            runs.append(load_run(p, vocab=vocab))
        return _make(runs, out_dir, examples, heads, max_examples, weighting, punct, dpi, log, probes,
                     min_arcs, page_bytes, top_k)
    finally:
        for r in runs:
            r.close()


def _make(runs, out_dir, examples, heads, max_examples, weighting, punct, dpi, log, probes=None,
          min_arcs=100, page_bytes=5_000_000, top_k=0):
    rep = Report(out_dir, dpi, log)
    main = runs[0]
    L, H = main.shape
    for r in runs[1:]:
        if r.shape != main.shape:
            raise ValueError("%s: %d layers x %d heads, but %s has %d x %d"
                             % (r.path, *r.shape, main.path, L, H))
    title = "bertology report: %s %s, %s" % (main.task, main.split, main.model_dir)
    rep.add("h1", title)
    rep.add("p", "Layers and heads count from 1 in this report (as in bertology's printed "
                 "tables); the Python API and run.h5 count from 0. Grey cells: no value "
                 "(head masked or pruned, layer not saved, token type absent).")
    rep.add("a", "index.html", "Interactive page (index.html): point at a head, pick any example")
    _section_runs(rep, runs)
    stats_run = _first(runs, lambda r: r.importance is not None)
    _section_importance(rep, stats_run, L, H)
    attn_run = _first(runs, lambda r: r.has_attentions)
    stats = _section_clark(rep, attn_run, max_examples, weighting, punct)
    _section_masking(rep, runs)
    _section_ablation(rep, runs)
    _section_attention_maps(rep, attn_run, examples, heads)
    _section_syntax(rep, runs, min_arcs)
    _section_probes(rep, probes)
    _section_cat(rep, runs)
    _write_csv(out_dir, stats_run, stats, L, H)
    rep.add("p", "Per-head numbers: [head_stats.csv](head_stats.csv).")
    md = os.path.join(out_dir, "summary.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(to_markdown(rep.blocks))
    with open(os.path.join(out_dir, "summary.html"), "w", encoding="utf-8") as f:
        f.write(to_html(rep.blocks, title))
    log("  wrote summary.md, summary.html, head_stats.csv")
    if stats is not None:
        stats = dict(stats, weighting=weighting)
    info = page.write_page(os.path.join(out_dir, "index.html"), runs, title, clark_stats=stats, probes=probes,
                           min_arcs=min_arcs, examples=examples or (), page_bytes=page_bytes, top_k=top_k, log=log)
    log("  wrote index.html (%.2f MB, attention of %d of %d examples)"
        % (info["bytes"] / 1e6, info["embedded"], info["examples"]))
    return {"figures": rep.figures, "skipped": rep.skipped, "summary": md, "page": info}


def _section_runs(rep, runs):
    rep.add("h2", "Runs")
    rows = []
    for r in runs:
        n_tok = int(r.f["importance"].attrs.get("n_tokens", 0)) if "importance" in r.f else 0
        metrics = ", ".join("%s = %.4f" % kv for kv in r.metrics.items()) or "-"
        rows.append(["`%s`" % r.path, "`%s`" % r.command_line, "%d x %d" % r.shape,
                     "%d / %d" % (r.n_examples, n_tok), metrics, "%d" % r.n_ranks, r.created])
    rep.add("table", ["file", "command", "layers x heads", "examples / tokens", "metrics",
                      "ranks", "created"], rows)


def _section_importance(rep, run, L, H):
    rep.add("h2", "Head importance and attention entropy")
    if run is None:
        rep.skip("importance", "no /importance in any run")
        return
    imp, ent, ranks = run.importance, run.entropy, run.ranks
    what = "%s %s, %d examples" % (run.task, run.split, run.n_examples)
    o = run.options
    norms = [name for key, name in (("token_norm", "divided by the token count"),
                                    ("layer_norm", "L2-normalised per layer"),
                                    ("global_norm", "min-max scaled to 0..1"))
             if o.get(key, True)]
    rep.add("p", "Importance: |dL/d gate| per head summed over the set (Michel et al. 2019; "
                 "granularity %s), %s. Entropy: the attention distribution's entropy (nats) "
                 "averaged over query tokens."
            % (o.get("granularity", "example"), ", ".join(norms) or "not normalised"))
    rep.figure(figures.fig_heatmap(imp, "Head importance (normalised)\n" + what, "importance"),
               "importance.png", "head importance heatmap")
    if ranks is not None:
        order = sorted((int(ranks[l, h]), l, h) for l in range(L) for h in range(H))
        top = ", ".join("%s (%.3f)" % (_lh(l, h), imp[l, h]) for _, l, h in order[:5])
        low = ", ".join("%s (%.3f)" % (_lh(l, h), imp[l, h]) for _, l, h in order[-5:][::-1])
        rep.add("p", "Most important heads (layer-head): %s. Least important: %s." % (top, low))
    if ent is None:
        rep.skip("entropy", "no /entropy/normalized")
        return
    # Uniform attention over T keys has entropy ln T; averaged per query token like the stat.
    T = run.lengths.astype(np.float64)
    uniform = float((T * np.log(T)).sum() / T.sum()) if T.size else float("nan")
    rep.figure(figures.fig_heatmap(ent, "Attention entropy per query token\n%s\n(uniform "
                                   "attention: %.2f nats)" % (what, uniform), "entropy (nats)"),
               "entropy.png", "attention entropy heatmap")
    rep.figure(figures.fig_scatter_heads(ent, imp, "attention entropy (nats per token)",
                                         "normalised importance",
                                         "Importance against entropy, one point per head"),
               "importance_vs_entropy.png", "importance against entropy scatter")


def _section_clark(rep, run, max_examples, weighting, punct):
    rep.add("h2", "What the heads look at (Clark et al. 2019)")
    if run is None:
        rep.skip("Clark statistics and attention maps",
                 "no /attentions in any run (run bertology with --save-attentions)")
        return None
    if run.vocab is None:
        rep.add("p", "No vocabulary (%s): [CLS]/[SEP]/punctuation cannot be told apart, those "
                     "statistics are left empty; pass --vocab." % run.vocab_error)
    rows = None if not max_examples else range(min(max_examples, run.n_examples))
    stats = clark.clark_stats(run, rows=rows, weighting=weighting, punct=punct,
                              entropy_check=run.get("examples/entropy") is not None)
    n_tok, n_ex = stats["n_tokens"], stats["n_examples"]
    how = ("pooled: each of the %d query tokens of the %d examples weighs the same"
           % (n_tok, n_ex) if weighting == "tokens" else
           "per example, then averaged over the %d examples (%d tokens), as Clark et al."
           % (n_ex, n_tok))
    rep.add("p", "Mean over query tokens (%s) of the attention mass a query puts on: the "
                 "[CLS] token, the [SEP] token(s), punctuation (%s), itself, the next token, "
                 "the previous token (0 for the last / first token); and the mean attention "
                 "distance sum_k p[t,k] |t-k|. Definitions: `bertology_analysis/clark.py`."
            % (how, "characters all punctuation" if punct == "all" else "'.' and ','"))
    names = clark.STATS
    kws = [{"vmin": 0.0} for _ in names[:-1]] + [{"vmin": 0.0, "cmap": "magma"}]
    rep.figure(figures.fig_panels([stats[k] for k in names],
                                  [clark.LABELS[k] for k in names],
                                  ["mean attention"] * (len(names) - 1) + ["tokens"],
                                  "Clark et al. statistics per head (%s %s, %d examples)"
                                  % (run.task, run.split, stats["n_examples"]), kws=kws),
               "clark_stats.png", "Clark et al. statistics per head")
    rows_t = []
    for k in names:
        m = stats[k]
        if not np.isfinite(m).any():
            rows_t.append([clark.LABELS[k], "n/a", "n/a", "n/a"])
            continue
        hi = np.unravel_index(np.nanargmax(m), m.shape)
        lo = np.unravel_index(np.nanargmin(m), m.shape)
        rows_t.append([clark.LABELS[k], "%.3f" % np.nanmean(m),
                       "%s (%.3f)" % (_lh(*hi), m[hi]), "%s (%.3f)" % (_lh(*lo), m[lo])])
    rep.add("table", ["statistic", "mean over heads", "highest head", "lowest head"], rows_t)
    if "entropy_max_abs_diff" in stats:
        rep.add("p", "Check: entropy recomputed from the stored attention differs from the "
                     "run's per-example entropy by at most %.2g nats per example (stored as %s)."
                % (stats["entropy_max_abs_diff"], run.f["attentions"].attrs.get("dtype", "?")))
    return stats


def _section_masking(rep, runs):
    rep.add("h2", "Masking")
    run = _first(runs, lambda r: experiments.masking_curve(r) is not None)
    if run is None:
        rep.skip("masking curve", "no /masking in any run (bertology mask)")
        return
    c = experiments.masking_curve(run)
    L, H = run.shape
    if c["mode"] == "percents":
        how = "Michel et al.'s schedule --percents %s" % run.options["percents"]
    else:
        amount = float(run.options.get("amount", 0.1))
        how = ("each step masks the max(1, floor(%d x %.2f)) = %d least important heads still "
               "on, importance re-computed after each step"
               % (L * H, amount, max(1, math.floor(L * H * amount))))
    rep.add("p", "`%s`: %s; stop when %s < %s x the unmasked score (%.4f)."
            % (run.command_line, how, c["metric"], _fmt(c["threshold"], 2), c["baseline"]))
    label = "threshold %s x unmasked = %.4f" % (_fmt(c["threshold"], 2), c["threshold_score"]) \
        if c["threshold_score"] is not None else None
    rep.figure(figures.fig_masking_curve(c["percent"], c["score"], c["metric"],
                                         "Score while masking heads (%s %s, %d examples)"
                                         % (run.task, run.split, run.n_examples),
                                         threshold_score=c["threshold_score"],
                                         threshold_label=label, chosen=c["chosen"]),
               "masking_curve.png", "masking curve")
    rep.add("table", ["step", "heads masked (%)", "heads left", c["metric"]], c["steps"])
    if c["masked_at"] is not None:
        kept = c["final_step"]
        rep.figure(figures.fig_heatmap(c["masked_at"], "Step at which each head is masked\n"
                                       "(kept mask: steps <= %s; grey: never masked)"
                                       % _fmt(kept), "step", cmap="plasma_r", fmt="{:.0f}"),
                   "masking_steps.png", "step at which each head is masked")


def _section_ablation(rep, runs):
    rep.add("h2", "Ablation")
    run = _first(runs, lambda r: experiments.ablation_matrices(r) is not None)
    if run is None:
        rep.skip("ablation", "no /ablation in any run (bertology ablate)")
        return
    mats = experiments.ablation_matrices(run)
    metric = experiments.metric_name(run)
    base = mats.get("@base_score")
    rep.add("p", "`%s`: %s of the unmasked model %s (Michel et al. 2019, section 3)."
            % (run.command_line, metric, _fmt(base)))
    for k in sorted(x for x in mats if not x.startswith("@")):
        m = mats[k]
        title = mats["@title:" + k]
        signed = k == "score_change" or bool(np.nanmin(m) < 0 < np.nanmax(m))
        rep.figure(figures.fig_heatmap(m, "%s\n%s %s, unmasked %s = %s" % (title, run.task,
                                       run.split, metric, _fmt(base)),
                                       metric + (" change" if k == "score_change" else ""),
                                       diverging=signed, fmt="{:.3f}"),
                   "ablation_%s.png" % k, title)


def _section_attention_maps(rep, run, examples, heads):
    if run is None:
        return
    rep.add("h2", "Attention maps")
    rows = choose_examples(run) if examples is None else list(examples)
    heads = choose_heads(run) if heads is None else list(heads)
    saved = run.attn_layers.tolist()
    labels, logits = run.get("examples/label"), run.get("examples/logits")
    for i in rows:
        a = run.attention(i)
        toks = run.tokens(i)
        shown = [run.vocab.display(t) for t in toks] if run.vocab else toks
        info = "example %d (%d tokens)" % (i, len(toks))
        if labels is not None and logits is not None:
            pred = logits[i].argmax() if logits.shape[1] > 1 else logits[i][0]
            info += ", label %s, predicted %s" % (_fmt(labels[i].item()), _fmt(pred.item()))
        rep.add("h3", info)
        rep.add("p", "Tokens: `%s`" % " ".join(toks))
        rep.figure(figures.fig_attention_grid(a, saved, "Every head, " + info),
                   "attention_ex%d_all.png" % i, "all heads of example %d" % i)
        for l, h in heads:
            if l not in saved:
                rep.skip("attention map %s" % _lh(l, h), "layer %d not saved" % (l + 1))
                continue
            rep.figure(figures.fig_attention(a[saved.index(l), h], shown,
                                             "%s\nlayer %d, head %d" % (info, l + 1, h + 1)),
                       "attention_ex%d_L%dH%d.png" % (i, l + 1, h + 1),
                       "example %d, layer %d head %d" % (i, l + 1, h + 1))


def _write_csv(out_dir, run, stats, L, H):
    cols = {}
    if run is not None:
        for name, m in (("importance", run.importance), ("importance_raw", run.importance_raw),
                        ("rank", run.ranks), ("entropy", run.entropy)):
            if m is not None:
                cols[name] = m
    if stats:
        for k in clark.STATS:
            cols[k] = stats[k]
    with open(os.path.join(out_dir, "head_stats.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["layer", "head"] + list(cols))
        for l in range(L):
            for h in range(H):
                w.writerow([l + 1, h + 1] + [_csv(cols[c][l, h]) for c in cols])


def _csv(v):
    if isinstance(v, (np.integer, int)):
        return int(v)
    return "" if not np.isfinite(v) else "%.6g" % v


def syntax_table(run, min_arcs=100):
    """Rows of Clark et al.'s Figure 5 from /syntax: per relation with at least min_arcs arcs,
    most frequent first, the best (layer, head, direction) and the best offset baseline."""
    g = run.f["syntax"]
    rels = [str(x) for x in g.attrs["relations"]]
    dirs = [str(x) for x in g.attrs["directions"]]
    correct, arcs = g["correct"][()], g["arcs"][()]
    acc, bacc, boff = g["accuracy"][()], g["baseline_accuracy"][()], g["baseline_offset"][()]
    H = correct.shape[2]
    rows = []
    for q in sorted(range(len(rels)), key=lambda q: (-int(arcs[q]), q)):
        if arcs[q] < max(min_arcs, 1):
            continue
        b = int(np.argmax(correct[q].reshape(-1)))
        rows.append([rels[q], int(arcs[q]), _lh(b // (2 * H), b // 2 % H), dirs[b % 2],
                     "%.3f" % acc[q].reshape(-1)[b], "%.3f" % bacc[q], "%+d" % int(boff[q])])
    return rows


def _section_syntax(rep, runs, min_arcs):
    run = _first(runs, lambda r: "syntax" in r.f)
    if run is None:  # shown only when a run holds it (bertology syntax)
        return
    rep.add("h2", "Syntactic heads (Clark et al. 2019, section 4)")
    g = run.f["syntax"]
    rels = [str(x) for x in g.attrs["relations"]]
    arcs, acc = g["arcs"][()], g["accuracy"][()]
    skipped = g["skipped"][()]
    rep.add("p", "`%s`: %d sentences (%d skipped: longer than max_seq_length %d, without pieces %d). A head "
                 "predicts, for each word, the word it attends to most (dep->head) or the word that attends "
                 "most to it (head->dep), on word-level attention ([CLS]/[SEP] excluded); the baseline "
                 "predicts the word at a fixed offset. Relations with at least %d arcs."
            % (run.command_line, run.n_examples, int(skipped.sum()), int(skipped[0]), int(skipped[1]), min_arcs))
    rows = syntax_table(run, min_arcs)
    rep.add("table", ["relation", "arcs", "best head", "direction", "accuracy", "baseline", "offset"],
            [[str(c) for c in r] for r in rows])
    keep = [q for q, r in enumerate(rels) if r != "all" and arcs[q] >= max(min_arcs, 1)]
    if not keep:
        rep.skip("syntax heatmap", "no relation with %d arcs" % min_arcs)
        return
    best = np.nanmax(acc[keep], axis=(0, 3))  # [L, H] over relations and directions
    rep.figure(figures.fig_heatmap(best, "Best accuracy over %d relations and both directions\n%s"
                                   % (len(keep), run.split), "accuracy", vmin=0.0),
               "syntax_best.png", "best head-as-parser accuracy per head")
    q_all = rels.index("all")
    rep.figure(figures.fig_heatmap(np.nanmax(acc[q_all], axis=2), "All relations pooled (best direction)",
                                   "accuracy", vmin=0.0), "syntax_all.png", "pooled head-as-parser accuracy")


def _section_cat(rep, runs):
    """CAT-scores (docs/cat.md): the [L, H] heatmap over all languages of the first cat run, and
    the per-layer curve of each language of every cat run (a trained model against the same
    architecture at random initialisation, when both are given)."""
    cats = [(r, r.f["cat"]) for r in runs if "cat" in r.f and "head_score" in r.f["cat"]]
    if not cats:
        return
    rep.add("h2", "CAT-scores (Chen et al. 2022)")
    run, g = cats[0]
    groups = [str(x) for x in g.attrs["groups"]]
    heads = g["head_score"][()][groups.index("all")]
    rep.add("p", "`%s`: how far each head's attention follows the syntax tree (%s), all languages; per-layer scores "
            "average the heads' maps first." % (run.command_line, str(g.attrs.get("graph", ""))))
    rep.figure(figures.fig_heatmap(heads, "CAT-score per head, all languages", "CAT-score"), "cat_heads.png",
               "CAT-score per head")
    series, rows = [], []
    for r, c in cats:
        names = [str(x) for x in c.attrs["groups"]]
        layer, n = c["layer_score"][()], c["examples"][()]
        label = os.path.basename(os.path.dirname(os.path.abspath(r.path))) if len(cats) > 1 else ""
        for k, name in enumerate(names):
            if n[k] > 0:
                series.append(("%s %s" % (label, name) if label else name, list(range(1, layer.shape[1] + 1)),
                               layer[k]))
                rows.append([label or r.path, name, int(n[k])] + ["%.4f" % v for v in layer[k]])
    rep.figure(figures.fig_layer_curves(series, "layer", "CAT-score", "CAT-score of each layer"), "cat_layers.png",
               "CAT-score per layer and language")
    rep.add("table", ["run", "language", "examples"] + ["layer %d" % (l + 1) for l in range(len(rows[0]) - 3)], rows)


def _section_probes(rep, res):
    if not res:  # shown only with --probes
        return
    rep.add("h2", "Layer probes (Tenney et al. 2019)")
    rep.add("p", "`analysis/probe.py` on `%s`%s: multinomial logistic regression (C = %g) on each hidden "
                 "state alone and on the scalar mix of states 0..l; expected layer = Tenney's centre of gravity."
            % (res["run"], ", tested on `%s`" % res["test"] if res.get("test") else
               ", trained on the first %d%% of sentences" % round(100 * res["train_fraction"]), res["C"]))
    rows = []
    for t, r in res["tasks"].items():
        b = int(np.argmax(r["accuracy"]))
        rows.append([t, str(r["n_classes"]), "%.3f" % r["majority"], "%d (%.3f)" % (res["layers"][b], r["accuracy"][b]),
                     "%.3f" % r["mix_accuracy"][-1], _fmt(r["expected_layer"], 2)])
    rep.add("table", ["task", "classes", "majority", "best state (accuracy)", "mix of all", "expected layer"], rows)
    rep.figure(probe.fig_probes(res, "Probe accuracy against hidden state"), "probes.png", "probe curves")
