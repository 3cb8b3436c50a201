"""The layout of run.h5 as bertology writes it: the package's copy of `bertology schema`.

run_h5_schema.json (next to this file) is generated from the tables of the C writer
(src/store/run_h5_layout.c) by `bertology schema --out analysis/bertology_analysis/run_h5_schema.json`;
the test analysis.schema fails when the copy and the built program disagree. The reader (run.py)
takes dataset paths, dtypes, shapes and attribute names from here instead of repeating them.

Shapes are lists of symbols (docs/run_h5.md): n examples, L layers, H heads, C labels, Lsel and Lh
the layers of saved attentions and hidden states, D = d_model, and flat totals "sum(F*G*...)" over
examples, where T is the example's token count. The schema's "symbols" say where each is read.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import h5py
import numpy as np

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_h5_schema.json")

_SUM = re.compile(r"^sum\(([A-Za-z_]+(?:\*[A-Za-z_]+)*)\)$")


class SchemaError(ValueError):
    """A file that does not follow the schema: the message names the file and the object."""


@dataclass(frozen=True)
class DatasetSpec:
    path: str
    dtypes: Tuple[str, ...]
    shape: Tuple[str, ...]
    when: str


@dataclass(frozen=True)
class AttrSpec:
    name: str
    type: str  # "str", "int64", "int32[]"
    values: Optional[Tuple[str, ...]] = None
    shape: Optional[Tuple[str, ...]] = None


@dataclass(frozen=True)
class GroupSpec:
    path: str
    when: str
    attributes: Tuple[AttrSpec, ...]
    other_attributes: Optional[str]


class Schema:
    """The parsed schema. Look-ups by path: dataset("/examples/length"), group("/attentions")."""

    def __init__(self, doc: Dict[str, Any], source: str = SCHEMA_FILE) -> None:
        self.doc = doc
        self.source = source
        try:
            self.format: str = doc["format"]
            self.format_version: int = int(doc["format_version"])
            self.symbols: Dict[str, Dict[str, Any]] = doc["symbols"]
            self.root_attributes = tuple(_attr(a) for a in doc["root_attributes"])
            self.groups = tuple(GroupSpec(g["path"], g["when"], tuple(_attr(a) for a in g["attributes"]),
                                          g.get("other_attributes")) for g in doc["groups"])
            self.datasets = tuple(DatasetSpec(d["path"], tuple(d["dtype"]), tuple(d["shape"]), d["when"])
                                  for d in doc["datasets"])
        except (KeyError, TypeError, ValueError) as e:
            raise SchemaError("%s: not a bertology run.h5 schema (%r)" % (source, e)) from None
        self._ds = {d.path: d for d in self.datasets}
        self._groups = {g.path: g for g in self.groups}
        self._root = {a.name: a for a in self.root_attributes}

    def dataset(self, path: str) -> DatasetSpec:
        return self._ds[_abs(path)]

    def group(self, path: str) -> GroupSpec:
        return self._groups[_abs(path)]

    def root_attribute(self, name: str) -> AttrSpec:
        return self._root[name]

    def group_attribute(self, group: str, name: str) -> AttrSpec:
        for a in self.group(group).attributes:
            if a.name == name:
                return a
        raise KeyError("%s@%s" % (group, name))

    # ---- shapes ---------------------------------------------------------------------------

    def dims(self, f: h5py.File) -> "Dims":
        return Dims(self, f)

    def expected_shape(self, path: str, dims: "Dims") -> Tuple[int, ...]:
        return tuple(dims.value(s) for s in self.dataset(path).shape)

    # ---- checks ---------------------------------------------------------------------------

    def check_dataset(self, f: h5py.File, path: str, dims: "Dims", where: str) -> h5py.Dataset:
        """The dataset at path after checking it against the schema (dtype and shape);
        SchemaError naming `where` (the file) and the dataset otherwise."""
        spec = self.dataset(path)
        p = _abs(path)
        if p not in f or not isinstance(f[p], h5py.Dataset):
            raise SchemaError("%s: dataset %s is missing" % (where, p))
        ds = f[p]
        if np.dtype(ds.dtype).name not in spec.dtypes:
            raise SchemaError("%s: %s has dtype %s, expected %s" % (where, p, ds.dtype, " or ".join(spec.dtypes)))
        want = self.expected_shape(p, dims)
        if tuple(ds.shape) != want:
            raise SchemaError("%s: %s has shape %s, expected %s = [%s]"
                              % (where, p, tuple(ds.shape), want, ", ".join(spec.shape)))
        return ds

    def check_attr(self, obj: Union[h5py.File, h5py.Group], spec: AttrSpec, where: str, dims: Optional["Dims"] = None
                   ) -> Any:
        """The attribute's value after checking its type (and allowed values, and length)."""
        label = "%s: attribute %s of %s" % (where, spec.name, obj.name)
        if spec.name not in obj.attrs:
            raise SchemaError("%s is missing" % label)
        v = obj.attrs[spec.name]
        if spec.type == "str":
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            if not isinstance(v, str):
                raise SchemaError("%s is %r, expected a string" % (label, v))
            if spec.values is not None and v not in spec.values:
                raise SchemaError("%s is %r, expected one of %s" % (label, v, ", ".join(spec.values)))
            return v
        arr = np.asarray(v)
        kind = "int64" if spec.type == "int64" else "int32"
        if arr.dtype.kind not in "iu" or arr.dtype.itemsize != np.dtype(kind).itemsize:
            raise SchemaError("%s has type %s, expected %s" % (label, arr.dtype, spec.type))
        if spec.type == "int64":
            if arr.size != 1:
                raise SchemaError("%s has %d values, expected one" % (label, arr.size))
            return int(arr.reshape(()))
        arr = arr.reshape(-1)
        if spec.shape and dims is not None:
            n = dims.value(spec.shape[0])
            if arr.size != n:
                raise SchemaError("%s has %d values, expected %s = %d" % (label, arr.size, spec.shape[0], n))
        return arr

    def validate(self, f: h5py.File, where: str = "") -> List[str]:
        """Every way the file departs from the schema (empty list: it follows it). Objects the
        schema does not describe (groups other commands add: /masking, /words, ...) are not
        checked; an optional dataset ("when" not "always") may be absent, but datasets switched on
        by the same layout field are present together."""
        where = where or f.filename
        problems: List[str] = []

        def attempt(fn: Any, *a: Any) -> Any:
            try:
                return fn(*a)
            except SchemaError as e:
                problems.append(str(e))
                return None

        for a in self.root_attributes:
            attempt(self.check_attr, f, a, where)
        fmt = f.attrs.get("format")
        if fmt is not None and fmt != self.format:
            problems.append("%s: format %r, expected %r" % (where, fmt, self.format))
        dims = self.dims(f)
        present = {w: [] for w in {g.when for g in self.groups} | {d.when for d in self.datasets}}  # type: Dict[str, List[bool]]
        for g in self.groups:
            there = g.path in f and isinstance(f[g.path], h5py.Group)
            present[g.when].append(there)
            if not there:
                if g.when == "always":
                    problems.append("%s: group %s is missing" % (where, g.path))
                continue
            for a in g.attributes:
                attempt(self.check_attr, f[g.path], a, where, dims)
            for k, obj in f[g.path].items():
                p = g.path.rstrip("/") + "/" + k
                if p not in self._ds:
                    problems.append("%s: %s is in %s but not in the schema" % (where, p, g.path))
            if g.other_attributes:
                known = {a.name for a in g.attributes}
                for k, v in f[g.path].attrs.items():
                    if k not in known and np.asarray(v).dtype.name != g.other_attributes:
                        problems.append("%s: attribute %s of %s is %s, expected %s"
                                        % (where, k, g.path, np.asarray(v).dtype, g.other_attributes))
        for d in self.datasets:
            there = d.path in f
            present[d.when].append(there)
            if there or d.when == "always":
                attempt(self.check_dataset, f, d.path, dims, where)
        for when, flags in present.items():
            if when != "always" and any(flags) and not all(flags):
                objs = [o.path for o in list(self.groups) + list(self.datasets) if o.when == when]
                problems.append("%s: %s are switched on together (%s), but only %s exist"
                                % (where, ", ".join(objs), when, ", ".join(o for o in objs if o in f)))
        return problems


class Dims:
    """Values of the shape symbols in one file, read on first use."""

    def __init__(self, schema: Schema, f: h5py.File) -> None:
        self.schema, self.f = schema, f
        self._cache: Dict[str, Any] = {}

    def _symbol(self, name: str) -> Any:
        if name not in self._cache:
            s = self.schema.symbols.get(name)
            if s is None:
                raise SchemaError("%s: shape symbol %s is not in the schema" % (self.schema.source, name))
            if "per_example" in s:
                path = s["per_example"]
                if path not in self.f:
                    raise SchemaError("%s: %s is missing (it gives %s)" % (self.f.filename, path, name))
                v: Any = np.asarray(self.f[path][()], dtype=np.int64)
            else:
                obj = s["object"]
                if obj not in self.f or s["attribute"] not in self.f[obj].attrs:
                    raise SchemaError("%s: attribute %s of %s is missing (it gives %s)"
                                      % (self.f.filename, s["attribute"], obj, name))
                a = np.asarray(self.f[obj].attrs[s["attribute"]])
                v = int(a.size) if s.get("length") else int(a.reshape(-1)[0])
            self._cache[name] = v
        return self._cache[name]

    def value(self, expr: str) -> int:
        """A shape entry: a symbol ("n") or a flat total ("sum(Lsel*H*T*T)")."""
        m = _SUM.match(expr)
        if not m:
            v = self._symbol(expr)
            if isinstance(v, np.ndarray):
                raise SchemaError("%s: %s varies per example; only sum(...) can use it" % (self.schema.source, expr))
            return int(v)
        total = np.ones_like(np.asarray(self._symbol("T"), dtype=np.int64))
        for factor in m.group(1).split("*"):
            total = total * np.asarray(self._symbol(factor), dtype=np.int64)
        return int(total.sum())


def _abs(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _attr(a: Dict[str, Any]) -> AttrSpec:
    return AttrSpec(a["name"], a["type"], tuple(a["values"]) if "values" in a else None,
                    tuple(a["shape"]) if "shape" in a else None)


def load_schema(path: Optional[str] = None) -> Schema:
    """The schema from a JSON file (default: the package's copy, read once)."""
    if path is None:
        return _package_schema()
    return _read(path)


@lru_cache(maxsize=1)
def _package_schema() -> Schema:
    return _read(SCHEMA_FILE)


def _read(path: str) -> Schema:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except json.JSONDecodeError as e:
        raise SchemaError("%s: not JSON (line %d: %s)" % (path, e.lineno, e.msg)) from None
    return Schema(doc, path)


def diff(a: Dict[str, Any], b: Dict[str, Any], where: str = "") -> List[str]:
    """Where two schema documents differ (paths into the JSON), for a readable test failure."""
    out: List[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s/%s: only in %s" % (where, k, "the first" if k in a else "the second"))
            else:
                out += diff(a[k], b[k], "%s/%s" % (where, k))
    elif isinstance(a, list) and isinstance(b, list):
        names: Sequence[Any] = [x.get("path", x.get("name")) if isinstance(x, dict) else None for x in a]
        if len(a) != len(b):
            out.append("%s: %d entries against %d" % (where, len(a), len(b)))
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, "%s[%s]" % (where, names[i] if names[i] is not None else i))
    elif a != b:
        out.append("%s: %r against %r" % (where, a, b))
    return out
