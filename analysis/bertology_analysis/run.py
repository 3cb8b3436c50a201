"""Reading a bertology run.h5 (layout: docs/run_h5.md) into numpy.

    run = load_run("out/run.h5")
    a = run.attention(17)          # [Lsel, H, T, T] float32; a[k] is layer run.attn_layers[k]
    run.tokens(17)                 # the example's tokens as strings
    run.importance                 # [L, H] normalised head importance (= head_importance.npy)

Layers and heads are 0-based here, as in the file; the figures and the summary print them
1-based, like bertology's (and Hugging Face's) printed tables. Dataset paths, dtypes, shapes and
attribute names come from the schema (schema.py, a copy of `bertology schema`).
"""
from __future__ import annotations

import json
import os
from types import TracebackType
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Type, Union

import h5py
import numpy as np
import numpy.typing as npt

from .schema import Schema, SchemaError, load_schema
from .vocab import Vocab, load_vocab

PathLike = Union[str, "os.PathLike[str]"]


class RunError(ValueError):
    """A run file that cannot be read: the message names the file and the dataset at fault."""


class Run:
    """An open run.h5 (load_run). Small per-run arrays are read at once; attention maps and
    other per-example data on request. Use as a context manager or call close()."""

    path: str
    f: h5py.File
    schema: Schema
    status: str
    n_layers: int
    n_heads: int
    n_examples: int
    task: str
    split: str
    model_dir: str
    command_line: str
    created: str
    version: str
    n_ranks: int
    options: Dict[str, Any]
    config: Dict[str, Any]
    lengths: npt.NDArray[np.int64]
    attn_layers: npt.NDArray[np.int64]

    def __init__(self, path: PathLike, vocab: Optional[PathLike] = None, allow_incomplete: bool = False,
                 schema: Optional[Schema] = None) -> None:
        """path: run.h5. vocab: a vocabulary file or model directory overriding the file's
        model_dir attribute. allow_incomplete: read a file whose status is not "complete".
        schema: the layout to expect (default: the package's copy of `bertology schema`)."""
        self.path = os.fspath(path)
        self.schema = schema or load_schema()
        try:
            self.f = h5py.File(self.path, "r")
        except OSError as e:
            raise RunError("%s: cannot open as HDF5 (%s)" % (self.path, e)) from None
        try:
            self._open(allow_incomplete)
        except SchemaError as e:
            self.close()
            raise RunError(str(e)) from None
        except RunError:
            self.close()
            raise
        self._vocab_src = None if vocab is None else os.fspath(vocab)
        self._vocab: Optional[Vocab] = None
        self._vocab_error: Optional[str] = None

    def _open(self, allow_incomplete: bool) -> None:
        sc, a, path = self.schema, self.f.attrs, self.path
        if a.get("format") != sc.format:
            raise RunError("%s: root attribute format is %r, not %r" % (path, a.get("format"), sc.format))
        version = sc.check_attr(self.f, sc.root_attribute("format_version"), path)
        if version > sc.format_version:
            raise RunError("%s: format_version %d is newer than this reader (%d)" % (path, version, sc.format_version))
        self.status = str(a.get("status", ""))
        if self.status != "complete" and not allow_incomplete:
            raise RunError("%s: status is %r, not 'complete' (the run did not finish)" % (path, self.status))
        root = {name: sc.check_attr(self.f, sc.root_attribute(name), path)
                for name in ("n_layers", "n_heads", "n_examples")}
        self.n_layers, self.n_heads, self.n_examples = root["n_layers"], root["n_heads"], root["n_examples"]
        self.task = str(a.get("task", ""))
        self.split = str(a.get("split", ""))
        self.model_dir = str(a.get("model_dir", ""))
        self.command_line = str(a.get("command_line", ""))
        self.created = str(a.get("created", ""))
        self.version = str(a.get("bertology_version", ""))
        self.n_ranks = int(a.get("n_ranks", 1))
        self.options = _json_attr(a, "options", path)
        self.config = _json_attr(a, "model_config", path)
        self._dims = sc.dims(self.f)
        self.lengths = self._checked("/examples/length")[()].astype(np.int64)
        if self.n_examples and self.lengths.min() < 1:
            raise RunError("%s: /examples/length has a value < 1 at row %d"
                           % (path, int(np.argmin(self.lengths))))
        self._token_offset = self._checked("/examples/token_offset")[()]
        self._token_ids = self._checked("/examples/token_ids")
        self.attn_layers = np.zeros(0, dtype=np.int64)
        g_attn = sc.group("/attentions").path
        if g_attn in self.f:
            g = self.f[g_attn]
            self.attn_layers = sc.check_attr(g, sc.group_attribute(g_attn, "layers"), path).astype(np.int64)
            n_heads = sc.check_attr(g, sc.group_attribute(g_attn, "n_heads"), path)
            if n_heads != self.n_heads:
                raise RunError("%s: %s n_heads %d != root n_heads %d" % (path, g_attn, n_heads, self.n_heads))
            bad = (self.attn_layers < 0) | (self.attn_layers >= self.n_layers)
            if bad.any():
                raise RunError("%s: %s layers %s outside 0..%d"
                               % (path, g_attn, self.attn_layers.tolist(), self.n_layers - 1))
            self._attn_offset = self._checked("/attentions/offset")[()]
            self._attn_data = self._checked("/attentions/data")

    # ---- small helpers -------------------------------------------------------------------

    def _checked(self, path: str) -> h5py.Dataset:
        """A dataset of the schema after checking its dtype and shape (RunError otherwise)."""
        try:
            return self.schema.check_dataset(self.f, path, self._dims, self.path)
        except SchemaError as e:
            raise RunError(str(e)) from None

    def _outside_schema(self, name: str) -> np.ndarray:
        """A whole dataset that another command adds (/words ...): RunError when missing."""
        if name not in self.f or not isinstance(self.f[name], h5py.Dataset):
            raise RunError("%s: dataset /%s is missing" % (self.path, name))
        return self.f[name][()]

    def get(self, name: str) -> Optional[np.ndarray]:
        """A whole dataset as a numpy array, or None when the file does not hold it. Datasets
        the schema describes are checked against it (RunError on a wrong dtype or shape)."""
        ok = name in self.f and isinstance(self.f[name], h5py.Dataset)
        if not ok:
            return None
        try:
            self.schema.dataset(name)
        except KeyError:
            return self.f[name][()]  # another command's group (/masking, /syntax ...)
        return self._checked(name)[()]

    def validate(self) -> List[str]:
        """Every way the file departs from the schema (docs/run_h5.md); empty when it follows it."""
        return self.schema.validate(self.f, self.path)

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def _row(self, i: int) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError("example row must be an integer, not %r" % (i,))
        if not 0 <= i < self.n_examples:
            raise IndexError("%s: example row %d outside 0..%d"
                             % (self.path, i, self.n_examples - 1))
        return int(i)

    # ---- per-run summaries ---------------------------------------------------------------

    @property
    def shape(self) -> Tuple[int, int]:
        return (self.n_layers, self.n_heads)

    @property
    def computes_importance(self) -> bool:
        """`bertology syntax` runs have /importance datasets but never fill them."""
        return self.options.get("command") != "syntax"

    @property
    def importance(self) -> Optional[np.ndarray]:
        """[L, H] float32 normalised importance, or None."""
        return self.get("importance/normalized") if self.computes_importance else None

    @property
    def importance_raw(self) -> Optional[np.ndarray]:
        return self.get("importance/raw") if self.computes_importance else None

    @property
    def ranks(self) -> Optional[np.ndarray]:
        return self.get("importance/ranks") if self.computes_importance else None

    @property
    def entropy(self) -> Optional[np.ndarray]:
        """[L, H] mean attention entropy per query token (nats), or None."""
        return self.get("entropy/normalized")

    @property
    def metrics(self) -> Dict[str, float]:
        g = self.schema.group("/metrics").path
        if g not in self.f:
            return {}
        return {k: float(v) for k, v in self.f[g].attrs.items()}

    def group(self, name: str) -> Optional[Dict[str, Any]]:
        """Every dataset of a group (e.g. "masking", "ablation") as {relative path: array}
        plus the group's attributes under "@name", or None when the group is absent."""
        if name not in self.f or not isinstance(self.f[name], h5py.Group):
            return None
        out = {"@" + k: _attr_value(v) for k, v in self.f[name].attrs.items()}

        def visit(rel: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                out[rel] = obj[()]
                for k, v in obj.attrs.items():
                    out[rel + "@" + k] = _attr_value(v)
        self.f[name].visititems(visit)
        return out

    # ---- per-example data ----------------------------------------------------------------

    @property
    def has_attentions(self) -> bool:
        return self.attn_layers.size > 0

    def _span(self, data: Any, data_name: str, offset_name: str, i: int, o: int, n: int) -> Any:
        """data[o:o + n], example i's values; a RunError naming the offset if that lies outside."""
        if o < 0 or o + n > data.shape[0]:
            raise RunError("%s: %s[%d] = %d (+%d) outside %s of %d"
                           % (self.path, offset_name, i, o, n, data_name, data.shape[0]))
        return data[o:o + n]

    def token_ids(self, i: int) -> npt.NDArray[np.int64]:
        i = self._row(i)
        o, T = int(self._token_offset[i]), int(self.lengths[i])
        return self._span(self._token_ids, "/examples/token_ids", "/examples/token_offset", i, o, T).astype(np.int64)

    @property
    def vocab(self) -> Optional[Vocab]:
        """The model's vocabulary, or None (vocab_error says why)."""
        if self._vocab is None and self._vocab_error is None:
            try:
                self._vocab = load_vocab(self._vocab_source())
            except (OSError, ValueError) as e:
                self._vocab_error = str(e)
        return self._vocab

    @property
    def vocab_error(self) -> Optional[str]:
        self.vocab
        return self._vocab_error

    def _vocab_source(self) -> str:
        if self._vocab_src:
            return self._vocab_src
        if not self.model_dir:
            raise FileNotFoundError("%s: no model_dir attribute; pass a vocabulary" % self.path)
        if os.path.isabs(self.model_dir):
            return self.model_dir
        # model_dir is as typed on the command line, relative to wherever bertology ran: try the
        # current directory, then the run file's directory and its parent (out/ next to model/).
        here = os.path.dirname(os.path.abspath(self.path))
        for base in (os.getcwd(), here, os.path.dirname(here)):
            p = os.path.join(base, self.model_dir)
            if os.path.isdir(p):
                return p
        raise FileNotFoundError("%s: model_dir %r not found from the current directory or next"
                                " to the run file; pass a vocabulary" % (self.path, self.model_dir))

    # ---- words of a --task ud run (/words, docs/run_h5.md) ---------------------------------
    # /words is written by src/run/ud.c through bt_store_write_array, outside the store's layout
    # tables, so it is not in the schema: its names are the ones docs/run_h5.md lists.

    @property
    def has_words(self) -> bool:
        """True for runs over a CoNLL-U treebank (--task ud, bertology syntax)."""
        return "words" in self.f

    def _words_group(self) -> Dict[str, Any]:
        if not self.has_words:
            raise RunError("%s: no /words (a run with --task ud --data FILE.conllu has them)" % self.path)
        if getattr(self, "_words", None) is None:
            g = self.f["words"]
            w: Dict[str, Any] = {k: self._outside_schema("words/" + k) for k in (
                "sentence", "count", "offset", "first", "pieces", "upos", "head", "deprel", "relation")}
            for k in ("sentence", "count", "offset"):
                if w[k].shape != (self.n_examples,):
                    raise RunError("%s: /words/%s has shape %s, expected (%d,)"
                                   % (self.path, k, w[k].shape, self.n_examples))
            nw = int(w["count"].sum())
            for k in ("first", "pieces", "upos", "head", "deprel", "relation"):
                if w[k].shape != (nw,):
                    raise RunError("%s: /words/%s has shape %s, expected (%d,) (the sum of /words/count)"
                                   % (self.path, k, w[k].shape, nw))
            for k in ("upos_names", "deprel_names", "relation_names"):
                w[k] = [str(x) for x in g.attrs.get(k, [])]
            self._words = w
        return self._words

    def words(self, i: int) -> Dict[str, Any]:
        """Example i's words: dict of per-word lists (0-based word k of the sentence): first
        (token position of its first piece, special tokens counted), pieces (its token count),
        upos, head (0 = root, else the 1-based word), deprel and relation as strings, and
        sentence (the sentence's 0-based index in the CoNLL-U file)."""
        i = self._row(i)
        w = self._words_group()
        o, c = int(w["offset"][i]), int(w["count"][i])
        sl = slice(o, o + c)
        out = {"sentence": int(w["sentence"][i]), "first": w["first"][sl].astype(np.int64),
               "pieces": w["pieces"][sl].astype(np.int64), "head": w["head"][sl].astype(np.int64)}
        for k, names in (("upos", "upos_names"), ("deprel", "deprel_names"), ("relation", "relation_names")):
            out[k] = [w[names][j] for j in w[k][sl]]
        return out

    def word_of_token(self, i: int) -> npt.NDArray[np.int64]:
        """[T] for example i: the 0-based word of each token, -1 for special tokens."""
        w = self.words(i)
        out = np.full(int(self.lengths[self._row(i)]), -1, dtype=np.int64)
        for k, (f, n) in enumerate(zip(w["first"], w["pieces"])):
            out[f:f + n] = k
        return out

    # ---- code of a --task code run (/code, docs/run_h5.md) ---------------------------------
    # /code is written by src/run/code.c through bt_store_write_array, outside the store's layout
    # tables, like /words.

    @property
    def has_code(self) -> bool:
        """True for runs over JSON lines of code (--task code, bertology cat)."""
        return "code" in self.f

    def _code_group(self) -> Dict[str, Any]:
        if not self.has_code:
            raise RunError("%s: no /code (a run with --task code --data FILE.jsonl has it)" % self.path)
        if getattr(self, "_code", None) is None:
            g = self.f["code"]
            c: Dict[str, Any] = {k: self._outside_schema("code/" + k) for k in (
                "language", "leaf_offset", "leaf_start", "leaf_end", "leaf_type", "token_start", "token_end",
                "token_leaf")}
            want = {"language": (self.n_examples,), "leaf_offset": (self.n_examples + 1,)}
            nl = int(c["leaf_offset"][-1]) if c["leaf_offset"].size else 0
            for k in ("leaf_start", "leaf_end", "leaf_type"):
                want[k] = (nl,)
            nt = int(self.lengths.sum())
            for k in ("token_start", "token_end", "token_leaf"):
                want[k] = (nt,)
            for k, shape in want.items():
                if c[k].shape != shape:
                    raise RunError("%s: /code/%s has shape %s, expected %s" % (self.path, k, c[k].shape, shape))
            if (np.diff(c["leaf_offset"]) < 0).any() or c["leaf_offset"][0] != 0:
                raise RunError("%s: /code/leaf_offset is not a non-decreasing list from 0" % self.path)
            c["languages"] = [str(x) for x in g.attrs.get("languages", [])]
            c["leaf_types"] = [str(x) for x in g.attrs.get("leaf_types", [])]
            c["token_first"] = np.concatenate((np.zeros(1, np.int64), np.cumsum(self.lengths)))
            self._code = c
        return self._code

    def code(self, i: int) -> Dict[str, Any]:
        """Example i's code structure: language (str); leaves as lists leaf_start, leaf_end
        (bytes of the UTF-8 code, [start, end)) and leaf_type (tree-sitter node type); per token
        (special tokens counted) token_start, token_end (-1 for <s>, </s>) and token_leaf (the
        0-based leaf of the example, -1: none)."""
        i = self._row(i)
        c = self._code_group()
        a, b = int(c["leaf_offset"][i]), int(c["leaf_offset"][i + 1])
        t0, t1 = int(c["token_first"][i]), int(c["token_first"][i + 1])
        return {"language": c["languages"][int(c["language"][i])],
                "leaf_start": c["leaf_start"][a:b].astype(np.int64), "leaf_end": c["leaf_end"][a:b].astype(np.int64),
                "leaf_type": [c["leaf_types"][t] for t in c["leaf_type"][a:b]],
                "token_start": c["token_start"][t0:t1].astype(np.int64),
                "token_end": c["token_end"][t0:t1].astype(np.int64),
                "token_leaf": c["token_leaf"][t0:t1].astype(np.int64)}

    def tokens(self, i: int) -> List[str]:
        """The example's tokens as strings ("<id>" for each id when no vocabulary is found)."""
        ids = self.token_ids(i)
        v = self.vocab
        return v.decode(ids) if v else ["<%d>" % t for t in ids]

    def _attn_span(self, i: int) -> Tuple[int, int, int]:
        if not self.has_attentions:
            raise RunError("%s: no /attentions (run with --save-attentions)" % self.path)
        T = int(self.lengths[i])
        n = self.attn_layers.size * self.n_heads * T * T
        o = int(self._attn_offset[i])
        self._span(self._attn_data, "/attentions/data", "/attentions/offset", i, o, n)
        return o, n, T

    def attention(self, i: int, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """Example i's attention probabilities, a new array [Lsel, H, T, T]: a[k, h, t, s] is
        how much query t attends to key s in head h of layer attn_layers[k] (Lsel = L unless
        bertology ran with --layers). Probabilities are after the head gates: a masked or
        pruned head is all zeros."""
        i = self._row(i)
        o, n, T = self._attn_span(i)
        return self._attn_data[o:o + n].astype(dtype).reshape(-1, self.n_heads, T, T)

    def iter_attentions(self, rows: Optional[Iterable[int]] = None, max_values: int = 1 << 24,
                        dtype: npt.DTypeLike = np.float32) -> Iterator[Tuple[int, np.ndarray]]:
        """Yields (row, attention [Lsel, H, T, T]) for rows (default all, in order), reading runs
        of consecutive rows in one HDF5 read of at most max_values elements when possible."""
        rows = range(self.n_examples) if rows is None else [self._row(r) for r in rows]
        rows = list(rows)
        k = 0
        while k < len(rows):
            o0, n0, _ = self._attn_span(rows[k])
            end, j = o0 + n0, k + 1
            # extend while the next row is the next block of the file
            while j < len(rows) and end - o0 < max_values:
                o, n, _ = self._attn_span(rows[j])
                if o != end or end + n - o0 > max_values:
                    break
                end, j = o + n, j + 1
            block = self._attn_data[o0:end]
            for r in rows[k:j]:
                o, n, T = self._attn_span(r)
                yield r, block[o - o0:o - o0 + n].astype(dtype).reshape(-1, self.n_heads, T, T)
            k = j


    # ---- what scored the heads: attention attribution and rollout (docs/attribution.md) ----

    @property
    def method(self) -> str:
        """What the importance measures: "gate" (Michel et al.) or "attattr" (Hao et al.'s
        attention attribution); files written before the attribution say nothing: "gate"."""
        if "importance" not in self.f:
            return "gate"
        v = _attr_value(self.f["importance"].attrs.get("method", ["gate"]))
        return str(v[0] if isinstance(v, list) else v)

    @property
    def attr_max(self) -> Optional[np.ndarray]:
        """[n, L, H] float64: each example's largest attribution of each head (the per-example
        score whose sum is importance_raw), or None (not an attattr run)."""
        return self.get("examples/attr_max")

    def attribution(self, i: int, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """Example i's attribution maps, a new array [L, H, T, T] (every layer): how much the
        attention edge t -> s of head h contributes to the target's probability (run with
        --method attattr --save-attributions)."""
        i = self._row(i)
        if "attribution/data" not in self.f:
            raise RunError("%s: no /attribution/data (run importance --method attattr --save-attributions)"
                           % self.path)
        data, off = self._checked("/attribution/data"), self._checked("/attribution/offset")
        T = int(self.lengths[i])
        n, o = self.n_layers * self.n_heads * T * T, int(off[i])
        span = self._span(data, "/attribution/data", "/attribution/offset", i, o, n)
        return span.astype(dtype).reshape(self.n_layers, self.n_heads, T, T)

    def rollout(self, i: int) -> np.ndarray:
        """Example i's attention rollout [T] float32: the relevance of each token to the token
        the model's output reads ([CLS], or the last token of a GPT-2 classifier or LM); run
        with --save-rollout."""
        i = self._row(i)
        if "rollout/data" not in self.f:
            raise RunError("%s: no /rollout/data (run with --save-rollout)" % self.path)
        o, T = int(self._token_offset[i]), int(self.lengths[i])
        span = self._span(self._checked("/rollout/data"), "/rollout/data", "/examples/token_offset", i, o, T)
        return span.astype(np.float32)


def load_run(path: PathLike, vocab: Optional[PathLike] = None, allow_incomplete: bool = False) -> Run:
    """Opens a run.h5 (see Run). vocab: vocabulary file or model directory, if the file's
    model_dir attribute does not lead to one."""
    return Run(path, vocab=vocab, allow_incomplete=allow_incomplete)


def _json_attr(attrs: Any, name: str, path: str) -> Dict[str, Any]:
    s = attrs.get(name)
    if s is None or s == "":
        return {}
    try:
        return json.loads(s)
    except (TypeError, json.JSONDecodeError) as e:
        raise RunError("%s: root attribute %s is not JSON (%s)" % (path, name, e)) from None


def _attr_value(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.size == 1:
        return v.reshape(()).item()
    if isinstance(v, np.generic):
        return v.item()
    return v
