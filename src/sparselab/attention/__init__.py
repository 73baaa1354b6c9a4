"""Training-free sparse attention methods behind one interface (see `base`).

Importing the package registers every method: `PREFILL.get("vertical_slash")(compression=4)`,
`DECODE.get("quest")(compression=8)`.
"""
from . import (  # noqa: F401
           block_sparse,
           dense,
           flexprefill,
           oracle_topk,
           quest,
           sliding_window,
           snapkv,
           vertical_slash,
)
from .base import DECODE, PREFILL, AttentionOutput, DecodeMethod, PrefillMethod, repeat_kv
from .kvcache import KVState
from .layout import SparseLayout

__all__ = ["DECODE", "PREFILL", "AttentionOutput", "DecodeMethod", "KVState", "PrefillMethod",
           "SparseLayout", "repeat_kv"]
