"""End-to-end retrieval: collection + retriever key -> ranked run, and its evaluation.

A run is a DataFrame with columns query_id (str), doc_id (str), score (float64), rank
(int, 1 = best), sorted by query then rank. Ties are broken by document index.

Self-hits (a retrieved document whose id equals the query id) follow one policy for every
retriever and pipeline, `SELF_HITS`: on BEIR-format collections they are dropped, as BEIR's
evaluator ignores them (`ignore_identical_ids`) and Pyserini's BEIR regressions remove them
(`--remove-query`); the list is refilled to k. Classic SMART collections (Cranfield, CISI,
ADI) number queries and documents separately, so an equal id there is another item and is
kept. `keep_self_hits=True` keeps them everywhere. Results record which applied.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.collection import Collection
from .encoded import EncodedCollection, encode_collection

RETRIEVERS = ("bm25", "dense", "splade")
SELF_HITS = ("ignored on BEIR-format collections (BEIR evaluator convention; the list is "
             "refilled to k), kept on SMART collections (separate id numberings)")
# encoders fitted on the corpus (statistics kept in the encoder) are not cached on disk
_UNCACHED = {"bm25"}


def check_retriever(retriever: str) -> str:
    """Validate a retriever key; unknown keys raise KeyError listing the known ones."""
    if retriever not in RETRIEVERS:
        raise KeyError(f"unknown retriever {retriever!r}; known: {', '.join(RETRIEVERS)}")
    return retriever


def drops_self_hits(collection: Collection, keep_self_hits: bool = False) -> bool:
    """Whether searches over `collection` drop self-hits under the policy `SELF_HITS`."""
    return not keep_self_hits and collection.meta.get("format") == "beir"


def self_hit_record(collection: Collection, keep_self_hits: bool = False) -> str:
    """What the policy did on `collection`, for output JSON and provenance."""
    if drops_self_hits(collection, keep_self_hits):
        return "ignored (BEIR evaluator convention; --keep-self-hits keeps them)"
    if keep_self_hits:
        return "kept (--keep-self-hits)"
    return "kept (SMART collection: query and document ids are separate numberings)"


def topk(doc_vectors, query_vectors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with the index that fits the vectors.

    doc_vectors: (N, D) float32 array (flat index) or (N, V) CSR (inverted index);
    query_vectors: same kind, (Q, ...). Returns scores (Q, k') float32 and doc indices (Q, k');
    sparse rows end in padding (index -1, score -inf) when fewer than k documents match.
    """
    if sp.issparse(doc_vectors):
        from ..indexes.inverted import InvertedIndex

        return InvertedIndex.from_csr(doc_vectors).search(sp.csr_matrix(query_vectors), k)
    from ..indexes.dense import FlatIndex

    return FlatIndex.build(doc_vectors).search(np.asarray(query_vectors), k)


def to_run(query_ids: list[str], doc_ids: list[str], scores: np.ndarray, ids: np.ndarray,
           remove_query: bool = False) -> pd.DataFrame:
    """Top-k arrays -> run DataFrame (ids < 0, i.e. no match, are dropped).

    query_ids: Q ids (rows of scores/ids); doc_ids: N ids (values of ids index them);
    scores, ids: (Q, k). remove_query: drop a hit whose doc id equals its query id (BEIR's
    `--remove-query`), then re-rank.
    """
    from ..eval import rank_run, run_from_topk

    run = run_from_topk(query_ids, doc_ids, ids, scores)
    if remove_query:
        run = rank_run(run[run["query_id"] != run["doc_id"]])
    return run


def retrieve(encoded: EncodedCollection, split: str = "test", k: int = 1000,
             remove_query: bool | None = None, query_vectors=None) -> pd.DataFrame:
    """Rank the collection's documents for the judged queries of `split`.

    remove_query: drop self-hits (doc id == query id); None: the policy `drops_self_hits`
    (the same for every encoder).
    query_vectors: replacement query vectors, one row per `encoded.query_ids(split)` (e.g.
    PRF-updated embeddings); default: the encoder's own `encoded.queries(split)`.
    """
    if remove_query is None:
        remove_query = drops_self_hits(encoded.collection)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    queries = encoded.queries(split) if query_vectors is None else query_vectors
    if queries.shape[0] != len(encoded.query_ids(split)):
        raise ValueError(f"query_vectors has {queries.shape[0]} rows for "
                         f"{len(encoded.query_ids(split))} {split!r} queries")
    extra = 1 if remove_query else 0  # the dropped self-hit must not shorten the list
    scores, ids = topk(encoded.doc_vectors, queries, k + extra)
    run = to_run(encoded.query_ids(split), encoded.collection.docs["doc_id"].astype(str).tolist(),
                 scores, ids, remove_query=remove_query)
    return run[run["rank"] <= k].reset_index(drop=True)


def search(collection: Collection | str, retriever: str, split: str = "test", k: int = 1000,
           remove_query: bool | None = None, **opts) -> pd.DataFrame:
    """Run `retriever` (bm25 | dense | splade) on a collection's `split` queries.

    collection: a Collection or a name/path for `sparselab.data.load_collection`.
    opts: encoder options (e.g. `batch_size`, `model`). Returns the run DataFrame.
    """
    check_retriever(retriever)
    if isinstance(collection, str):
        from ..data import load_collection

        collection = load_collection(collection)
    check_judged(collection, split)  # unknown or unjudged split: a clear error before encoding
    encoded = encode_collection(collection, retriever, use_cache=retriever not in _UNCACHED, **opts)
    return retrieve(encoded, split=split, k=k, remove_query=remove_query)


def check_judged(collection: Collection, split: str) -> pd.DataFrame:
    """The judged queries of `split`; none (or no documents) raises ValueError naming why."""
    judged = collection.split_queries(split)  # unknown split -> KeyError listing the splits
    if len(collection.docs) == 0:
        raise ValueError(f"collection {collection.name!r} has no documents")
    if len(judged) == 0:
        raise ValueError(f"collection {collection.name!r}: no query of split {split!r} has a "
                         f"judgement ({len(collection.qrels[split])} qrels lines); nothing to "
                         "search or evaluate")
    unjudged = collection.meta.get("queries_judged_in_no_split", 0)
    if unjudged:
        import warnings

        from ..eval.metrics import PartialJudgementWarning

        warnings.warn(f"collection {collection.name!r}: {unjudged} of the "
                      f"{collection.meta.get('queries_in_file')} queries have no judgement in any "
                      f"split and are never evaluated; split {split!r} evaluates {len(judged)}",
                      PartialJudgementWarning, stacklevel=3)
    return judged


def evaluate(run: pd.DataFrame, qrels: pd.DataFrame, measures=None) -> dict[str, float]:
    """Mean metrics of a run over the queries of `qrels` (`sparselab.eval.evaluate`)."""
    from ..eval import DEFAULT_MEASURES
    from ..eval import evaluate as _evaluate

    return _evaluate(run, qrels, DEFAULT_MEASURES if measures is None else measures)
