"""End-to-end retrieval: collection + retriever key -> ranked run, and its evaluation.

A run is a DataFrame with columns query_id (str), doc_id (str), score (float32), rank
(int, 1 = best), sorted by query then rank. Ties are broken by document index.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.collection import Collection
from .encoded import EncodedCollection, encode_collection

RETRIEVERS = ("bm25", "dense", "splade")
# encoders fitted on the corpus (statistics kept in the encoder) are not cached on disk
_UNCACHED = {"bm25"}


def check_retriever(retriever: str) -> str:
    """Validate a retriever key; unknown keys raise KeyError listing the known ones."""
    if retriever not in RETRIEVERS:
        raise KeyError(f"unknown retriever {retriever!r}; known: {', '.join(RETRIEVERS)}")
    return retriever


def topk(doc_vectors, query_vectors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with the index that fits the vectors.

    doc_vectors: (N, D) float32 array (flat index) or (N, V) CSR (inverted index);
    query_vectors: same kind, (Q, ...). Returns scores (Q, k') float32, doc ids (Q, k') int64;
    rows may end in padding (id -1) when fewer than k documents match a sparse query.
    """
    if sp.issparse(doc_vectors):
        from ..indexes.inverted import InvertedIndex

        return InvertedIndex.build(sp.csr_matrix(doc_vectors)).search(sp.csr_matrix(query_vectors), k)
    from ..indexes.dense import FlatIndex

    return FlatIndex.build(doc_vectors).search(np.asarray(query_vectors), k)


def to_run(query_ids: list[str], doc_ids: list[str], scores: np.ndarray, ids: np.ndarray,
           remove_query: bool = False) -> pd.DataFrame:
    """Top-k arrays -> run DataFrame.

    query_ids: Q ids (rows of scores/ids); doc_ids: N ids (values of ids index them);
    scores, ids: (Q, k). Ids < 0 (no match) are dropped. remove_query: drop a hit whose doc id
    equals its query id (BEIR's `--remove-query`), then re-rank.
    """
    q_rep = np.repeat(np.arange(len(query_ids)), ids.shape[1])
    flat_ids, flat_scores = ids.reshape(-1), scores.reshape(-1)
    keep = flat_ids >= 0
    doc_arr = np.asarray(doc_ids, dtype=object)
    run = pd.DataFrame({
        "query_id": np.asarray(query_ids, dtype=object)[q_rep[keep]],
        "doc_id": doc_arr[flat_ids[keep]],
        "score": flat_scores[keep].astype(np.float32),
    })
    if remove_query:
        run = run[run["query_id"] != run["doc_id"]]
    run = run.reset_index(drop=True)
    run["rank"] = run.groupby("query_id", sort=False).cumcount() + 1
    return run


def retrieve(encoded: EncodedCollection, split: str = "test", k: int = 1000,
             remove_query: bool = False) -> pd.DataFrame:
    """Rank the collection's documents for the judged queries of `split`."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    queries = encoded.queries(split)
    extra = 1 if remove_query else 0  # the dropped self-hit must not shorten the list
    scores, ids = topk(encoded.doc_vectors, queries, k + extra)
    run = to_run(encoded.query_ids(split), encoded.collection.docs["doc_id"].astype(str).tolist(),
                 scores, ids, remove_query=remove_query)
    return run[run["rank"] <= k].reset_index(drop=True)


def search(collection: Collection | str, retriever: str, split: str = "test", k: int = 1000,
           remove_query: bool = False, **opts) -> pd.DataFrame:
    """Run `retriever` (bm25 | dense | splade) on a collection's `split` queries.

    collection: a Collection or a name/path for `sparselab.data.load_collection`.
    opts: encoder options (e.g. `batch_size`, `model`). Returns the run DataFrame.
    """
    check_retriever(retriever)
    if isinstance(collection, str):
        from ..data import load_collection

        collection = load_collection(collection)
    collection.split_queries(split)  # unknown split -> clear KeyError before any encoding
    encoded = encode_collection(collection, retriever, use_cache=retriever not in _UNCACHED, **opts)
    return retrieve(encoded, split=split, k=k, remove_query=remove_query)


def evaluate(run: pd.DataFrame, qrels: pd.DataFrame, **kwargs) -> dict:
    """Metrics of a run against qrels (see `sparselab.eval.evaluate`)."""
    from ..eval import evaluate as _evaluate

    return _evaluate(run, qrels, **kwargs)
