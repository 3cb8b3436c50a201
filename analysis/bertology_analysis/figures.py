"""Figures of a run: [layer, head] heatmaps, the masking curve, attention maps with tokens.

Every function draws on a new matplotlib Figure (object API, Agg canvas: no pyplot state and no
global backend switch, so importing this in a notebook leaves its backend alone) and returns it;
save(fig, path) writes the PNG. Layers and heads are labelled 1-based, as bertology prints them.
"""
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

NAN_COLOUR = "#d0d0d0"
MAX_ANNOTATED_CELLS = 256  # beyond this the numbers are unreadable: colour only


def new_figure(width, height):
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, dpi=110):
    fig.savefig(path, dpi=dpi)
    return path


def _ticks(ax, n, axis, every=None):
    every = every or max(1, int(np.ceil(n / 24)))
    pos = np.arange(0, n, every)
    if axis == "x":
        ax.set_xticks(pos, [str(p + 1) for p in pos])
    else:
        ax.set_yticks(pos, [str(p + 1) for p in pos])


def heatmap(ax, m, title, cbar_label, cmap="viridis", vmin=None, vmax=None, fmt="{:.2f}",
            diverging=False, annotate=True):
    """m [L, H] on ax: layer rows (1 at the top), head columns, NaN cells grey."""
    m = np.asarray(m, dtype=np.float64)
    L, H = m.shape
    finite = m[np.isfinite(m)]
    if diverging:
        lim = float(np.abs(finite).max()) if finite.size else 1.0
        vmin, vmax, cmap = -lim or -1.0, lim or 1.0, "RdBu_r"
    elif finite.size:
        vmin = float(finite.min()) if vmin is None else vmin
        vmax = float(finite.max()) if vmax is None else vmax
    if vmin is not None and vmax is not None and vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    cm = colormaps[cmap].copy()
    cm.set_bad(NAN_COLOUR)
    norm = Normalize(vmin=vmin, vmax=vmax)
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cm, norm=norm, aspect="auto",
                   interpolation="nearest")
    _ticks(ax, H, "x")
    _ticks(ax, L, "y")
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.9)
    cb.set_label(cbar_label)
    if annotate and L * H <= MAX_ANNOTATED_CELLS:
        small = 7 if H > 8 else 8
        for l in range(L):
            for h in range(H):
                v = m[l, h]
                if not np.isfinite(v):
                    ax.text(h, l, "-", ha="center", va="center", fontsize=small, color="k")
                    continue
                r, g, b, _ = cm(norm(v))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
                ax.text(h, l, fmt.format(v), ha="center", va="center", fontsize=small,
                        color="w" if dark else "k")
    return im


def _heat_size(L, H, panels=1, cols=None):
    cols = cols or panels
    rows = int(np.ceil(panels / cols))
    return (cols * max(4.4, 0.5 * H + 1.8), rows * max(3.0, 0.4 * L + 1.5))


def fig_heatmap(m, title, cbar_label, **kw):
    fig = new_figure(*_heat_size(*np.shape(m)))
    heatmap(fig.add_subplot(), m, title, cbar_label, **kw)
    return fig


def fig_panels(mats, titles, cbar_labels, suptitle, cols=4, kws=None):
    """Several [L, H] heatmaps side by side (e.g. the Clark statistics)."""
    L, H = np.shape(mats[0])
    n = len(mats)
    cols = min(cols, n)
    fig = new_figure(*_heat_size(L, H, n, cols))
    for k, m in enumerate(mats):
        ax = fig.add_subplot(int(np.ceil(n / cols)), cols, k + 1)
        heatmap(ax, m, titles[k], cbar_labels[k], **((kws or [{}] * n)[k]))
    fig.suptitle(suptitle)
    return fig


def fig_scatter_heads(x, y, xlabel, ylabel, title):
    """One point per head, coloured by layer, labelled "layer-head" when there are few."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    L, H = x.shape
    fig = new_figure(6.4, 4.6)
    ax = fig.add_subplot()
    cm = colormaps["viridis"]
    for l in range(L):
        ax.scatter(x[l], y[l], color=cm(l / max(1, L - 1)), label="layer %d" % (l + 1),
                   s=28, edgecolor="k", linewidth=0.4)
        if L * H <= 64:
            for h in range(H):
                if np.isfinite(x[l, h]) and np.isfinite(y[l, h]):
                    ax.annotate("%d-%d" % (l + 1, h + 1), (x[l, h], y[l, h]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=1 + L // 13, loc="best")
    return fig


def fig_masking_curve(percent, score, metric, title, threshold_score=None, threshold_label=None,
                      chosen=None):
    """Score against % of heads masked; the stopping threshold and the kept step when known."""
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    ax.plot(percent, score, marker="o", ms=4, label=metric)
    if threshold_score is not None and np.isfinite(threshold_score):
        ax.axhline(threshold_score, color="tab:red", ls="--", lw=1,
                   label=threshold_label or "threshold")
    if chosen is not None:
        p, s = chosen
        ax.plot([p], [s], marker="*", ms=14, color="tab:orange", ls="none",
                label="kept mask: %.1f%% of heads masked" % p)
    ax.set_xlabel("heads masked (%)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.set_xlim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def fig_attention(a, tokens, title, vmax=None):
    """One head's map a [T, T] with the query tokens down the side and the key tokens along
    the bottom (rotated)."""
    T = a.shape[0]
    side = min(14.0, max(4.5, 0.24 * T + 2.2))
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    im = ax.imshow(a, cmap="Blues", vmin=0.0, vmax=vmax or max(float(np.nanmax(a)), 1e-6),
                   interpolation="nearest")
    fs = 8 if T <= 40 else 6
    ax.set_xticks(np.arange(T), tokens, rotation=90, fontsize=fs)
    ax.set_yticks(np.arange(T), tokens, fontsize=fs)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8).set_label("attention probability")
    return fig


def fig_attention_grid(a, layers, title):
    """Every saved head of one example, a [Lsel, H, T, T], as small maps on one colour scale
    (0 to the largest weight of the example), so a diffuse head looks pale and a sharp one
    dark. No token labels: the per-head figures carry them."""
    Ls, H = a.shape[:2]
    panel = 1.3 if H <= 12 else 1.0
    fig = new_figure(H * panel + 1.4, Ls * panel + 0.8)
    axes = fig.subplots(Ls, H, squeeze=False)
    vmax = max(float(np.nanmax(a)), 1e-6) if a.size else 1.0
    im = None
    for k in range(Ls):
        for h in range(H):
            ax = axes[k][h]
            im = ax.imshow(a[k, h], cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_title("head %d" % (h + 1), fontsize=8)
            if h == 0:
                ax.set_ylabel("layer %d" % (layers[k] + 1), fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6).set_label("attention probability")
    fig.suptitle(title + "\n(rows: queries, columns: keys)", fontsize=10)
    return fig


def fig_layer_curves(series, xlabel, ylabel, title):
    """series: [(name, x, y)] drawn as lines with markers on one axis (NaN: a gap)."""
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for name, x, y in series:
        ax.plot(x, y, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(series) > 1:
        ax.legend(fontsize=7, ncol=2)
    return fig
