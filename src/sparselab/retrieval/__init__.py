"""sparselab.retrieval: encode a collection (cached), search it, evaluate the run.

`search(collection, "dense")`, `evaluate(run, qrels)`, `encode_collection(collection, key)`
and `retrieve(encoded, split, k)` are imported lazily, so that the CLI modules in this
package load fast.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "search": "search", "evaluate": "search", "retrieve": "search", "topk": "search",
    "to_run": "search", "RETRIEVERS": "search",
    "encode_collection": "encoded", "EncodedCollection": "encoded", "make_encoder": "encoded",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
