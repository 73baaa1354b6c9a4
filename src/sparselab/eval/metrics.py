"""Retrieval metrics through ir-measures, per query and aggregated over the judged queries.

Measure names are ir-measures' (`nDCG@10`, `AP@1000`, `R@100`, `R@1000`, `RR@10`); graded
qrels give graded nDCG gains, while AP, R and RR count relevance >= 1 as relevant.
Ties in score are broken as trec_eval does (the `rank` column is not consulted).
Every query in the qrels is evaluated: a query absent from the run scores 0 on every measure,
queries in the run but not in the qrels are ignored (trec_eval -c semantics).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd


class PartialJudgementWarning(UserWarning):
    """A run and qrels that only partly overlap (counts in the message)."""

DEFAULT_MEASURES = ("nDCG@10", "AP@1000", "R@100", "R@1000", "RR@10")


def _parse(measures: Sequence[str]):
    import ir_measures

    if isinstance(measures, str):
        measures = (measures,)
    parsed = {}
    for m in measures:
        try:
            parsed[m] = ir_measures.parse_measure(m)
        except Exception as exc:  # noqa: BLE001 - ir-measures raises assorted types
            raise ValueError(f"unknown measure {m!r} ({exc})") from None
    return parsed


def _check_frames(run: pd.DataFrame, qrels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    for what, df, cols in (("run", run, ("query_id", "doc_id", "score")),
                           ("qrels", qrels, ("query_id", "doc_id", "relevance"))):
        missing = set(cols) - set(df.columns)
        if missing:
            raise ValueError(f"{what} lacks columns {sorted(missing)}; has {list(df.columns)}")
    run = run[["query_id", "doc_id", "score"]].astype(
        {"query_id": str, "doc_id": str, "score": "float64"})
    qrels = qrels[["query_id", "doc_id", "relevance"]].astype(
        {"query_id": str, "doc_id": str, "relevance": "int64"})
    return run, qrels


def per_query(
    run: pd.DataFrame, qrels: pd.DataFrame, measures: Sequence[str] = DEFAULT_MEASURES
) -> pd.DataFrame:
    """Per-query values: one row per query in `qrels`, one float column per measure.

    Args:
        run: DataFrame query_id, doc_id, score (rank ignored).
        qrels: DataFrame query_id, doc_id, relevance (graded int).
        measures: ir-measures names; the output columns use these exact strings.
    Returns: DataFrame query_id (str, sorted) + measures; missing queries are 0.
    """
    import ir_measures

    parsed = _parse(measures)
    run, qrels = _check_frames(run, qrels)
    dup = run.duplicated(["query_id", "doc_id"])
    if dup.any():
        q, d = run.loc[dup, ["query_id", "doc_id"]].iloc[0]
        raise ValueError(f"run lists doc {d!r} twice for query {q!r}")
    qids = sorted(qrels["query_id"].unique())
    names = {m: name for name, m in parsed.items()}
    values = {name: {} for name in parsed}
    if len(run):
        for res in ir_measures.iter_calc(list(parsed.values()), qrels, run):
            values[names[res.measure]][res.query_id] = float(res.value)
    out = pd.DataFrame(values, index=pd.Index(qids, name="query_id"), columns=list(parsed))
    out = out.reindex(qids).fillna(0.0).astype("float64")
    out.index.name = "query_id"
    return out.reset_index()


def evaluate(
    run: pd.DataFrame, qrels: pd.DataFrame, measures: Sequence[str] = DEFAULT_MEASURES
) -> dict[str, float]:
    """Mean of `per_query` over every query in `qrels`: measure name -> value.

    Nothing to average is an error, never a silent 0.0: empty qrels, or a run none of whose
    queries is judged, raise ValueError; a partial overlap warns with the counts.
    """
    pq = per_query(run, qrels, measures)  # malformed frames and measures fail first
    check_coverage(run, qrels)
    return {m: float(pq[m].mean()) if len(pq) else 0.0 for m in pq.columns if m != "query_id"}


def check_coverage(run: pd.DataFrame, qrels: pd.DataFrame) -> tuple[int, int]:
    """(judged queries in the run, judged queries): raise when none, warn when only some."""
    judged = set(qrels["query_id"].astype(str)) if "query_id" in qrels else set()
    ran = set(run["query_id"].astype(str)) if "query_id" in run else set()
    if not judged:
        raise ValueError("the qrels hold no judgement: there is nothing to evaluate against")
    both = ran & judged
    if not both:
        raise ValueError(f"the run has no judged query: none of its {len(ran)} queries is among "
                         f"the {len(judged)} judged ones (wrong split or query ids?)")
    if len(both) < len(judged):
        warnings.warn(f"the run covers {len(both)} of {len(judged)} judged queries; the other "
                      f"{len(judged) - len(both)} score 0", PartialJudgementWarning, stacklevel=3)
    if len(ran) > len(both):
        warnings.warn(f"{len(ran) - len(both)} of the run's {len(ran)} queries have no "
                      "judgement and are not evaluated", PartialJudgementWarning, stacklevel=3)
    return len(both), len(judged)
