"""Flat dense index: exact inner-product top-k, batched over queries.

Ties are broken by document index (lower first), the same rule as the inverted index, so runs
are deterministic and comparable across retrievers.
"""
from __future__ import annotations

import numpy as np


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each row, best first, ties by lower column index.

    scores: (Q, N) float32. Returns scores (Q, k') float32 and ids (Q, k') int64,
    k' = min(k, N).
    """
    n = scores.shape[1]
    k = min(int(k), n)
    if k <= 0:
        return (np.zeros((scores.shape[0], 0), np.float32), np.zeros((scores.shape[0], 0), np.int64))
    if k < n:
        # argpartition can split a tie at the k-th value arbitrarily: take every column whose
        # score reaches the k-th value, then order (score desc, index asc) and cut at k.
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1:k]  # (Q, 1)
        ids = np.empty((scores.shape[0], k), np.int64)
        for row in range(scores.shape[0]):
            cand = np.flatnonzero(scores[row] >= kth[row, 0])
            order = np.lexsort((cand, -scores[row, cand]))[:k]
            ids[row] = cand[order]
    else:
        ids = np.lexsort((np.broadcast_to(np.arange(n), scores.shape), -scores), axis=1)
    return np.take_along_axis(scores, ids, axis=1).astype(np.float32), ids.astype(np.int64)


def topk_rows_reference(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Obvious slow reference of `topk_rows`: sort every row with Python's stable sort."""
    out_s, out_i = [], []
    for row in scores:
        order = sorted(range(len(row)), key=lambda j: (-float(row[j]), j))[:k]
        out_i.append(order)
        out_s.append([row[j] for j in order])
    return np.asarray(out_s, np.float32), np.asarray(out_i, np.int64)


class FlatIndex:
    """Exact maximum-inner-product search over stored float32 vectors.

    vectors: (N, D) float32 document embeddings (kept, not copied when already float32).
    """

    def __init__(self, vectors: np.ndarray):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be 2-D (N, D), got shape {vectors.shape}")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @classmethod
    def build(cls, vectors: np.ndarray) -> FlatIndex:
        """Index `vectors` (N, D) float32."""
        return cls(vectors)

    @property
    def n_docs(self) -> int:
        return self.vectors.shape[0]

    def search(self, queries: np.ndarray, k: int, batch_size: int = 256
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k documents by inner product for each query.

        queries: (Q, D) float32 (or (D,) for one query). Returns scores (Q, k') float32 and
        doc ids (Q, k') int64, best first, k' = min(k, N).
        """
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.vectors.shape[1]:
            raise ValueError(f"queries must have shape (Q, {self.vectors.shape[1]}), got {q.shape}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        kk = min(int(k), self.n_docs)
        scores = np.empty((q.shape[0], kk), np.float32)
        ids = np.empty((q.shape[0], kk), np.int64)
        for start in range(0, q.shape[0], batch_size):
            block = q[start:start + batch_size] @ self.vectors.T  # (Qb, N)
            scores[start:start + batch_size], ids[start:start + batch_size] = topk_rows(block, kk)
        return scores, ids
