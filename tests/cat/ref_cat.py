#!/usr/bin/python3
"""An independent CAT-probing reference (docs/spec.md "Code structure: CAT-probing"), for the
comparison with `bertology cat`.

Independent of the C code at every step but tree-sitter's parse itself: the tree is read through
a ctypes binding of Debian's libtree-sitter (child by child with ts_node_child, where the C code
walks a cursor), the leaf, comment and U-AST rules are written again here, distances come from a
breadth-first search over Python sets, the tokens from the Python BPE model in
tests/text/bpe_ref.py (their byte ranges from their spellings), the attention from the PyTorch
model in tests/ref/torch_families.py (float64), the layer map as the authors take it (the mean of
the heads' token maps, then leaves) and the thresholds from numpy.quantile.
"""
import ctypes
import json
import os
import subprocess
from collections import deque

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LANGS = ("python", "java", "go", "javascript")


class TSNode(ctypes.Structure):
    _fields_ = [("context", ctypes.c_uint32 * 4), ("id", ctypes.c_void_p), ("tree", ctypes.c_void_p)]


class TreeSitter:
    """Debian's libtree-sitter through ctypes; each grammar built from third_party/ into work."""

    def __init__(self, work):
        self.ts = ctypes.CDLL("libtree-sitter.so.0")
        ts = self.ts
        ts.ts_parser_new.restype = ctypes.c_void_p
        ts.ts_parser_set_language.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        ts.ts_parser_set_language.restype = ctypes.c_bool
        ts.ts_parser_parse_string.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32]
        ts.ts_parser_parse_string.restype = ctypes.c_void_p
        ts.ts_parser_delete.argtypes = [ctypes.c_void_p]
        ts.ts_tree_root_node.argtypes = [ctypes.c_void_p]
        ts.ts_tree_root_node.restype = TSNode
        ts.ts_tree_delete.argtypes = [ctypes.c_void_p]
        ts.ts_node_child_count.argtypes = [TSNode]
        ts.ts_node_child_count.restype = ctypes.c_uint32
        ts.ts_node_child.argtypes = [TSNode, ctypes.c_uint32]
        ts.ts_node_child.restype = TSNode
        ts.ts_node_type.argtypes = [TSNode]
        ts.ts_node_type.restype = ctypes.c_char_p
        ts.ts_node_start_byte.argtypes = [TSNode]
        ts.ts_node_start_byte.restype = ctypes.c_uint32
        ts.ts_node_end_byte.argtypes = [TSNode]
        ts.ts_node_end_byte.restype = ctypes.c_uint32
        os.makedirs(work, exist_ok=True)
        self.work = work
        self.langs = {}

    def language(self, name):
        if name not in self.langs:
            src = os.path.join(ROOT, "third_party", "tree-sitter-" + name, "src")
            lib = os.path.join(self.work, "ts_%s.so" % name)
            if not os.path.exists(lib):
                files = [os.path.join(src, f) for f in ("parser.c", "scanner.c") if os.path.exists(os.path.join(src, f))]
                subprocess.run(["cc", "-shared", "-fPIC", "-O0", "-w", "-I", src, "-o", lib] + files, check=True)
            so = ctypes.CDLL(lib)
            fn = getattr(so, "tree_sitter_" + name)
            fn.restype = ctypes.c_void_p
            self.langs[name] = (so, fn())
        return self.langs[name][1]

    def tree(self, name, code):
        """(nodes, edges, leaves): nodes [(type, start, end)] in pre-order; parent-child edges;
        leaves: node indices of the childless nodes in source order."""
        ts = self.ts
        parser = ts.ts_parser_new()
        assert ts.ts_parser_set_language(parser, self.language(name))
        tree = ts.ts_parser_parse_string(parser, None, code, len(code))
        nodes, edges, leaves = [], [], []
        stack = [(ts.ts_tree_root_node(tree), -1)]
        while stack:
            node, parent = stack.pop()
            idx = len(nodes)
            nodes.append((ts.ts_node_type(node).decode("utf-8", "replace"), ts.ts_node_start_byte(node),
                          ts.ts_node_end_byte(node)))
            if parent >= 0:
                edges.append((parent, idx))
            n = ts.ts_node_child_count(node)
            if n == 0:
                leaves.append(idx)
            for k in reversed(range(n)):  # pushed last-first: popped in source order
                stack.append((ts.ts_node_child(node, k), idx))
        ts.ts_tree_delete(tree)
        ts.ts_parser_delete(parser)
        return nodes, edges, leaves


def code_leaves(nodes, leaves):
    return [v for v in leaves if "comment" not in nodes[v][0] and nodes[v][2] > nodes[v][1]]


def graph(nodes, edges, cleaves, code, uast):
    adj = [set() for _ in nodes]
    extra = []
    if uast:
        extra += list(zip(cleaves, cleaves[1:]))
        last = {}
        for v in cleaves:
            if nodes[v][0] == "identifier":
                text = code[nodes[v][1]:nodes[v][2]]
                if text in last:
                    extra.append((last[text], v))
                last[text] = v
    for a, b in edges + extra:
        adj[a].add(b)
        adj[b].add(a)
    return adj


def bfs(adj, src):
    d = {src: 0}
    q = deque([src])
    while q:
        u = q.popleft()
        for v in adj[u]:
            if v not in d:
                d[v] = d[u] + 1
                q.append(v)
    return d


def token_ranges(bpe, ids):
    """Byte range of each token from its spelling; None for the <s> and </s> the encoding put
    around the text (a special token inside the text spells its own characters)."""
    byte_of = {c: b for b, c in bpe.byte_encoder.items()}
    special = {bpe.encoder[t] for t in ("<s>", "</s>", "<pad>", "<unk>", "<mask>") if t in bpe.encoder}
    at, out = 0, []
    for k, i in enumerate(ids):
        if i in special and k in (0, len(ids) - 1):
            out.append(None)
            continue
        n = len(bpe.decoder[i])
        assert all(c in byte_of for c in bpe.decoder[i])
        out.append((at, at + n))
        at += n
    return out


def example_scores(attn, slots, n, dist, theta_d):
    """attn [L, H, T, T]; slots [T] leaf slot or -1. Head scores [L, H] and layer scores [L]."""
    L, H, T, _ = attn.shape
    P = np.zeros((n, T))
    for t, s in enumerate(slots):
        if s >= 0:
            P[s, t] = 1.0
    P /= P.sum(axis=1, keepdims=True)

    def score(A):
        la = P @ A @ P.T
        ma = la > np.quantile(la, 0.75)
        md = dist < theta_d
        u = np.logical_or(ma, md).sum()
        return np.logical_and(ma, md).sum() / u if u else np.nan

    heads = np.array([[score(attn[l, h]) for h in range(H)] for l in range(L)])
    layers = np.array([score(attn[l].mean(axis=0)) for l in range(L)])
    return heads, layers


def run(model_dir, data, max_len, work, uast=True, types=None):
    """Per example: (language, head scores [L, H] or None, layer scores [L] or None)."""
    import bpe_ref  # tests/text and tests/ref: on the path under pytest (tests/pytest.ini)
    import torch_families
    ts = TreeSitter(work)
    bpe = bpe_ref.RefBPE(os.path.join(model_dir, "vocab.json"), os.path.join(model_dir, "merges.txt"),
                         style="roberta")
    model = torch_families.load(model_dir)
    out = []
    with open(data, encoding="utf-8") as f:
        rows = [json.loads(ln) for ln in f if ln.strip()]
    for row in rows:
        code, lang = row["code"].encode("utf-8"), row["language"]
        nodes, edges, leaves = ts.tree(lang, code)
        cl = code_leaves(nodes, leaves)
        adj = graph(nodes, edges, cl, code, uast)
        ids, _ = bpe.encode(row["code"], max_len=max_len)
        slot_of, slots = {}, []
        for r in token_ranges(bpe, ids):
            owner = None
            if r is not None:
                b = r[0]
                while b < r[1] and code[b:b + 1] in (b" ", b"\t", b"\n", b"\r", b"\v", b"\f"):
                    b += 1
                if b < r[1]:
                    owner = next((v for v in cl if nodes[v][1] <= b < nodes[v][2]), None)
            if owner is not None and types and nodes[owner][0] not in types:
                owner = None
            if owner is not None and owner not in slot_of:
                slot_of[owner] = len(slot_of)
            slots.append(slot_of[owner] if owner is not None else -1)
        n = len(slot_of)
        if n < 2:
            out.append((lang, None, None))
            continue
        scored = sorted(slot_of, key=slot_of.get)
        dist = np.zeros((n, n))
        for i, v in enumerate(scored):
            d = bfs(adj, v)
            dist[i] = [d[w] for w in scored]
        theta_d = np.quantile(dist, 0.25)
        attn = model.example(ids)["attn"]
        heads, layers = example_scores(attn, slots, n, dist, theta_d)
        out.append((lang, heads, layers))
    return out


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--work", required=True)
    ap.add_argument("--ast", default="uast", choices=("uast", "plain"))
    ap.add_argument("--out", required=True, help=".npz with heads [N, L, H] and layers [N, L] (NaN: not scored)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    res = run(a.model, a.data, a.max_len, a.work, a.ast == "uast")
    L, H = next(h.shape for _, h, _ in res if h is not None)
    heads = np.array([h if h is not None else np.full((L, H), np.nan) for _, h, _ in res])
    layers = np.array([ly if ly is not None else np.full(L, np.nan) for _, _, ly in res])
    np.savez(a.out, heads=heads, layers=layers, langs=np.array([g for g, _, _ in res]))
