"""sparselab.retrieval: encode a collection (cached), search it, evaluate the run.

Entry points: `sparselab.retrieval.search.search(collection, "dense")` and, from this package
(imported lazily so the CLI modules here load fast), `evaluate(run, qrels)`,
`encode_collection(collection, key)` and `retrieve(encoded, split, k)`. (`search` is not
re-exported here: the name belongs to the `search` module.)
"""
from __future__ import annotations

import importlib

_LAZY = {
    "evaluate": "search", "retrieve": "search", "topk": "search", "to_run": "search",
    "RETRIEVERS": "search",
    "encode_collection": "encoded", "EncodedCollection": "encoded", "make_encoder": "encoded",
}

__all__ = [
    "RETRIEVERS", "EncodedCollection", "encode_collection", "evaluate", "make_encoder",
    "retrieve", "to_run", "topk",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
