"""First-round runs cached on disk and the `FirstRound` bundle the pipelines start from.

A run is cached under `cache_path("runs", f"{collection}-{retriever}-{split}", key)` with the
encoder settings, the checksums of what it reads (documents; the split's judged queries), the
depth and the self-hit policy in the key, written with `atomic_dir`.
Dense document and query embeddings come from `retrieval.encoded` (cached there).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..cache import atomic_dir, cache_path, is_complete
from ..data.collection import Collection
from .encoded import encode_collection, make_encoder
from .pipelines import FirstRound
from .search import check_retriever, drops_self_hits, retrieve

_UNCACHED_ENCODERS = {"bm25"}  # fitted on the corpus: its vectors are not cached, its run is


def _run_folder(collection: Collection, retriever: str, split: str, k: int):
    settings = make_encoder(retriever).settings()
    key = {"settings": settings, "docs": collection.docs_checksum,
           "queries": collection.queries_checksum(split), "k": k,
           "remove_query": drops_self_hits(collection)}
    return cache_path("runs", f"{collection.name}-{retriever}-{split}", key)


def cached_run(collection: Collection, retriever: str, split: str = "test", k: int = 1000
               ) -> pd.DataFrame:
    """`retrieve` for the judged queries of `split` (self-hits: the policy), cached on disk."""
    check_retriever(retriever)
    folder = _run_folder(collection, retriever, split, k)
    if is_complete(folder):
        z = np.load(folder / "run.npz", allow_pickle=False)
        return pd.DataFrame({"query_id": z["query_id"].astype(object),
                             "doc_id": z["doc_id"].astype(object), "score": z["score"],
                             "rank": z["rank"]})
    encoded = encode_collection(collection, retriever,
                                use_cache=retriever not in _UNCACHED_ENCODERS)
    run = retrieve(encoded, split=split, k=k)  # self-hits: `search.SELF_HITS`, every retriever
    with atomic_dir(folder) as tmp:
        np.savez(tmp / "run.npz", query_id=run["query_id"].to_numpy(str),
                 doc_id=run["doc_id"].to_numpy(str), score=run["score"].to_numpy(np.float32),
                 rank=run["rank"].to_numpy(np.int64))
    return run


def load_first_round(collection: Collection | str, split: str, partners=("bm25", "splade"),
                     k: int = 1000, k0: int = 1000, normalize: bool = False) -> FirstRound:
    """Dense embeddings and cached first-round runs (dense + each sparse partner) of `split`.

    collection: a Collection or a name/path for `sparselab.data.load_collection`.
    partners: sparse retriever keys (`bm25`, `splade`).
    """
    if isinstance(collection, str):
        from ..data import load_collection

        collection = load_collection(collection)
    dense = encode_collection(collection, "dense")
    runs = {p: cached_run(collection, p, split, k) for p in partners}
    first = FirstRound(
        query_ids=dense.query_ids(split), query_vectors=np.asarray(dense.queries(split)),
        doc_ids=collection.docs["doc_id"].astype(str).tolist(),
        doc_vectors=np.asarray(dense.doc_vectors), dense=cached_run(collection, "dense", split, k),
        sparse=runs, k=k, k0=k0, normalize=normalize, drop_self_hits=drops_self_hits(collection))
    # categorical ids shared by every run: fusion and feedback skip all string work
    first.dense = first.categorical(first.dense)
    first.sparse = {p: first.categorical(r) for p, r in runs.items()}
    return first
