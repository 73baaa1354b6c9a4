"""Fast per-query metrics for evaluating many runs against one qrels (hyper-parameter grids).

`FastEvaluator(qrels, doc_ids).per_query(run)` equals `sparselab.eval.per_query(run, qrels)`
(ir-measures' pytrec_eval provider, checked by tests) for nDCG@k, AP@k, R@k and P@k: the run
is re-sorted by score, ties by doc id DESCENDING as trec_eval does; nDCG gains are the
relevance grades (negative grades count 0); AP, R, P count relevance >= 1; every query in
the qrels gets a row, 0 when the run lacks it. Qrels are indexed once into a dense
(queries x docs) grade matrix, then each run is a single numba pass. RR is left out on
purpose: ir-measures computes it with another provider that breaks ties the other way.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numba import njit

MEASURES = ("nDCG@10", "AP@1000", "R@100", "R@1000")
_KINDS = {"nDCG": 0, "AP": 1, "R": 2, "P": 3}
_MEASURE = re.compile(r"^(nDCG|AP|R|P)@(\d+)$")


def parse_measures(measures: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Measure names -> (kinds, cutoffs) int64 arrays; unsupported names raise ValueError."""
    kinds, cuts = [], []
    for m in measures:
        hit = _MEASURE.match(m)
        if not hit or int(hit.group(2)) < 1:
            raise ValueError(f"measure {m!r} is not supported by FastEvaluator "
                             f"(use one of {sorted(_KINDS)} with @k)")
        kinds.append(_KINDS[hit.group(1)])
        cuts.append(int(hit.group(2)))
    return np.asarray(kinds, np.int64), np.asarray(cuts, np.int64)


class FastEvaluator:
    """Per-query metrics of many runs against one qrels.

    qrels: DataFrame query_id, doc_id, relevance (int). doc_ids: the collection's doc ids
    (a run may only hold these). measures: names as in `sparselab.eval` (`nDCG@10`, ...).
    drop_self_hits: ignore a retrieved document whose id equals the query id, as BEIR's
    evaluator does (`retrieval.search.SELF_HITS` says when).
    """

    def __init__(self, qrels: pd.DataFrame, doc_ids, measures: Sequence[str] = MEASURES,
                 drop_self_hits: bool = False):
        self.measures = list(measures)
        self.drop_self_hits = bool(drop_self_hits)
        self.kinds, self.cuts = parse_measures(self.measures)
        qrels = qrels.astype({"query_id": str, "doc_id": str, "relevance": "int64"})
        self.query_ids = pd.Index(sorted(qrels["query_id"].unique()))
        self.doc_ids = pd.Index(pd.Series(list(doc_ids), dtype=str))
        self.doc_order = self.doc_ids.argsort().argsort().astype(np.int64)
        # per judged query: the index of the document sharing its id (-2: none; -1 is "absent")
        same = self.doc_ids.get_indexer(self.query_ids)
        self.self_doc = np.where(same >= 0, same, -2).astype(np.int64)
        qi = self.query_ids.get_indexer(qrels["query_id"])
        di = self.doc_ids.get_indexer(qrels["doc_id"])
        rel = qrels["relevance"].to_numpy(np.int64)
        self.grades = np.zeros((len(self.query_ids), max(len(self.doc_ids), 1)), np.int64)
        inside = di >= 0  # judged docs outside the collection still count in n_rel / ideal
        self.grades[qi[inside], di[inside]] = rel[inside]
        self.n_rel = np.bincount(qi, weights=(rel >= 1), minlength=len(self.query_ids))
        top = max(int(self.cuts.max()), 1)
        self.ideal = np.zeros((len(self.query_ids), top))  # sorted positive gains per query
        order = np.lexsort((-rel, qi))
        qs, gs = qi[order], np.maximum(rel[order], 0).astype(np.float64)
        pos = np.arange(len(qs)) - np.searchsorted(qs, qs)
        keep = pos < top
        self.ideal[qs[keep], pos[keep]] = gs[keep]

    def per_query(self, run: pd.DataFrame) -> pd.DataFrame:
        """Per-query values: query_id (sorted, every qrels query) + one column per measure."""
        q = _rows(run["query_id"], self.query_ids)
        d = _rows(run["doc_id"], self.doc_ids)
        if (d < 0).any():
            raise ValueError("run holds doc ids that are not in the collection")
        s = run["score"].to_numpy(np.float64)
        keep = q >= 0  # queries without judgements are not evaluated (trec_eval -c)
        if self.drop_self_hits:
            keep &= d != self.self_doc[np.maximum(q, 0)]
        q, d, s = q[keep], d[keep], s[keep]
        order = np.argsort(q, kind="stable")
        q, d, s = q[order], d[order], s[order]
        ptr = np.searchsorted(q, np.arange(len(self.query_ids) + 1))
        values = _metrics_kernel(ptr, d, s, self.doc_order, self.grades, self.n_rel, self.ideal,
                                 self.kinds, self.cuts)
        out = pd.DataFrame(values, columns=self.measures)
        out.insert(0, "query_id", self.query_ids.to_numpy())
        return out


def _rows(col: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each id of `col` in `index` (-1 if absent); categoricals map via codes."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories.astype(str)
        lookup = np.arange(len(cats)) if cats.equals(index) else index.get_indexer(cats)
        codes = col.cat.codes.to_numpy(np.int64)
        return np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1)
    return index.get_indexer(col.astype(str).to_numpy(str))


@njit(cache=True)
def _metrics_kernel(ptr, d, s, doc_order, grades, n_rel, ideal, kinds, cuts):
    """(nq, n_measures) float64 metric values; rows of query i are d/s[ptr[i]:ptr[i+1]]."""
    nq = len(ptr) - 1
    out = np.zeros((nq, len(kinds)))
    for qi in range(nq):
        a, b = ptr[qi], ptr[qi + 1]
        if b == a:
            continue
        seg_d = d[a:b]
        by_doc = np.argsort(-doc_order[seg_d])
        order = by_doc[np.argsort(-s[a:b][by_doc], kind="mergesort")]  # score desc, id desc
        for m in range(len(kinds)):
            kind, cut = kinds[m], cuts[m]
            n = min(cut, b - a)
            hits, acc = 0, 0.0
            for i in range(n):
                g = grades[qi, seg_d[order[i]]]
                if kind == 0:
                    if g > 0:
                        acc += g / np.log2(i + 2.0)
                elif g >= 1:
                    hits += 1
                    if kind == 1:
                        acc += hits / (i + 1.0)
            if kind == 0:
                idcg = 0.0
                for i in range(min(cut, ideal.shape[1])):
                    idcg += ideal[qi, i] / np.log2(i + 2.0)
                out[qi, m] = acc / idcg if idcg > 0 else 0.0
            elif kind == 1:
                out[qi, m] = acc / n_rel[qi] if n_rel[qi] > 0 else 0.0
            elif kind == 2:
                out[qi, m] = hits / n_rel[qi] if n_rel[qi] > 0 else 0.0
            else:
                out[qi, m] = hits / cut
    return out
