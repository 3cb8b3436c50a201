"""Test inputs written or read the plain way (no csv quoting: GLUE rows are tab-separated)."""
import os


def tsv_column(path, col, n=None):
    """Column col of a GLUE TSV (header skipped), the first n rows when n is given."""
    with open(path, encoding="utf-8") as f:
        rows = [ln.rstrip("\n").split("\t") for ln in f.read().split("\n")[1:] if ln.strip()]
    vals = [r[col] for r in rows]
    return vals[:n] if n else vals


def text_file(path, lines):
    """Writes lines (str or bytes) one per line; returns path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        for ln in lines:
            f.write((ln.encode("utf-8") if isinstance(ln, str) else ln) + b"\n")
    return path
