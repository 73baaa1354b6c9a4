"""Fusion of two ranked runs: Pyserini-style score interpolation and reciprocal-rank fusion.

Interpolation follows Pyserini's `HybridSearcher` (the convention of Li et al., SIGIR 2022):
over the union of the two top-k0 lists of a query, a document missing from one list takes
that list's minimum score for the query; optionally each list is min-max centred,
`(s - (min + max) / 2) / (max - min)`; the fused score is `alpha * s_sparse + s_dense`
(the weight is on the sparse side, Pyserini's default `weight_on_dense=False`), so
`alpha = 0` ranks by the dense score alone.

Ties in the fused score are broken by the dense rank, then the sparse rank (missing = last),
then doc id, which makes `alpha = 0` reproduce the dense run exactly. Runs are tidy DataFrames
(query_id, doc_id, score[, rank]) as everywhere in `sparselab.eval`; fused runs come back with
categorical query_id / doc_id (no string copies; `astype(str)` gives plain strings). The per-query
union, fill, centring and sort run in one numba pass (`_fuse_kernel`); `fuse_reference` is the
obvious loop it is tested against.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numba import njit


def _is_cat(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.CategoricalDtype)


def shared_categories(*cols: pd.Series) -> pd.Index:
    """Id categories shared by `cols`: their common categories when all are categorical with
    the same ones (the fast path of first-round runs), else the sorted distinct strings."""
    if all(_is_cat(c) for c in cols) and all(
            c.cat.categories.equals(cols[0].cat.categories) for c in cols[1:]):
        return cols[0].cat.categories
    return pd.Index(np.unique(np.concatenate([c.astype(str).to_numpy(str) for c in cols])))


def as_codes(col: pd.Series, cats: pd.Index) -> np.ndarray:
    """Integer positions of `col`'s ids in `cats` (int64; -1 where an id is absent)."""
    if _is_cat(col) and col.cat.categories.equals(cats):
        return col.cat.codes.to_numpy(np.int64)
    return cats.get_indexer(col.astype(str).to_numpy(str)).astype(np.int64)


def lexsort_stable(keys) -> np.ndarray:
    """`np.lexsort(keys)` (last key primary) by successive stable argsorts, much faster on
    float keys of runs; equal in result."""
    order = np.arange(len(keys[0]))
    for key in keys:
        order = order[np.argsort(np.asarray(key)[order], kind="stable")]
    return order


def group_positions(q: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal `q` values (q sorted)."""
    idx = np.arange(len(q))
    start = np.ones(len(q), dtype=bool)
    start[1:] = q[1:] != q[:-1]
    return idx - np.maximum.accumulate(np.where(start, idx, 0))


def ranked_arrays(run: pd.DataFrame, qcats: pd.Index, dcats: pd.Index, k0: int):
    """A run as numeric arrays cut at depth k0: (q, d, score, rank), sorted by (q, rank).

    q, d: int64 codes in qcats / dcats; score float64; rank int64 (1-based, recomputed from
    the `rank` column when present, else from descending score with ties in input order).
    """
    if k0 < 1:
        raise ValueError(f"k0 must be >= 1, got {k0}")
    missing = {"query_id", "doc_id", "score"} - set(run.columns)
    if missing:
        raise ValueError(f"run lacks columns {sorted(missing)}; has {list(run.columns)}")
    q, d = as_codes(run["query_id"], qcats), as_codes(run["doc_id"], dcats)
    s = run["score"].to_numpy(np.float64)
    second = run["rank"].to_numpy(np.int64) if "rank" in run.columns else -s
    same = q[1:] == q[:-1]
    if not np.all((q[1:] > q[:-1]) | (same & (second[1:] >= second[:-1]))):
        order = lexsort_stable((second, q))  # runs from this package are already in order
        q, d, s = q[order], d[order], s[order]
    i = _first_duplicate(q, d, max(len(dcats), 1))
    if i >= 0:
        raise ValueError(f"run lists doc {dcats[d[i]]!r} twice for query {qcats[q[i]]!r}")
    r = group_positions(q) + 1
    keep = r <= k0
    return q[keep], d[keep], s[keep], r[keep]


@njit(cache=True)
def _first_duplicate(q, d, nd):
    """Index of the first row repeating an earlier (q, d) pair of its query, else -1.

    q: (n,) int64 sorted query codes; d: (n,) int64 doc codes in [0, nd).
    """
    seen = np.full(nd, -1, np.int64)  # doc -> last query code it was seen with
    for i in range(len(q)):
        if seen[d[i]] == q[i]:
            return i
        seen[d[i]] = q[i]
    return -1


def to_frame(q, d, s, r, qcats: pd.Index, dcats: pd.Index) -> pd.DataFrame:
    """Numeric arrays -> run DataFrame with categorical query_id / doc_id (cheap)."""
    return pd.DataFrame({
        "query_id": pd.Categorical.from_codes(q, categories=qcats),
        "doc_id": pd.Categorical.from_codes(d, categories=dcats),
        "score": np.asarray(s, np.float64), "rank": np.asarray(r, np.int64)})


def top_k0(run: pd.DataFrame, k0: int) -> pd.DataFrame:
    """The first `k0` documents of each query (by `rank` if present, else by score), ranked.

    Args:
        run: DataFrame query_id, doc_id, score[, rank].
        k0: list depth kept per query (>= 1).
    Returns: run query_id, doc_id (categorical), score (float64), rank (int64, 1-based),
        sorted by query then rank.
    """
    qcats, dcats = shared_categories(run["query_id"]), shared_categories(run["doc_id"])
    return to_frame(*ranked_arrays(run, qcats, dcats, k0), qcats, dcats)


def union_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values of int64 `keys` and, per input, its position among them."""
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    new = np.ones(len(sk), dtype=bool)
    new[1:] = sk[1:] != sk[:-1]
    inv = np.empty(len(keys), dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    return sk[new], inv


def fuse(sparse: pd.DataFrame, dense: pd.DataFrame, alpha: float, k0: int = 1000,
         k: int = 1000, normalize: bool = False) -> pd.DataFrame:
    """Interpolate two runs: `alpha * s_sparse + s_dense` over the union of their top-k0.

    Args:
        sparse, dense: runs (query_id, doc_id, score[, rank]); a query in only one run is
            fused against an empty list whose fill score is 0. Categorical ids sharing the
            same categories (as `FirstRound` runs have) skip the string work.
        alpha: weight of the sparse score (>= 0); 0 reproduces the dense ranking.
        k0: depth taken from each list before the union (Pyserini uses 1000).
        k: depth of the fused run.
        normalize: centre each list per query with its min and max before mixing.
    Returns: run query_id, doc_id (categorical), score (float64), rank (int64), sorted by
        query then rank.
    """
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    qcats = shared_categories(sparse["query_id"], dense["query_id"])
    dcats = shared_categories(sparse["doc_id"], dense["doc_id"])
    nq = len(qcats)
    (qa, da, sa, _), (qb, db, sb, _) = (ranked_arrays(r, qcats, dcats, k0) for r in (sparse, dense))
    bounds = np.arange(nq + 1)
    ptr_a, ptr_b = np.searchsorted(qa, bounds), np.searchsorted(qb, bounds)
    doc_order = dcats.argsort().argsort().astype(np.int64)  # doc id string order, last tie-break
    n_out, d, score = _fuse_kernel(ptr_a, da, sa, ptr_b, db, sb, doc_order, float(alpha),
                                   bool(normalize), int(k))
    q = np.repeat(np.arange(nq), n_out)
    return to_frame(q, d, score, group_positions(q) + 1, qcats, dcats)


@njit(cache=True)
def _list_fill(s, normalize):
    """(fill score, centre, span) of one query's list scores s (empty list: fill 0)."""
    if len(s) == 0:
        return 0.0, 0.0, 0.0
    lo, hi = s.min(), s.max()
    return lo, (lo + hi) / 2, hi - lo


@njit(cache=True)
def _fuse_kernel(ptr_a, da, sa, ptr_b, db, sb, doc_order, alpha, normalize, k):
    """Per query: union of two ranked lists, fills, optional centring, sort, cut at k.

    ptr_a, ptr_b: (nq + 1,) int64 row offsets of each query in the two lists, whose rows
    (da/sa, db/sb: int64 doc codes, float64 scores) are in rank order. doc_order: (nd,)
    int64 rank of each doc code in doc id string order. Returns n_out (nq,) int64 and the
    concatenated top-k doc codes (int64) and fused scores (float64), best first.
    """
    nq, nd = len(ptr_a) - 1, len(doc_order)
    slot = np.full(nd, -1, np.int64)  # doc code -> position in the current union
    cap = 0
    for qi in range(nq):
        cap = max(cap, ptr_a[qi + 1] - ptr_a[qi] + ptr_b[qi + 1] - ptr_b[qi])
    ud = np.empty(cap, np.int64)
    usa, usb = np.empty(cap), np.empty(cap)
    ura, urb = np.empty(cap, np.int64), np.empty(cap, np.int64)
    n_out = np.zeros(nq, np.int64)
    out_d = np.empty(nq * min(k, cap), np.int64)
    out_s = np.empty(nq * min(k, cap))
    big = cap + 1  # rank of a document missing from a list
    at = 0
    for qi in range(nq):
        n = 0
        for i in range(ptr_a[qi], ptr_a[qi + 1]):
            slot[da[i]] = n
            ud[n], usa[n], ura[n], usb[n], urb[n] = da[i], sa[i], i - ptr_a[qi] + 1, np.nan, big
            n += 1
        for i in range(ptr_b[qi], ptr_b[qi + 1]):
            j = slot[db[i]]
            if j < 0:
                j = n
                ud[n], usa[n], ura[n] = db[i], np.nan, big
                n += 1
            usb[j], urb[j] = sb[i], i - ptr_b[qi] + 1
        fa, ca, wa = _list_fill(sa[ptr_a[qi]:ptr_a[qi + 1]], normalize)
        fb, cb, wb = _list_fill(sb[ptr_b[qi]:ptr_b[qi + 1]], normalize)
        score = np.empty(n)
        tie = np.empty(n, np.int64)
        for j in range(n):
            slot[ud[j]] = -1
            xa = fa if np.isnan(usa[j]) else usa[j]
            xb = fb if np.isnan(usb[j]) else usb[j]
            if normalize:
                xa = (xa - ca) / wa if wa > 0 else 0.0
                xb = (xb - cb) / wb if wb > 0 else 0.0
            score[j] = alpha * xa + xb
            # ties: dense rank, then sparse rank (missing last), then doc id
            tie[j] = (urb[j] * (big + 1) + ura[j]) * nd + doc_order[ud[j]]
        by_tie = np.argsort(tie)  # distinct values
        order = by_tie[np.argsort(-score[by_tie], kind="mergesort")]  # stable
        m = min(k, n)
        for j in range(m):
            out_d[at + j], out_s[at + j] = ud[order[j]], score[order[j]]
        n_out[qi] = m
        at += m
    return n_out, out_d[:at], out_s[:at]


def fuse_reference(sparse: pd.DataFrame, dense: pd.DataFrame, alpha: float, k0: int = 1000,
                   k: int = 1000, normalize: bool = False) -> pd.DataFrame:
    """Obvious slow reference of `fuse`: a Python loop over each query's union (Pyserini's)."""
    a, b = top_k0(sparse, k0), top_k0(dense, k0)
    rows = []
    for qid in sorted(set(a["query_id"]) | set(b["query_id"])):
        lists = []
        for run in (a, b):
            sub = run[run["query_id"] == qid]
            lists.append((dict(zip(sub["doc_id"], sub["score"])),
                          dict(zip(sub["doc_id"], sub["rank"]))))
        (sp_s, sp_r), (de_s, de_r) = lists
        bounds = [(min(d.values()), max(d.values())) if d else (0.0, 0.0) for d in (sp_s, de_s)]
        cands = []
        for doc in set(sp_s) | set(de_s):
            parts = []
            for scores, (lo, hi) in zip((sp_s, de_s), bounds):
                s = scores.get(doc, lo)
                if normalize:
                    s = (s - (lo + hi) / 2) / (hi - lo) if hi > lo else 0.0
                parts.append(s)
            score = alpha * parts[0] + parts[1]
            cands.append((-score, de_r.get(doc, np.inf), sp_r.get(doc, np.inf), doc, score))
        for rank, c in enumerate(sorted(cands)[:k], 1):
            rows.append((qid, c[3], c[4], rank))
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "score", "rank"]).astype(
        {"score": "float64", "rank": "int64"})


def rrf(runs: Sequence[pd.DataFrame], k0: int = 1000, k: int = 1000, c: float = 60.0
        ) -> pd.DataFrame:
    """Reciprocal-rank fusion (Cormack et al., 2009): `sum over runs of 1 / (c + rank)`.

    Args:
        runs: one or more runs; each contributes its top-k0 documents.
        k0, k: depth taken from each run, depth of the fused run.
        c: rank offset (60 in the original paper).
    Returns: run query_id, doc_id (categorical), score, rank; ties broken by doc id.
    """
    if len(runs) < 1:
        raise ValueError("rrf needs at least one run")
    if c < 0:
        raise ValueError(f"c must be >= 0, got {c}")
    qcats = shared_categories(*[r["query_id"] for r in runs])
    dcats = shared_categories(*[r["doc_id"] for r in runs])
    nd = max(len(dcats), 1)
    lists = [ranked_arrays(run, qcats, dcats, k0) for run in runs]
    keys, inv = union_keys(np.concatenate([a[0] * nd + a[1] for a in lists]))
    score = np.bincount(inv, weights=np.concatenate([1.0 / (c + a[3]) for a in lists]),
                        minlength=len(keys))
    q, d = keys // nd, keys % nd
    order = lexsort_stable((dcats.argsort().argsort()[d], -score, q))
    q, d, score = q[order], d[order], score[order]
    r = group_positions(q) + 1
    keep = r <= k
    return to_frame(q[keep], d[keep], score[keep], r[keep], qcats, dcats)
