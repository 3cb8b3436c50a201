"""safetensors read/write with numpy only (no safetensors/transformers package).

File layout: u64 little-endian header length N, N bytes of JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {...}}, then the
raw little-endian tensor bytes; offsets are relative to the first byte after the header.
The header is padded with spaces to a multiple of 8 bytes, as the safetensors library does.
"""
import json
import os
import struct

import numpy as np

DTYPES = ("F32", "F16", "BF16")
_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2}


def encode(x, dtype):
    """float32/float64 array -> the little-endian storage array of dtype."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == "F32":
        return x.astype("<f4", copy=False)
    if dtype == "F16":
        return x.astype("<f2")
    if dtype == "BF16":
        # Round to nearest even on the top 16 bits (what torch does); inputs here are finite.
        u = x.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return u.astype("<u2")
    raise ValueError("unknown dtype %r" % dtype)


def decode(buf, dtype, shape, out=np.float64):
    """Raw bytes of one tensor -> array of out (float64, or float32: both hold every stored
    F32/F16/BF16 value exactly)."""
    if dtype == "F32":
        a = np.frombuffer(buf, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(buf, dtype="<f2")
    elif dtype == "BF16":
        a = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError("unsupported safetensors dtype %r" % dtype)
    return a.astype(out).reshape(shape)


def write(path, tensors, dtype, metadata=None):
    """tensors: list of (name, shape, make) where make() returns a float32 array of that shape.

    Tensors are produced and written one at a time, so a bert-base-sized file never sits in
    memory twice. Returns the number of data bytes written."""
    header = {}
    off = 0
    for name, shape, _ in tensors:
        n = int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]
        header[name] = {"dtype": dtype, "shape": [int(s) for s in shape],
                        "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for name, shape, make in tensors:
            a = np.asarray(make())
            if tuple(a.shape) != tuple(shape):
                raise ValueError("%s: made shape %s, declared %s" % (name, a.shape, shape))
            f.write(encode(a, dtype).tobytes())
    return off


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def read(path, out=np.float64):
    """All tensors of one file as arrays of out, plus the storage dtype of each."""
    header, base = read_header(path)
    tensors, dtypes = {}, {}
    with open(path, "rb") as f:
        data = f.read()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        tensors[name] = decode(data[base + b:base + e], info["dtype"], info["shape"], out)
        dtypes[name] = info["dtype"]
    return tensors, dtypes


def read_dir(model_dir, out=np.float64):
    """model.safetensors, or the shards named by model.safetensors.index.json."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors, dtypes = {}, {}
        for shard in sorted(set(weight_map.values())):
            t, d = read(os.path.join(model_dir, shard), out)
            tensors.update(t)
            dtypes.update(d)
        missing = set(weight_map) - set(tensors)
        if missing:
            raise ValueError("%s: tensors named in the index but absent: %s"
                             % (index, sorted(missing)[:3]))
        return tensors, dtypes
    return read(os.path.join(model_dir, "model.safetensors"), out)
