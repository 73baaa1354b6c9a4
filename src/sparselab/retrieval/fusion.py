"""Fusion of two ranked runs: Pyserini-style score interpolation and reciprocal-rank fusion.

Interpolation follows Pyserini's `HybridSearcher` (the convention of Li et al., SIGIR 2022):
over the union of the two top-k0 lists of a query, a document missing from one list takes
that list's minimum score for the query; optionally each list is min-max centred,
`(s - (min + max) / 2) / (max - min)`; the fused score is `alpha * s_sparse + s_dense`
(the weight is on the sparse side, Pyserini's default `weight_on_dense=False`), so
`alpha = 0` ranks by the dense score alone.

Ties in the fused score are broken by the dense rank, then the sparse rank (missing = last),
then doc id, which makes `alpha = 0` reproduce the dense run exactly. Runs are tidy DataFrames
(query_id, doc_id, score[, rank]) as everywhere in `sparselab.eval`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

_KEYS = ["query_id", "doc_id"]


def top_k0(run: pd.DataFrame, k0: int) -> pd.DataFrame:
    """The first `k0` documents of each query (by `rank` if present, else by score), ranked.

    Args:
        run: DataFrame query_id, doc_id, score[, rank].
        k0: list depth kept per query (>= 1).
    Returns: DataFrame query_id (str), doc_id (str), score (float64), rank (int64, 1-based).
    """
    if k0 < 1:
        raise ValueError(f"k0 must be >= 1, got {k0}")
    missing = {"query_id", "doc_id", "score"} - set(run.columns)
    if missing:
        raise ValueError(f"run lacks columns {sorted(missing)}; has {list(run.columns)}")
    out = run[[c for c in ("query_id", "doc_id", "score", "rank") if c in run.columns]].astype(
        {"query_id": str, "doc_id": str, "score": "float64"})
    if "rank" in out.columns:
        out = out.sort_values(["query_id", "rank"], kind="stable")
    else:
        out = out.sort_values(["query_id", "score"], ascending=[True, False], kind="stable")
    out["rank"] = out.groupby("query_id", sort=False).cumcount().astype("int64") + 1
    if out.duplicated(_KEYS).any():
        q, d = out.loc[out.duplicated(_KEYS), _KEYS].iloc[0]
        raise ValueError(f"run lists doc {d!r} twice for query {q!r}")
    return out[out["rank"] <= k0].reset_index(drop=True)


def _centre(s: pd.Series, lo: pd.Series, hi: pd.Series) -> pd.Series:
    """Min-max centring `(s - (lo + hi) / 2) / (hi - lo)`; a constant list maps to 0."""
    span = hi - lo
    out = (s - (lo + hi) / 2) / span.where(span > 0, 1.0)
    return out.where(span > 0, 0.0)


def _finish(frame: pd.DataFrame, sort_cols: list[str], ascending: list[bool], k: int):
    """Sort candidates per query, cut at k, add 1-based rank; returns the tidy run."""
    frame = frame.sort_values(["query_id", *sort_cols], ascending=[True, *ascending],
                              kind="stable")
    frame["rank"] = frame.groupby("query_id", sort=False).cumcount().astype("int64") + 1
    frame = frame[frame["rank"] <= k]
    return frame[["query_id", "doc_id", "score", "rank"]].reset_index(drop=True)


def fuse(sparse: pd.DataFrame, dense: pd.DataFrame, alpha: float, k0: int = 1000,
         k: int = 1000, normalize: bool = False) -> pd.DataFrame:
    """Interpolate two runs: `alpha * s_sparse + s_dense` over the union of their top-k0.

    Args:
        sparse, dense: runs (query_id, doc_id, score[, rank]); a query in only one run is
            fused against an empty list whose fill score is 0.
        alpha: weight of the sparse score (>= 0); 0 reproduces the dense ranking.
        k0: depth taken from each list before the union (Pyserini uses 1000).
        k: depth of the fused run.
        normalize: centre each list per query with its min and max before mixing.
    Returns: run query_id, doc_id, score (float64), rank (int64), sorted by query then rank.
    """
    if not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    a = top_k0(sparse, k0).rename(columns={"score": "s_sparse", "rank": "r_sparse"})
    b = top_k0(dense, k0).rename(columns={"score": "s_dense", "rank": "r_dense"})
    m = a.merge(b, on=_KEYS, how="outer")
    for side, run in (("sparse", a), ("dense", b)):
        stats = run.groupby("query_id")[f"s_{side}"].agg(["min", "max"])
        lo = m["query_id"].map(stats["min"]).fillna(0.0)
        hi = m["query_id"].map(stats["max"]).fillna(0.0)
        s = m[f"s_{side}"].fillna(lo)  # missing from this list: the list's minimum
        m[f"s_{side}"] = _centre(s, lo, hi) if normalize else s
        m[f"r_{side}"] = m[f"r_{side}"].fillna(np.inf)
    m["score"] = alpha * m["s_sparse"] + m["s_dense"]
    return _finish(m, ["score", "r_dense", "r_sparse", "doc_id"], [False, True, True, True], k)


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
        runs: two or more runs; each contributes its top-k0 documents.
        k0, k: depth taken from each run, depth of the fused run.
        c: rank offset (60 in the original paper).
    Returns: run query_id, doc_id, score, rank; ties broken by doc id.
    """
    if len(runs) < 1:
        raise ValueError("rrf needs at least one run")
    if c < 0:
        raise ValueError(f"c must be >= 0, got {c}")
    parts = []
    for run in runs:
        top = top_k0(run, k0)
        parts.append(top.assign(score=1.0 / (c + top["rank"].to_numpy(np.float64))))
    allrows = pd.concat(parts, ignore_index=True)
    fused = allrows.groupby(_KEYS, sort=False, as_index=False)["score"].sum()
    return _finish(fused, ["score", "doc_id"], [False, True], k)
