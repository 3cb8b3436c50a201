"""Tenney-style layer probes on a run.h5 made on a CoNLL-U treebank with --save-hidden
(`bertology syntax --save-hidden` or `eval --task ud --save-hidden`: both write /words):
docs/spec.md "Syntax and probing", docs/syntax.md.

A word's vector at hidden state l is the mean of its pieces' vectors. For each saved state
(0 = embeddings) a multinomial logistic regression (L2, fixed C, lbfgs to convergence,
features standardised on the training set) predicts
  * upos:     the word's UPOS tag;
  * relation: for each non-root arc, the universal relation from [h_dep ; h_head].
The cumulative scalar-mix probe over states 0..l learns softmax weights over those states
jointly with the classifier (same objective: C * sum of cross-entropies + |W|^2 / 2), and
Tenney's expected layer is E[l] = sum_l l * D(l) / sum_l D(l), D(l) = mix(0..l) - mix(0..l-1),
l = 1..L.

Hidden states are read from the file in blocks of whole examples (block_bytes at a time): only
the word vectors of the states being probed stay in memory.
"""
import numpy as np

# scipy and scikit-learn (Debian python3-scipy, python3-sklearn) are imported where the probes
# are fitted, so that report.py (which draws probes.json) runs without them.

TASKS = ("upos", "relation")


class ProbeError(ValueError):
    pass


def words_of(f, path):
    """The /words group as arrays (global word index = offset[i] + k)."""
    if "words" not in f or "hidden" not in f:
        raise ProbeError("%s: needs /words and /hidden (a `bertology syntax --save-hidden` or `bertology eval "
                         "--task ud --save-hidden` run on a CoNLL-U file)" % path)
    w = f["words"]
    out = {k: w[k][()] for k in ("count", "offset", "first", "pieces", "upos", "head", "relation")}
    out["upos_names"] = [str(x) for x in w.attrs["upos_names"]]
    out["relation_names"] = [str(x) for x in w.attrs["relation_names"]]
    return out


def hidden_layers(f):
    return [int(x) for x in np.asarray(f["hidden"].attrs["layers"]).reshape(-1)]


def word_vectors(f, words, states, block_bytes=256 << 20):
    """[len(states), n_words, D] float32: mean of each word's pieces, for the positions states
    (indices into /hidden's saved layers), reading /hidden/data in blocks of whole examples."""
    g = f["hidden"]
    D = int(g.attrs["d_model"])
    Lh = len(hidden_layers(f))
    lengths = f["examples/length"][()].astype(np.int64)
    hoff = g["offset"][()].astype(np.int64)
    data = g["data"]
    n, nw = len(lengths), int(words["count"].sum())
    out = np.zeros((len(states), nw, D), np.float32)
    i = 0
    while i < n:
        j, size = i, 0
        while j < n and (j == i or size + Lh * lengths[j] * D * data.dtype.itemsize <= block_bytes):
            size += Lh * lengths[j] * D * data.dtype.itemsize
            j += 1
        block = data[hoff[i]:hoff[j - 1] + Lh * lengths[j - 1] * D].astype(np.float32)
        for r in range(i, j):
            T = lengths[r]
            h = block[hoff[r] - hoff[i]:hoff[r] - hoff[i] + Lh * T * D].reshape(Lh, T, D)[states]
            w0, c = int(words["offset"][r]), int(words["count"][r])
            for k in range(c):
                fst, np_ = int(words["first"][w0 + k]), int(words["pieces"][w0 + k])
                out[:, w0 + k] = h[:, fst:fst + np_].mean(axis=1)
        i = j
    return out


def arcs_of(words):
    """(dependent word index, head word index, relation id) of every non-root arc."""
    dep, hd = [], []
    for r in range(len(words["count"])):
        w0, c = int(words["offset"][r]), int(words["count"][r])
        for k in range(c):
            h = int(words["head"][w0 + k])
            if h:
                dep.append(w0 + k)
                hd.append(w0 + h - 1)
    dep, hd = np.array(dep, np.int64), np.array(hd, np.int64)
    return dep, hd, words["relation"][dep]


def _standardise(tr, te):
    mu, sd = tr.mean(axis=0), tr.std(axis=0)
    sd[sd == 0] = 1.0
    return (tr - mu) / sd, (te - mu) / sd


def fit_layer(Xtr, ytr, Xte, yte, C, max_iter):
    """sklearn's multinomial logistic regression, lbfgs: (test accuracy, converged)."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    Xtr, Xte = _standardise(Xtr.astype(np.float64), Xte.astype(np.float64))
    if len(np.unique(ytr)) < 2:
        return float(np.mean(yte == ytr[0])), True
    clf = LogisticRegression(C=C, max_iter=max_iter)  # sklearn's tol 1e-4: its notion of converged
    with warnings.catch_warnings():  # reported in probes.json instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    return float(np.mean(clf.predict(Xte) == yte)), bool(np.max(clf.n_iter_) < max_iter)


def fit_mix(Xtr, ytr, Xte, yte, C, max_iter):
    """Scalar mix: Xtr [S, N, F] (S states, each standardised), softmax(a) weights, linear
    classifier; the objective of sklearn's LogisticRegression with the mix weights learnt
    jointly (L-BFGS). Test accuracy."""
    from scipy.optimize import minimize
    S, N, F = Xtr.shape
    Ztr, Zte = np.empty(Xtr.shape), np.empty(Xte.shape)
    for s in range(S):
        Ztr[s], Zte[s] = _standardise(Xtr[s].astype(np.float64), Xte[s].astype(np.float64))
    classes = np.unique(ytr)
    if len(classes) < 2:
        return float(np.mean(yte == ytr[0])), True
    K = len(classes)
    Y = (ytr[:, None] == classes[None, :]).astype(np.float64)

    def unpack(p):
        return p[:K * F].reshape(K, F), p[K * F:K * F + K], p[K * F + K:]

    def loss(p):
        W, b, a = unpack(p)
        s = np.exp(a - a.max())
        s /= s.sum()
        z = np.tensordot(s, Ztr, axes=1)               # [N, F]
        lg = z @ W.T + b
        lg -= lg.max(axis=1, keepdims=True)
        lse = np.log(np.exp(lg).sum(axis=1))
        P = np.exp(lg - lse[:, None])
        f = C * float(np.sum(lse - np.sum(lg * Y, axis=1))) + 0.5 * float(np.sum(W * W))
        G = C * (P - Y)                                 # [N, K]
        dz = G @ W                                      # [N, F]
        ds = np.array([np.sum(dz * Ztr[k]) for k in range(S)])
        da = s * (ds - np.dot(s, ds))
        return f, np.concatenate([(G.T @ z + W).ravel(), G.sum(axis=0), da])

    p0 = np.zeros(K * F + K + S)
    r = minimize(loss, p0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter, "gtol": 1e-4})  # as sklearn's lbfgs
    W, b, a = unpack(r.x)
    s = np.exp(a - a.max())
    s /= s.sum()
    pred = classes[np.argmax(np.tensordot(s, Zte, axes=1) @ W.T + b, axis=1)]
    return float(np.mean(pred == yte)), bool(r.success)


MIN_GAIN = 0.005  # below half a point of accuracy the centre of gravity is noise


def expected_layer(layers, mix):
    """Tenney's centre of gravity over states 1..L of the cumulative mix accuracies; None when
    the mix gains less than MIN_GAIN over state 0 (a flat curve has no centre)."""
    d = np.diff(np.asarray(mix, np.float64))
    num, den = float(np.sum(np.asarray(layers[1:], np.float64) * d)), float(np.sum(d))
    return num / den if den >= MIN_GAIN else None


def _task_data(task, X, words):
    """Features [S, n, F] and labels for one task from the word vectors X [S, n_words, D]."""
    if task == "upos":
        return X, words["upos"].astype(np.int64), words["upos_names"]
    dep, hd, rel = arcs_of(words)
    return np.concatenate([X[:, dep], X[:, hd]], axis=2), rel.astype(np.int64), words["relation_names"]


def _split_rows(words, frac):
    """Word / arc masks for the first frac of the sentences (examples in data order)."""
    n = len(words["count"])
    cut = int(np.floor(frac * n))
    word_sent = np.repeat(np.arange(n), words["count"])
    return word_sent < cut


def run_probes(f, path, test=None, test_path=None, C=1.0, max_iter=1000, train_frac=0.8, block_bytes=256 << 20,
               log=print):
    """probes.json's content. f / test: open h5py files."""
    words = words_of(f, path)
    layers = hidden_layers(f)
    states = list(range(len(layers)))
    log("probe: %s: %d sentences, %d words, hidden states %s" % (path, len(words["count"]), words["count"].sum(), layers))
    X = word_vectors(f, words, states, block_bytes)
    if test is not None:
        twords = words_of(test, test_path)
        if hidden_layers(test) != layers:
            raise ProbeError("%s: hidden states %s, but %s has %s" % (test_path, hidden_layers(test), path, layers))
        tX = word_vectors(test, twords, states, block_bytes)
    out = {"run": path, "test": test_path, "C": C, "train_fraction": None if test is not None else train_frac,
           "layers": layers, "tasks": {}}
    for task in TASKS:
        F, y, names = _task_data(task, X, words)
        if test is None:
            in_train = _split_rows(words, train_frac)
            if task == "relation":
                in_train = in_train[arcs_of(words)[0]]
            Ftr, ytr, Fte, yte = F[:, in_train], y[in_train], F[:, ~in_train], y[~in_train]
        else:
            tF, ty, tnames = _task_data(task, tX, twords)
            # labels by name: the two files number their labels each in their own way
            idx = {nm: k for k, nm in enumerate(names)}
            extra = [nm for nm in tnames if nm not in idx]
            names = names + extra
            idx = {nm: k for k, nm in enumerate(names)}
            Ftr, ytr, Fte = F, y, tF
            yte = np.array([idx[tnames[v]] for v in ty], np.int64)
        if len(ytr) == 0 or len(yte) == 0:
            raise ProbeError("%s: task %s has %d training and %d test items" % (path, task, len(ytr), len(yte)))
        counts = np.bincount(ytr, minlength=len(names))
        majority = float(np.mean(yte == int(np.argmax(counts))))
        fits = [fit_layer(Ftr[s], ytr, Fte[s], yte, C, max_iter) for s in states]
        mixes = [fits[0]] + [fit_mix(Ftr[:s + 1], ytr, Fte[:s + 1], yte, C, max_iter) for s in states[1:]]
        acc, mix = [a for a, _ in fits], [a for a, _ in mixes]
        out["tasks"][task] = {"accuracy": acc, "mix_accuracy": mix, "expected_layer": expected_layer(layers, mix),
                              "majority": majority, "n_train": int(len(ytr)), "n_test": int(len(yte)),
                              "n_classes": int(len(names)), "converged": [c for _, c in fits],
                              "mix_converged": [c for _, c in mixes]}
        if not all(c for _, c in fits + mixes):
            log("probe: %s: some fits stopped at --max-iter %d before converging (probes.json 'converged')"
                % (task, max_iter))
        log("probe: %-8s majority %.3f; per state %s; mix %s; expected layer %s" % (
            task, majority, " ".join("%.3f" % a for a in acc), " ".join("%.3f" % a for a in mix),
            "%.2f" % out["tasks"][task]["expected_layer"] if out["tasks"][task]["expected_layer"] is not None else "n/a"))
    return out


def fig_probes(res, title):
    """Accuracy against hidden state, per task: per-state probe, cumulative mix, majority."""
    from .figures import new_figure
    tasks = list(res["tasks"])
    fig = new_figure(4.2 * len(tasks), 3.4)
    for k, t in enumerate(tasks):
        r = res["tasks"][t]
        ax = fig.add_subplot(1, len(tasks), k + 1)
        x = res["layers"]
        ax.plot(x, r["accuracy"], "o-", label="layer alone")
        ax.plot(x, r["mix_accuracy"], "s--", label="mix of layers 0..l")
        ax.axhline(r["majority"], color="grey", ls=":", label="majority class")
        if r["expected_layer"] is not None:
            ax.axvline(r["expected_layer"], color="k", ls="-.", lw=0.8, label="expected layer %.2f" % r["expected_layer"])
        ax.set_xlabel("hidden state (0 = embeddings)")
        ax.set_ylabel("test accuracy")
        ax.set_title("%s (%d classes)" % (t, r["n_classes"]))
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    return fig
