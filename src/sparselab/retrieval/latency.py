"""Online latency of retrieval pipelines, one query at a time, single thread.

Measured per query and pipeline, end to end: encode the query (dense; and the sparse partner
when the pipeline uses one), search the stored indexes (flat inner product; numba inverted
index), then the pipeline's own work (PRF: feedback lookup, vector update, second dense search;
fusion). Offline work is excluded: document encoding, index building, the BM25 fit, model
loading, numba compilation (one warm-up query per pipeline is run first and dropped).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .pipelines import FirstRound, Spec, run_pipeline, topk_frame


class _Online:
    """Query encoders and indexes of one collection, built once (offline)."""

    def __init__(self, collection, partners, k: int, k0: int, normalize: bool):
        from ..indexes.dense import FlatIndex
        from ..indexes.inverted import InvertedIndex
        from .encoded import encode_collection

        dense = encode_collection(collection, "dense", progress=False)
        self.dense_enc, self.flat = dense.encoder, FlatIndex.build(dense.doc_vectors)
        self.doc_vectors = np.asarray(dense.doc_vectors)
        self.doc_ids = collection.docs["doc_id"].astype(str).tolist()
        self.sparse = {}
        for p in partners:
            opts = {"progress": False}
            enc = encode_collection(collection, p, use_cache=p != "bm25", **opts)
            self.sparse[p] = (enc.encoder, InvertedIndex.from_csr(enc.doc_vectors))
        self.k, self.k0, self.normalize = k, k0, normalize

    def run(self, qid: str, text: str, spec: Spec) -> dict:
        """Run `spec` for one query; returns seconds spent in encode / search / pipeline."""
        dense = spec.pipeline != "sparse"
        t0 = time.perf_counter()
        qv = self.dense_enc.encode_queries([text]) if dense else np.zeros((1, 1), np.float32)
        sv = self.sparse[spec.sparse][0].encode_queries([text]) if spec.sparse else None
        t1 = time.perf_counter()
        first = FirstRound([qid], qv, self.doc_ids, self.doc_vectors, dense=None, k=self.k,
                           k0=self.k0, normalize=self.normalize)
        if dense:
            first.dense = topk_frame(first, *self.flat.search(qv, self.k))
        if spec.sparse:
            first.sparse = {spec.sparse: topk_frame(first, *self.sparse[spec.sparse][1].search(
                sv, self.k, threads=1))}
        t2 = time.perf_counter()
        run_pipeline(first, spec)
        t3 = time.perf_counter()
        return {"encode": t1 - t0, "search": t2 - t1, "prf+fusion": t3 - t2, "total": t3 - t0}


def pipeline_latency(collection, specs: dict, n_queries: int, split: str = "test",
                     k: int = 1000, k0: int = 1000, normalize: bool = True) -> pd.DataFrame:
    """Per-query latency (ms) of each named pipeline spec on the first `n_queries` queries.

    collection: a Collection (or name); specs: system name -> Spec. Single-threaded torch and
    numba. Returns one row per (system, query): system, query_id, encode_ms, search_ms,
    prf+fusion_ms, total_ms.
    """
    import torch

    if isinstance(collection, str):
        from ..data import load_collection

        collection = load_collection(collection)
    torch.set_num_threads(1)
    with _one_blas_thread():
        return _measure(collection, specs, n_queries, split, k, k0, normalize)


def _one_blas_thread():
    """Limit BLAS (numpy matmul) to one thread when threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _measure(collection, specs, n_queries, split, k, k0, normalize) -> pd.DataFrame:
    partners = sorted({s.sparse for s in specs.values() if s.sparse})
    online = _Online(collection, partners, k, k0, normalize)
    queries = collection.split_queries(split).head(n_queries)
    if len(queries) == 0:
        raise ValueError(f"no judged queries in split {split!r}")
    first_q = queries.iloc[0]
    for spec in specs.values():  # warm-up: numba compilation, torch first-call overheads
        online.run(str(first_q["query_id"]), str(first_q["text"]), spec)
    rows = []
    for q in queries.itertuples():
        for name, spec in specs.items():  # interleaved: every pipeline sees the same conditions
            t = online.run(str(q.query_id), str(q.text), spec)
            rows.append({"system": name, "query_id": str(q.query_id),
                         **{f"{key}_ms": 1000 * v for key, v in t.items()}})
    return pd.DataFrame(rows)
