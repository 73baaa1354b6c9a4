"""Retrieval pipelines around dense vector PRF and dense/sparse interpolation (registry keys).

Li et al. (SIGIR 2022) place the interpolation of a sparse and a dense list around a dense PRF
round. Every pipeline here is built from a `FirstRound` (cached first-round runs and stored
embeddings), so a whole hyper-parameter grid costs only vector maths, flat searches and fusions.

| key         | output                                                              |
|-------------|---------------------------------------------------------------------|
| `dense`     | the first-round dense run D                                         |
| `sparse`    | the first-round sparse run S (partner `bm25` or `splade`)           |
| `dense+prf` | dense second round from q' = PRF(q, top of D)                       |
| `interp`    | fuse(S, D, alpha_out), no PRF                                       |
| `rrf`       | reciprocal-rank fusion of S and D (reference point, no weights)     |
| `pre`       | dense second round from q' = PRF(q, top of fuse(S, D, alpha_fb))    |
| `post`      | fuse(S, dense+prf, alpha_out)                                       |
| `both`      | fuse(S, pre's second round with alpha_fb, alpha_out)                |

`alpha_fb` weighs the fusion that chooses feedback documents, `alpha_out` the fusion that
produces the output list (`fusion.fuse`: `alpha * s_sparse + s_dense`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..registry import Registry
from .fusion import fuse, group_positions, rrf, to_frame
from .prf import VectorPRF, feedback_ids

PIPELINES: Registry = Registry("pipeline")

# which parameters each pipeline needs (checked by `Spec.validate`)
NEEDS = {
    "dense": (), "sparse": ("sparse",), "dense+prf": ("prf",),
    "interp": ("sparse", "alpha_out"), "rrf": ("sparse",), "pre": ("sparse", "prf", "alpha_fb"),
    "post": ("sparse", "prf", "alpha_out"), "both": ("sparse", "prf", "alpha_fb", "alpha_out"),
}


@dataclass
class FirstRound:
    """What every pipeline starts from, for one collection split.

    query_ids: Q judged query ids; query_vectors: (Q, D) float32 dense query embeddings in that
    order; doc_ids: N doc ids; doc_vectors: (N, D) float32 stored dense doc embeddings;
    dense: first-round dense run; sparse: partner key -> first-round sparse run;
    k: depth of every produced run; k0: depth taken from each list before fusing.
    drop_self_hits: the collection's self-hit policy (`search.drops_self_hits`); the first
    rounds already lack them, evaluators of second rounds must ignore them too.
    """

    query_ids: list
    query_vectors: np.ndarray
    doc_ids: list
    doc_vectors: np.ndarray
    dense: pd.DataFrame
    sparse: dict = field(default_factory=dict)
    k: int = 1000
    k0: int = 1000
    normalize: bool = False
    drop_self_hits: bool = False

    def query_categories(self) -> pd.Index:
        return pd.Index(pd.Series(list(self.query_ids), dtype=str))

    def doc_categories(self) -> pd.Index:
        return pd.Index(pd.Series(list(self.doc_ids), dtype=str))

    def categorical(self, run: pd.DataFrame) -> pd.DataFrame:
        """`run` with query_id / doc_id as categoricals over this round's ids (fast fusion)."""
        qc, dc = self.query_categories(), self.doc_categories()
        out = run.copy()
        out["query_id"] = pd.Categorical(run["query_id"].astype(str), categories=qc)
        out["doc_id"] = pd.Categorical(run["doc_id"].astype(str), categories=dc)
        if out["query_id"].isna().any() or out["doc_id"].isna().any():
            raise ValueError("run holds query or doc ids unknown to this first round")
        return out

    def sparse_run(self, key: str) -> pd.DataFrame:
        if key not in self.sparse:
            raise KeyError(f"no first-round sparse run {key!r}; have {sorted(self.sparse)}")
        return self.sparse[key]

    def subset(self, query_ids) -> FirstRound:
        """The same first round restricted to some queries (order of `query_ids`)."""
        pos = pd.Index(self.query_ids).get_indexer(list(query_ids))
        if (pos < 0).any():
            raise KeyError(f"query {list(query_ids)[int(np.argmin(pos))]!r} not in this round")
        keep = set(query_ids)

        def cut(run):
            return run[run["query_id"].isin(keep)].reset_index(drop=True)

        out = replace(self, query_ids=list(query_ids), query_vectors=self.query_vectors[pos])
        out.dense = out.categorical(cut(self.dense))
        out.sparse = {k: out.categorical(cut(v)) for k, v in self.sparse.items()}
        return out


@dataclass(frozen=True)
class Spec:
    """One pipeline and its hyper-parameters (None where the pipeline does not use one)."""

    pipeline: str
    sparse: str | None = None
    prf: VectorPRF | None = None
    alpha_fb: float | None = None
    alpha_out: float | None = None

    def validate(self) -> Spec:
        if self.pipeline not in NEEDS:
            raise KeyError(f"unknown pipeline {self.pipeline!r}; known: {', '.join(NEEDS)}")
        missing = [p for p in NEEDS[self.pipeline] if getattr(self, p) is None]
        if missing:
            raise ValueError(f"pipeline {self.pipeline!r} needs parameter(s) {', '.join(missing)}")
        return self

    def label(self) -> str:
        """Readable row label (`both/bm25/rocchio(k=5,a=0.4,b=0.6)/fb=0.1/out=0.2`)."""
        parts = [self.pipeline]
        used = NEEDS.get(self.pipeline, ())
        if "sparse" in used:
            parts.append(self.sparse)
        if "prf" in used:
            parts.append(self.prf.name())
        if "alpha_fb" in used:
            parts.append(f"fb={self.alpha_fb:g}")
        if "alpha_out" in used:
            parts.append(f"out={self.alpha_out:g}")
        return "/".join(parts)


def dense_search(first: FirstRound, queries: np.ndarray) -> pd.DataFrame:
    """Exact inner-product search of `queries` (Q, D) over the stored doc embeddings."""
    from ..indexes.dense import FlatIndex

    scores, ids = FlatIndex.build(first.doc_vectors).search(queries, first.k)  # (Q, k) each
    return topk_frame(first, scores, ids)


def topk_frame(first: FirstRound, scores: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """(Q, k) top-k scores and doc rows (-1 = none) -> run with categorical ids of `first`."""
    q = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    d, s = ids.reshape(-1), scores.reshape(-1).astype(np.float64)
    keep = d >= 0
    q, d, s = q[keep], d[keep], s[keep]
    return to_frame(q, d, s, group_positions(q) + 1, first.query_categories(),
                    first.doc_categories())


def prf_round(first: FirstRound, feedback_run: pd.DataFrame, prf: VectorPRF) -> pd.DataFrame:
    """Dense second round: PRF from the top of `feedback_run`, then a flat search."""
    fb = feedback_ids(feedback_run, first.query_ids, first.doc_ids, prf.depth)
    return dense_search(first, prf.expand(first.query_vectors, first.doc_vectors, fb))


def interpolate(first: FirstRound, sparse: str, dense_run: pd.DataFrame, alpha: float
                ) -> pd.DataFrame:
    """fuse(first-round sparse run `sparse`, `dense_run`, alpha) at the round's depths."""
    return fuse(first.sparse_run(sparse), dense_run, alpha, k0=first.k0, k=first.k,
                normalize=first.normalize)


@PIPELINES.register("dense")
def _dense(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return first.dense


@PIPELINES.register("sparse")
def _sparse(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return first.sparse_run(spec.sparse)


@PIPELINES.register("dense+prf")
def _dense_prf(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return prf_round(first, first.dense, spec.prf)


@PIPELINES.register("interp")
def _interp(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return interpolate(first, spec.sparse, first.dense, spec.alpha_out)


@PIPELINES.register("rrf")
def _rrf(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return rrf([first.sparse_run(spec.sparse), first.dense], k0=first.k0, k=first.k)


@PIPELINES.register("pre")
def _pre(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return prf_round(first, interpolate(first, spec.sparse, first.dense, spec.alpha_fb), spec.prf)


@PIPELINES.register("post")
def _post(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return interpolate(first, spec.sparse, prf_round(first, first.dense, spec.prf),
                       spec.alpha_out)


@PIPELINES.register("both")
def _both(first: FirstRound, spec: Spec) -> pd.DataFrame:
    return interpolate(first, spec.sparse, _pre(first, spec), spec.alpha_out)


def run_pipeline(first: FirstRound, spec: Spec) -> pd.DataFrame:
    """The run of pipeline `spec.pipeline` with its hyper-parameters, from `first`."""
    return PIPELINES.get(spec.validate().pipeline)(first, spec)
