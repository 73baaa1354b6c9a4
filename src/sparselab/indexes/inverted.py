"""Inverted index for any sparse document representation (BM25 impacts, SPLADE weights).

Postings are stored CSR-like by term: `indptr[t]:indptr[t+1]` slices `doc_ids` (int32, sorted)
and `weights` (float32). Search is term-at-a-time: each query term adds `q_w * w` into a dense
float32 accumulator (one per thread, reused across queries). A query with many postings (all
weights positive) then selects with a block-max pass over the accumulator (`topk.topk_dense`);
a query with few postings remembers the documents it touched, so resetting and selection cost
O(candidates) instead of O(n_docs). A bounded min-heap keeps the exact top-k.

Result contract (shared with `brute_force_topk`): candidates are the documents sharing at least
one term with the query; they are ranked by score descending, ties by internal doc index
ascending; rows with fewer than k candidates are padded with doc index -1 and score -inf.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from .topk import BLOCK, topk_dense, topk_touched

# a query whose postings number at least n_docs / _DENSE_RATIO scans all documents for top-k
_DENSE_RATIO = 8
_STRATEGIES = ("auto", "dense", "sparse")


@njit(cache=True)
def _search_range(
    indptr, doc_ids, weights, n_docs, q_indptr, q_terms, q_weights, q_lo, q_hi, k, dense_ratio,
    out_s, out_d,
):
    """Score queries q_lo..q_hi-1 term-at-a-time; buffers are allocated once per range.

    A query with at least n_docs / dense_ratio postings accumulates without bookkeeping and
    selects with `topk_dense`; a sparser query remembers the documents it touched and selects
    among those only (dense_ratio = 0 forces that path; it is the only one for weights <= 0).
    """
    acc = np.zeros(n_docs, dtype=np.float32)
    seen = np.zeros(n_docs, dtype=np.bool_)
    touched = np.empty(n_docs, dtype=np.int32)
    bmax = np.empty(n_docs // BLOCK + 1, dtype=np.int32)
    hs = np.empty(k, dtype=np.float32)
    hd = np.empty(k, dtype=np.int32)
    hs2 = np.empty(k, dtype=np.float32)
    hd2 = np.empty(k, dtype=np.int32)
    for q in range(q_lo, q_hi):
        n_post = 0
        for jj in range(q_indptr[q], q_indptr[q + 1]):
            n_post += indptr[q_terms[jj] + 1] - indptr[q_terms[jj]]
        dense = n_post * dense_ratio >= n_docs
        n_touched = 0
        for jj in range(q_indptr[q], q_indptr[q + 1]):
            t = q_terms[jj]
            qw = q_weights[jj]
            # slices keep the inner loops at 0..len (measurably faster than indptr bounds)
            dd = doc_ids[indptr[t] : indptr[t + 1]]
            ww = weights[indptr[t] : indptr[t + 1]]
            if dense:
                for p in range(dd.shape[0]):
                    acc[dd[p]] += qw * ww[p]
            else:
                for p in range(dd.shape[0]):
                    d = dd[p]
                    acc[d] += qw * ww[p]
                    if not seen[d]:
                        seen[d] = True
                        touched[n_touched] = d
                        n_touched += 1
        if dense:
            size = topk_dense(acc, bmax, k, hs, hd, hs2, hd2)
        else:
            size = topk_touched(acc, seen, touched, n_touched, k, hs, hd)
        out_s[q, :size] = hs[:size]
        out_d[q, :size] = hd[:size]
    return 0


@njit(cache=True)
def _search_serial(
    indptr, doc_ids, weights, n_docs, q_indptr, q_terms, q_weights, k, dense_ratio, out_s, out_d
):
    return _search_range(
        indptr, doc_ids, weights, n_docs, q_indptr, q_terms, q_weights, 0, len(q_indptr) - 1, k, dense_ratio, out_s, out_d
    )


@njit(cache=True, parallel=True)
def _search_parallel(
    indptr, doc_ids, weights, n_docs, q_indptr, q_terms, q_weights, k, dense_ratio, out_s, out_d, n_chunks
):
    # one contiguous chunk of queries per thread, so each thread allocates its buffers once
    n_q = len(q_indptr) - 1
    for c in prange(n_chunks):
        lo = c * n_q // n_chunks
        hi = (c + 1) * n_q // n_chunks
        _search_range(indptr, doc_ids, weights, n_docs, q_indptr, q_terms, q_weights, lo, hi, k, dense_ratio, out_s, out_d)
    return 0


def _as_csr(x, name: str, n_cols: int | None = None) -> sp.csr_matrix:
    if not sp.issparse(x):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(x).__name__}")
    x = sp.csr_matrix(x)
    if n_cols is not None and x.shape[1] != n_cols:
        raise ValueError(f"{name} has {x.shape[1]} columns but the index vocabulary has {n_cols} terms")
    return x


@dataclass(frozen=True)
class InvertedIndex:
    """Term -> (doc ids, weights) postings over `n_docs` documents and `n_terms` terms.

    indptr: int64 (n_terms + 1,); doc_ids: int32 (nnz,), ascending within a term;
    weights: float32 (nnz,).
    """

    indptr: np.ndarray
    doc_ids: np.ndarray
    weights: np.ndarray
    n_docs: int
    positive: bool = field(init=False)

    def __post_init__(self):
        # all weights > 0 lets search use its dense path (a matched document scores > 0)
        object.__setattr__(self, "positive", bool(len(self.weights) == 0 or self.weights.min() > 0))

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        return self.indptr.nbytes + self.doc_ids.nbytes + self.weights.nbytes

    @classmethod
    def from_csr(cls, docs) -> InvertedIndex:
        """Build from a document-term matrix (n_docs, n_terms); explicit zeros are dropped."""
        docs = _as_csr(docs, "docs").astype(np.float32)
        docs.eliminate_zeros()
        csc = docs.tocsc()  # column t = postings of term t, rows sorted
        csc.sort_indices()
        return cls(
            indptr=csc.indptr.astype(np.int64),
            doc_ids=csc.indices.astype(np.int32),
            weights=csc.data.astype(np.float32),
            n_docs=int(docs.shape[0]),
        )

    def search(
        self, queries, k: int, threads: int = 1, strategy: str = "auto"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k for a batch of sparse queries.

        queries: sparse (n_queries, n_terms) query weights (BM25: term counts).
        k: hits per query (> 0); threads: worker threads (numba prange over query chunks).
        strategy: "auto" (dense accumulation for queries with many postings), "dense" or
            "sparse" (force one path; "dense" needs positive weights, else "sparse" is used).
        Returns (scores float32 (n_queries, k), doc indices int32 (n_queries, k)), best first,
        ties by lower doc index, padded with (-inf, -1) where fewer than k documents match.
        """
        if int(k) <= 0:
            raise ValueError(f"k must be positive, got {k}")
        if int(threads) <= 0:
            raise ValueError(f"threads must be positive, got {threads}")
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
        q = _as_csr(queries, "queries", self.n_terms)
        q.sort_indices()
        k = int(k)
        n_q = q.shape[0]
        out_s = np.full((n_q, k), -np.inf, dtype=np.float32)
        out_d = np.full((n_q, k), -1, dtype=np.int32)
        if n_q == 0 or self.n_docs == 0:
            return out_s, out_d
        k_eff = min(k, self.n_docs)
        positive = bool(self.positive and (q.nnz == 0 or q.data.min() > 0))
        dense_ratio = {"auto": _DENSE_RATIO, "dense": self.n_docs + 1, "sparse": 0}[strategy]
        dense_ratio = np.int64(dense_ratio if positive else 0)
        args = (
            self.indptr, self.doc_ids, self.weights, np.int64(self.n_docs),
            q.indptr.astype(np.int64), q.indices.astype(np.int32), q.data.astype(np.float32),
            np.int64(k_eff), dense_ratio, out_s, out_d,
        )
        n_chunks = min(int(threads), n_q)
        if n_chunks == 1:
            _search_serial(*args)
        else:
            prev = numba.get_num_threads()
            numba.set_num_threads(min(n_chunks, numba.config.NUMBA_NUM_THREADS))
            try:
                _search_parallel(*args, np.int64(n_chunks))
            finally:
                numba.set_num_threads(prev)
        return out_s, out_d

    def search_one(self, term_ids: np.ndarray, term_weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k for one query given as term ids (int) and weights (float); see `search`."""
        term_ids = np.asarray(term_ids, dtype=np.int64)
        term_weights = np.asarray(term_weights, dtype=np.float32)
        if term_ids.shape != term_weights.shape or term_ids.ndim != 1:
            raise ValueError("term_ids and term_weights must be 1-d arrays of the same length")
        q = sp.csr_matrix(
            (term_weights, (np.zeros_like(term_ids), term_ids)), shape=(1, self.n_terms), dtype=np.float32
        )
        s, d = self.search(q, k)
        return s[0], d[0]


def brute_force_topk(queries, docs, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Slow reference for `InvertedIndex.search`: scipy `Q @ D.T`, then a stable numpy sort.

    queries: sparse (n_queries, n_terms); docs: sparse (n_docs, n_terms).
    Candidates are documents with a structural overlap with the query (explicit entries of the
    product); returns (scores float32 (n_queries, k), doc indices int32 (n_queries, k)).
    """
    q = _as_csr(queries, "queries").astype(np.float32)
    d = _as_csr(docs, "docs", q.shape[1]).astype(np.float32)
    d.eliminate_zeros()
    q.eliminate_zeros()
    # structural candidates: pattern product, independent of cancellations in the scores
    pattern = (abs(q).sign() @ abs(d).sign().T).tocsr()
    prod = (q @ d.T).tocsr()
    out_s = np.full((q.shape[0], k), -np.inf, dtype=np.float32)
    out_d = np.full((q.shape[0], k), -1, dtype=np.int32)
    for i in range(q.shape[0]):
        cand = pattern.indices[pattern.indptr[i] : pattern.indptr[i + 1]]
        cand = np.sort(cand)
        scores = np.asarray(prod[i, cand].todense()).ravel().astype(np.float32) if len(cand) else np.zeros(0, np.float32)
        order = np.argsort(-scores, kind="stable")[:k]  # stable: equal scores keep doc order
        out_s[i, : len(order)] = scores[order]
        out_d[i, : len(order)] = cand[order]
    return out_s, out_d
