"""Per-head attention statistics of Clark et al. (2019), "What Does BERT Look At?", section 3.

Notation: example x has T real tokens (no padding is stored), a[l,h,t,s] is the attention
probability from query t to key s in head h of layer l (after the head gate), and for a set S
of key positions m_S(t) = sum_{s in S} a[l,h,t,s] is the attention mass query t puts on S.

Each statistic is the mean over query tokens of a per-query quantity q(t):

    cls       q(t) = m_S(t), S = positions holding [CLS] (or <s>)
    sep       q(t) = m_S(t), S = positions holding [SEP] (or </s>); both [SEP]s of a pair
    punct     q(t) = m_S(t), S = positions holding punctuation: with punct="all" (default) a
              token whose characters (without the ## / G-dot subword marker) are all punctuation
              in BERT's sense (ASCII !-/ :-@ [-` {-~ or Unicode class P*); with punct="clark"
              only "." and "," as in Clark et al.'s notebook
    self      q(t) = a[t, t]
    next      q(t) = a[t, t+1], and 0 for the last token (it has no next token)
    prev      q(t) = a[t, t-1], and 0 for the first token
    distance  q(t) = sum_s a[t, s] |t - s|   (in tokens)

Averaging over query tokens (every real token of every selected example is a query):
    weighting="tokens" (default): pooled, sum_x sum_t q(t) / sum_x T_x, so every query token
        weighs the same (as SPEC's entropy normalisation divides by the total token count);
    weighting="examples": sum_x (sum_t q(t) / T_x) / n, each example weighs the same, which is
        exactly Clark et al.'s General_Analysis notebook (denominator n_tokens for every key,
        so their left/right also count the edge token as 0).
With punct="clark" and weighting="examples" this reproduces the notebook's avg_attns "cls",
"sep", "punct", "self", "right" (= next), "left" (= prev).

A head whose stored attention is all zero (masked by --head-mask or pruned) gets NaN for every
statistic, as do cls/sep when the vocabulary has no such token (GPT-2), cls/sep/punct when no
vocabulary is found, and every statistic of a layer whose attention was not saved (--layers).
"""
import numpy as np

from .vocab import CLS_TOKENS, SEP_TOKENS

STATS = ("cls", "sep", "punct", "self", "next", "prev", "distance")
LABELS = {"cls": "attention to [CLS]", "sep": "attention to [SEP]",
          "punct": "attention to punctuation", "self": "attention to itself",
          "next": "attention to next token", "prev": "attention to previous token",
          "distance": "mean attention distance (tokens)"}


def key_masks(tokens, vocab, punct="all"):
    """Boolean [T] masks of [CLS], [SEP] and punctuation keys for one example's tokens."""
    cls = np.array([t in CLS_TOKENS for t in tokens], dtype=bool)
    sep = np.array([t in SEP_TOKENS for t in tokens], dtype=bool)
    pun = np.array([vocab.is_punct(t, punct) if vocab else False for t in tokens], dtype=bool)
    return cls, sep, pun


def example_sums(a, cls, sep, punct):
    """Per-head sums over the example's queries: {stat: [Lsel, H]} and "mass" (sum of all
    attention, T for a live head, 0 for a masked one). a: [Lsel, H, T, T] float64."""
    T = a.shape[-1]
    pos = np.arange(T)
    dist = np.abs(pos[:, None] - pos[None, :]).astype(a.dtype)
    return {
        "cls": a[..., cls].sum(axis=(-2, -1)),
        "sep": a[..., sep].sum(axis=(-2, -1)),
        "punct": a[..., punct].sum(axis=(-2, -1)),
        "self": np.trace(a, axis1=-2, axis2=-1),
        "next": np.trace(a, offset=1, axis1=-2, axis2=-1),
        "prev": np.trace(a, offset=-1, axis1=-2, axis2=-1),
        "distance": (a * dist).sum(axis=(-2, -1)),
        "mass": a.sum(axis=(-2, -1)),
    }


def attention_entropy_sum(a):
    """sum over queries of -sum_s p log p (nats, 0 log 0 = 0): [Lsel, H], the quantity stored
    per example in /examples/entropy, recomputed from stored attention."""
    safe = np.where(a > 0, a, 1.0)
    return -(a * np.log(safe)).sum(axis=(-2, -1))


def clark_stats(run, rows=None, weighting="tokens", punct="all", entropy_check=False):
    """The statistics above for every head: {stat: [L, H] float64}, plus
    "n_examples", "n_tokens" and, with entropy_check, "entropy_max_abs_diff": the largest
    |entropy recomputed from the stored attention - /examples/entropy| (nats per example),
    a check that the stored maps are the ones the run measured (float16 storage: ~1e-3 T).

    rows: example rows to use (default all). Needs attentions in the run."""
    if weighting not in ("tokens", "examples"):
        raise ValueError("weighting %r: expected 'tokens' or 'examples'" % weighting)
    L, H = run.n_layers, run.n_heads
    layers = run.attn_layers
    vocab = run.vocab
    acc = {k: np.zeros((layers.size, H)) for k in STATS + ("mass",)}
    ent_rows = run.get("examples/entropy") if entropy_check else None
    ent_diff = 0.0
    n_ex = n_tok = 0
    for i, a in run.iter_attentions(rows, dtype=np.float64):
        T = a.shape[-1]
        s = example_sums(a, *key_masks(run.tokens(i), vocab, punct))
        w = 1.0 if weighting == "tokens" else 1.0 / T
        for k in acc:
            acc[k] += s[k] * (1.0 if k == "mass" else w)
        if ent_rows is not None:
            ent_diff = max(ent_diff, float(np.abs(attention_entropy_sum(a)
                                                  - ent_rows[i][layers]).max()))
        n_ex += 1
        n_tok += T
    denom = n_tok if weighting == "tokens" else n_ex
    out = {}
    for k in STATS:
        full = np.full((L, H), np.nan)
        if denom:
            part = acc[k] / denom
            part[acc["mass"] == 0] = np.nan  # masked / pruned head: no attention to describe
            full[layers] = part
        out[k] = full
    # without a vocabulary no key is known to be [CLS], [SEP] or punctuation
    for k, names in (("cls", CLS_TOKENS), ("sep", SEP_TOKENS), ("punct", None)):
        if vocab is None or (names and not vocab.has_any(names)):
            out[k][:] = np.nan
    out["n_examples"], out["n_tokens"] = n_ex, n_tok
    if ent_rows is not None:
        out["entropy_max_abs_diff"] = ent_diff
    return out
