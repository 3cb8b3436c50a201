"""The results of `bertology mask` and `bertology ablate` as found in a run.h5.

mask writes /masking/{mask [S,L,H], importance [S,L,H], score [S], heads_remaining [S],
percent_masked [S], final_mask [L,H], final_step, threshold_score} (src/cli/cmd_mask.c), step 0
being the unmasked model; ablate writes /ablation/{score_without_head, score_change,
score_only_head [L,H], base_score, layer_forwards_vs_naive} (src/cli/cmd_ablate.c).
The readers return None when a group (or its score) is absent, so a report can skip it.
"""
import numpy as np

# SPEC "Metrics (GLUE)": the metric a masking run watches unless --metric says otherwise.
DEFAULT_METRIC = {"cola": "mcc", "sst-2": "acc", "mrpc": "acc_and_f1", "sts-b": "corr",
                  "qqp": "acc_and_f1", "mnli": "acc", "mnli-mm": "acc", "qnli": "acc",
                  "rte": "acc", "wnli": "acc"}

ABLATION_TITLES = {
    "score_change": "Score change when only this head is masked",
    "score_only_head": "Score when the layer keeps only this head",
    "score_without_head": "Score when only this head is masked",
}
# Shown only if score_change is absent (it is score_without_head - base_score).
ABLATION_REDUNDANT = {"score_without_head": "score_change"}


def _scalar(g, name):
    v = g.get(name)
    return None if v is None else float(np.asarray(v).reshape(-1)[0])


def metric_name(run):
    m = str(run.options.get("metric") or "")
    return m or DEFAULT_METRIC.get(run.task, "score")


def masking_curve(run):
    """{"percent": [S] % of heads masked, "score": [S], "metric", "baseline" (step 0's score),
    "threshold" (the option), "threshold_score" (score below which the search stops),
    "final_step", "chosen": (percent, score) of the mask kept, "masked_at": [L, H] first step
    at which each head is off (NaN = never), "steps": table rows} from /masking, or None."""
    g = run.group("masking")
    if not g or "score" not in g:
        return None
    L, H = run.shape
    score = np.asarray(g["score"], np.float64).reshape(-1)
    S = score.size
    masks = g.get("mask")
    masks = masks if masks is not None and masks.shape == (S, L, H) else None
    if "percent_masked" in g and np.size(g["percent_masked"]) == S:
        pct = np.asarray(g["percent_masked"], np.float64).reshape(-1)
    elif "heads_remaining" in g and np.size(g["heads_remaining"]) == S:
        pct = 100.0 * (1.0 - np.asarray(g["heads_remaining"], np.float64).reshape(-1) / (L * H))
    elif masks is not None:
        pct = 100.0 * (1.0 - masks.reshape(S, -1).mean(axis=1))
    else:
        return None
    final = _scalar(g, "final_step")
    final = int(final) if final is not None and 0 <= final < S else None
    masked_at = None
    if masks is not None:
        off = masks == 0
        masked_at = np.where(off.any(axis=0), off.argmax(axis=0), np.nan).astype(np.float64)
    remaining = np.round(L * H * (1 - pct / 100)).astype(int)
    steps = [(k, "%.1f" % pct[k], "%d" % remaining[k], "%.4f" % score[k]
              + (" (kept)" if k == final else "")) for k in range(S)]
    return {"percent": pct, "score": score, "metric": metric_name(run),
            "baseline": float(score[0]) if S else None,
            "threshold": run.options.get("threshold"),
            "threshold_score": _scalar(g, "threshold_score"), "final_step": final,
            "chosen": (float(pct[final]), float(score[final])) if final is not None else None,
            "masked_at": masked_at, "steps": steps,
            "mode": "percents" if run.options.get("percents") else "threshold"}


def ablation_matrices(run):
    """{name: [L, H] array} of /ablation, plus "@title:<name>" entries and "@base_score",
    or None when there is no [L, H] dataset."""
    g = run.group("ablation")
    if not g:
        return None
    L, H = run.shape
    out = {}
    for k, v in g.items():
        if "@" in k or not isinstance(v, np.ndarray) or v.shape != (L, H):
            continue
        if ABLATION_REDUNDANT.get(k) in g:
            continue
        out[k] = v.astype(np.float64)
        out["@title:" + k] = ABLATION_TITLES.get(k, k.replace("_", " "))
    if not out:
        return None
    out["@base_score"] = _scalar(g, "base_score")
    return out
