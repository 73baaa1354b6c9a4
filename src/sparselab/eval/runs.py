"""Runs as tidy DataFrames (query_id, doc_id, score, rank) and TREC run files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..cache import atomic_write_text

RUN_COLUMNS = ["query_id", "doc_id", "score", "rank"]


def make_run(query_ids, doc_ids, scores) -> pd.DataFrame:
    """A run from parallel sequences, ranked by score within each query.

    Args:
        query_ids, doc_ids: length-N sequences (converted to str).
        scores: length-N floats. Ties keep their input order (stable sort).
    Returns: DataFrame query_id, doc_id, score (float64), rank (int64, 1-based), sorted by
        query_id then rank.
    """
    run = pd.DataFrame(
        {"query_id": pd.Series(query_ids, dtype=str).to_numpy(),
         "doc_id": pd.Series(doc_ids, dtype=str).to_numpy(),
         "score": np.asarray(scores, dtype=np.float64)}
    )
    return rank_run(run)


def run_from_topk(query_ids, doc_ids, topk_idx: np.ndarray, topk_scores: np.ndarray):
    """A run from a top-k result matrix.

    Args:
        query_ids: length-Q query ids.
        doc_ids: length-N doc ids (the collection's internal order).
        topk_idx: (Q, k) int doc indices; negative entries (padding) are dropped.
        topk_scores: (Q, k) float scores.
    """
    topk_idx = np.asarray(topk_idx)
    topk_scores = np.asarray(topk_scores, dtype=np.float64)
    if topk_idx.shape != topk_scores.shape or topk_idx.ndim != 2:
        raise ValueError(f"topk_idx {topk_idx.shape} and topk_scores {topk_scores.shape} "
                         "must both be (Q, k)")
    if topk_idx.shape[0] != len(query_ids):
        raise ValueError(f"{len(query_ids)} query_ids for {topk_idx.shape[0]} result rows")
    keep = topk_idx >= 0
    q = np.repeat(np.asarray(query_ids, dtype=object), topk_idx.shape[1]).reshape(topk_idx.shape)
    docs = np.asarray(doc_ids, dtype=object)
    return make_run(q[keep], docs[topk_idx[keep]], topk_scores[keep])


def rank_run(run: pd.DataFrame) -> pd.DataFrame:
    """Recompute `rank` (1-based, by descending score, stable) and sort; ids become str."""
    missing = {"query_id", "doc_id", "score"} - set(run.columns)
    if missing:
        raise ValueError(f"run lacks columns {sorted(missing)}; has {list(run.columns)}")
    run = run[["query_id", "doc_id", "score"]].astype(
        {"query_id": str, "doc_id": str, "score": "float64"}
    )
    run = run.sort_values(["query_id", "score"], ascending=[True, False], kind="stable")
    run["rank"] = run.groupby("query_id", sort=False).cumcount().astype("int64") + 1
    return run.reset_index(drop=True)


def read_trec_run(path: str | Path) -> pd.DataFrame:
    """Read a TREC run file `qid Q0 docid rank score tag` into a tidy run.

    The file's rank column is kept; malformed lines raise ValueError naming file and line.
    """
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise ValueError(f"{path}:{i}: expected 6 columns 'qid Q0 docid rank score tag'")
            try:
                rows.append((parts[0], parts[2], float(parts[4]), int(parts[3])))
            except ValueError:
                raise ValueError(f"{path}:{i}: rank or score is not a number") from None
    run = pd.DataFrame(rows, columns=RUN_COLUMNS).astype(
        {"query_id": str, "doc_id": str, "score": "float64", "rank": "int64"}
    )
    return run.sort_values(["query_id", "rank"], kind="stable").reset_index(drop=True)


def write_trec_run(run: pd.DataFrame, path: str | Path, tag: str = "sparselab") -> Path:
    """Write a run as a TREC run file, atomically (ranks recomputed if missing).

    Args:
        run: DataFrame query_id, doc_id, score[, rank].
        path: output file.
        tag: run tag (last column; no whitespace).
    """
    if not tag or any(c.isspace() for c in tag):
        raise ValueError(f"tag {tag!r} must be non-empty and contain no whitespace")
    if "rank" not in run.columns:
        run = rank_run(run)
    run = run.sort_values(["query_id", "rank"], kind="stable")
    lines = [
        f"{q} Q0 {d} {int(r)} {s!r} {tag}\n"
        for q, d, s, r in zip(run["query_id"], run["doc_id"], run["score"].astype(float),
                              run["rank"])
    ]
    return atomic_write_text(path, "".join(lines))
