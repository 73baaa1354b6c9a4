"""Readers and writers of the artifact formats, registered by kind.

* `checkpoint` — safetensors; a `(state_dict, meta)` pair. Floating tensors are stored in
  fp16 (default), bf16 or fp32; the JSON-serialisable `meta` rides in the safetensors header.
  Read back, floating tensors come out as fp32 (what the models train in).
* `table` — Parquet (pyarrow) of a pandas DataFrame; `table_csv` — the same as CSV.
* `json` — any JSON-serialisable object (sorted keys, so equal objects give equal bytes).
* `bytes` — an opaque file.

Every writer returns bytes, so one function serves the artifact file and the in-memory round
trip that `get_or_build` applies in every mode (results never depend on whether an artifact
was read or just built).
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DTYPES = ("fp16", "bf16", "fp32")
_META_KEY = "sparselab.meta"


@dataclass(frozen=True)
class Codec:
    """How one kind of artifact becomes bytes and back."""

    suffix: str
    encode: Callable[..., bytes]
    decode: Callable[[bytes], Any]


def encode_checkpoint(obj: tuple[dict, dict] | dict, dtype: str = "fp16") -> bytes:
    """safetensors bytes of a state_dict (or a `(state_dict, meta)` pair).

    Args:
        obj: `{name: tensor}`, or `(state_dict, meta)` with `meta` JSON-serialisable.
        dtype: storage type of floating tensors: fp16, bf16 or fp32. Integer/bool tensors
            are kept as they are.
    """
    import torch
    from safetensors.torch import save

    if dtype not in DTYPES:
        raise ValueError(f"checkpoint dtype {dtype!r}: use one of {DTYPES}")
    state, meta = obj if isinstance(obj, tuple) else (obj, {})
    target = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype]
    tensors = {}
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"checkpoint entry {k!r} is {type(v).__name__}, not a tensor")
        v = v.detach().cpu()
        # clone: safetensors refuses tensors that share storage (tied weights, views)
        tensors[k] = (v.to(target) if v.is_floating_point() else v).contiguous().clone()
    return save(tensors, metadata={_META_KEY: json.dumps(meta, sort_keys=True),
                                   "sparselab.dtype": dtype})


def decode_checkpoint(data: bytes) -> tuple[dict, dict]:
    """`(state_dict, meta)` from safetensors bytes; floating tensors as fp32."""
    from safetensors.torch import load

    state = {k: (v.float() if v.is_floating_point() else v) for k, v in load(data).items()}
    # the header metadata is only exposed by safe_open, which wants a file: read the header
    # (8-byte little-endian length, then JSON) directly
    n = int.from_bytes(data[:8], "little")
    raw = (json.loads(data[8:8 + n]).get("__metadata__") or {}).get(_META_KEY)
    return state, (json.loads(raw) if raw else {})


def encode_table(df, fmt: str = "parquet") -> bytes:
    """Parquet (or CSV) bytes of a DataFrame; the index is kept."""
    if fmt == "csv":
        return df.to_csv(index=True).encode()
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=True)
    return buf.getvalue()


def decode_table(data: bytes):
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def decode_csv(data: bytes):
    import pandas as pd

    return pd.read_csv(io.BytesIO(data), index_col=0)


def encode_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def decode_json(data: bytes) -> Any:
    return json.loads(data)


CODECS: dict[str, Codec] = {
    "checkpoint": Codec(".safetensors", encode_checkpoint, decode_checkpoint),
    "table": Codec(".parquet", encode_table, decode_table),
    "table_csv": Codec(".csv", lambda df: encode_table(df, "csv"), decode_csv),
    "json": Codec(".json", encode_json, decode_json),
    "bytes": Codec("", lambda b: bytes(b), lambda b: b),
}


def codec(kind: str) -> Codec:
    try:
        return CODECS[kind]
    except KeyError:
        raise ValueError(f"unknown artifact kind {kind!r}; known: {', '.join(CODECS)}") from None


def read(path: str | Path, kind: str) -> Any:
    """Decode the artifact file at `path` as `kind`."""
    return codec(kind).decode(Path(path).read_bytes())


def write_checkpoint(path: str | Path, state_dict: dict, meta: dict | None = None,
                     dtype: str = "fp16") -> Path:
    """Write a safetensors checkpoint atomically; returns the path."""
    from ..cache import atomic_write_bytes

    return atomic_write_bytes(path, encode_checkpoint((state_dict, meta or {}), dtype))


def read_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """`(state_dict, meta)` of a checkpoint written by `write_checkpoint`."""
    return decode_checkpoint(Path(path).read_bytes())
