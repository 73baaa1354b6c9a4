"""Vector pseudo-relevance feedback on dense embeddings (Li et al., TOIS 2023; Pyserini).

The new query vector mixes the query embedding with the STORED embeddings of the top-k
documents of any first-round run (a dense run, or a fused list for the `pre` placement);
nothing is re-encoded. Registry `PRF_METHODS`:

- `average` (depth k): `q' = (q + p_1 + ... + p_k) / (k + 1)`;
- `rocchio` (depth k, alpha, beta): `q' = alpha * q + beta * mean(p_1 .. p_k)`.

A query whose run holds fewer than k documents uses the ones it has (none: `average` keeps
q, `rocchio` gives `alpha * q`, which ranks like q).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..registry import Registry

PRF_METHODS: Registry = Registry("prf method")


def feedback_ids(run: pd.DataFrame, query_ids, doc_ids, depth: int) -> np.ndarray:
    """Row indices of each query's top-`depth` documents in `run`, padded with -1.

    Args:
        run: DataFrame query_id, doc_id, score[, rank] (the first round, any source).
        query_ids: length-Q query ids (output row order).
        doc_ids: length-N doc ids in the order of the stored document vectors.
        depth: feedback documents per query (>= 0).
    Returns: (Q, depth) int64; -1 where a query has fewer documents (or is absent).
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    out = np.full((len(query_ids), depth), -1, dtype=np.int64)
    if depth == 0 or len(run) == 0:
        return out
    from .fusion import as_codes, ranked_arrays

    qcats = pd.Index(pd.Series(list(query_ids), dtype=str))
    dcats = pd.Index(pd.Series(list(doc_ids), dtype=str))
    run = run[as_codes(run["query_id"], qcats) >= 0]  # queries not asked for are ignored
    unknown = as_codes(run["doc_id"], dcats) < 0
    if unknown.any():
        bad = run["doc_id"].to_numpy()[unknown][0]
        raise ValueError(f"run holds doc id {bad!r} that has no stored vector")
    q, d, _, r = ranked_arrays(run, qcats, dcats, depth)
    out[q, r - 1] = d
    return out


def gather_feedback(doc_vectors: np.ndarray, fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the feedback embeddings of each query.

    Args:
        doc_vectors: (N, D) float32 stored document embeddings.
        fb: (Q, k) int64 row indices, -1 = none.
    Returns: sums (Q, D) float64 and counts (Q,) int64.
    """
    valid = fb >= 0  # (Q, k)
    vecs = np.asarray(doc_vectors)[np.where(valid, fb, 0)]  # (Q, k, D)
    sums = (vecs * valid[..., None]).sum(axis=1, dtype=np.float64)  # (Q, D)
    return sums, valid.sum(axis=1).astype(np.int64)


class VectorPRF(ABC):
    """A feedback rule: query embeddings + feedback doc embeddings -> new query embeddings."""

    key: str = ""
    depth: int = 0

    @abstractmethod
    def combine(self, queries: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """New queries (Q, D) float32 from queries (Q, D), feedback sums (Q, D), counts (Q,)."""

    def expand(self, queries: np.ndarray, doc_vectors: np.ndarray, fb: np.ndarray) -> np.ndarray:
        """New query embeddings from the feedback rows `fb` (Q, k>=depth; first `depth` used).

        queries: (Q, D) float32; doc_vectors: (N, D) float32; fb: (Q, k) int64, -1 = none.
        """
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or fb.ndim != 2 or fb.shape[0] != queries.shape[0]:
            raise ValueError(f"queries {queries.shape} and feedback {fb.shape} must be "
                             "(Q, D) and (Q, k)")
        sums, counts = gather_feedback(doc_vectors, fb[:, :self.depth])
        return self.combine(queries, sums, counts).astype(np.float32)

    def name(self) -> str:
        """Readable label with the settings, for tables (`rocchio(k=5,a=0.4,b=0.6)`)."""
        return f"{self.key}(k={self.depth})"


@PRF_METHODS.register("average")
@dataclass(frozen=True)
class AveragePRF(VectorPRF):
    """Average PRF: `(q + sum of the k feedback embeddings) / (1 + k)`."""

    depth: int = 3
    key = "average"

    def __post_init__(self):
        if self.depth < 0:
            raise ValueError(f"average PRF depth must be >= 0, got {self.depth}")

    def combine(self, queries, sums, counts):
        return (queries + sums) / (1.0 + counts)[:, None]


@PRF_METHODS.register("rocchio")
@dataclass(frozen=True)
class RocchioPRF(VectorPRF):
    """Rocchio PRF (positive feedback only): `alpha * q + beta * mean of the k feedback`."""

    depth: int = 5
    alpha: float = 0.4
    beta: float = 0.6
    key = "rocchio"

    def __post_init__(self):
        if self.depth < 0:
            raise ValueError(f"rocchio PRF depth must be >= 0, got {self.depth}")
        if not (np.isfinite(self.alpha) and np.isfinite(self.beta)):
            raise ValueError(f"rocchio alpha/beta must be finite, got {self.alpha}, {self.beta}")

    def combine(self, queries, sums, counts):
        mean = sums / np.maximum(counts, 1)[:, None]
        return self.alpha * queries + self.beta * mean

    def name(self) -> str:
        return f"rocchio(k={self.depth},a={self.alpha:g},b={self.beta:g})"


def make_prf(key: str, **params) -> VectorPRF:
    """The PRF method registered under `key` (`average`, `rocchio`) with its parameters."""
    return PRF_METHODS.get(key)(**params)


def expand_reference(prf: VectorPRF, queries: np.ndarray, doc_vectors: np.ndarray,
                     fb: np.ndarray) -> np.ndarray:
    """Obvious slow reference of `VectorPRF.expand`: one query at a time, formulas verbatim."""
    out = []
    for q, row in zip(np.asarray(queries, np.float64), fb):
        p = [np.asarray(doc_vectors[i], np.float64) for i in row[:prf.depth] if i >= 0]
        if prf.key == "average":
            out.append((q + sum(p, np.zeros_like(q))) / (1 + len(p)))
        else:
            mean = np.mean(p, axis=0) if p else np.zeros_like(q)
            out.append(prf.alpha * q + prf.beta * mean)
    return np.asarray(out, dtype=np.float32).reshape(np.shape(queries))
