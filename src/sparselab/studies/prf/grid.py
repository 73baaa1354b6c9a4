"""Study 03's hyper-parameter grid and its tuning protocol (never on the test queries).

Stage A chooses the PRF setting of each method (depth; Rocchio weights) by `dense+prf` on the
tuning queries; stage B chooses the interpolation weights of each placement (`interp`, `pre`,
`post`, `both`) with the PRF setting of stage A fixed. The tuning queries are a separate split
(SciFact train, NFCorpus dev) or, for single-split collections, the other folds of a
query-level k-fold cross-validation. The sweep shares intermediate runs (a fused list feeds
`interp`, `pre` and `both`; one PRF round feeds `pre` and every `both`), and is checked against
`run_pipeline` by tests.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ...retrieval.pipelines import FirstRound, Spec, interpolate, prf_round, run_pipeline
from ...retrieval.prf import VectorPRF, make_prf


def prf_settings(methods, depths, rocchio_weights) -> list[VectorPRF]:
    """Every PRF setting of the grid: average x depths, rocchio x depths x (alpha, beta)."""
    out: list[VectorPRF] = []
    for m in methods:
        if m == "average":
            out += [make_prf("average", depth=k) for k in depths]
        elif m == "rocchio":
            out += [make_prf("rocchio", depth=k, alpha=float(a), beta=float(b))
                    for k, (a, b) in itertools.product(depths, rocchio_weights)]
        else:
            raise KeyError(f"unknown prf method {m!r}; known: average, rocchio")
    return out


class Sweep:
    """Evaluated grid points of one first round: label -> Spec and per-query values."""

    def __init__(self, first: FirstRound, evaluator):
        self.first, self.evaluator = first, evaluator
        self.specs: dict[str, Spec] = {}
        self.values: dict[str, pd.DataFrame] = {}
        self._fused: set = set()  # (partner, prf, alphas) already swept by `fusion`

    def add(self, spec: Spec, run: pd.DataFrame) -> None:
        label = spec.label()
        if label not in self.values:
            self.specs[label] = spec
            self.values[label] = self.evaluator.per_query(run)

    def baselines(self, partners) -> None:
        self.add(Spec("dense"), self.first.dense)
        for s in partners:
            self.add(Spec("sparse", s), self.first.sparse_run(s))
            self.add(Spec("rrf", s), run_pipeline(self.first, Spec("rrf", s)))

    def prf(self, prfs) -> None:
        """Stage A: `dense+prf` for every PRF setting."""
        for p in prfs:
            self.add(Spec("dense+prf", prf=p), prf_round(self.first, self.first.dense, p))

    def fusion(self, partners, prfs, alphas) -> None:
        """Stage B: interp / pre / post / both over the alpha grid, for each PRF setting."""
        for s in partners:
            fused = {a: interpolate(self.first, s, self.first.dense, a) for a in alphas}
            for a, run in fused.items():
                self.add(Spec("interp", s, alpha_out=a), run)
            for p in prfs:
                if (s, p, tuple(alphas)) in self._fused:  # a second block chose it too
                    continue
                self._fused.add((s, p, tuple(alphas)))
                dense_prf = prf_round(self.first, self.first.dense, p)
                for a in alphas:
                    self.add(Spec("post", s, p, alpha_out=a), interpolate(self.first, s, dense_prf, a))
                for a_fb in alphas:
                    pre = prf_round(self.first, fused[a_fb], p)
                    self.add(Spec("pre", s, p, alpha_fb=a_fb), pre)
                    for a_out in alphas:
                        self.add(Spec("both", s, p, alpha_fb=a_fb, alpha_out=a_out),
                                 interpolate(self.first, s, pre, a_out))

    def table(self, measure: str) -> pd.DataFrame:
        """Per-query values of `measure`: index query_id, one column per label."""
        return pd.DataFrame({lab: v.set_index("query_id")[measure]
                             for lab, v in self.values.items()})

    def means(self) -> pd.DataFrame:
        """One row per label: spec fields + mean of every measure."""
        rows = []
        for lab, spec in self.specs.items():
            v = self.values[lab].drop(columns="query_id").mean()
            rows.append({"label": lab, **describe(spec), **v.to_dict()})
        return pd.DataFrame(rows)


def describe(spec: Spec) -> dict:
    """Flat fields of a spec for tables and plots."""
    p = spec.prf
    return {"pipeline": spec.pipeline, "sparse": spec.sparse,
            "method": p.key if p is not None else None,
            "prf": p.name() if p is not None else None,
            "depth": p.depth if p is not None else None,
            "alpha_fb": spec.alpha_fb, "alpha_out": spec.alpha_out}


def systems(partners, methods) -> list[tuple[str, str, str | None, str | None]]:
    """Rows of the main table: (system name, pipeline, partner, prf method)."""
    rows = [("dense", "dense", None, None)]
    rows += [(f"dense+prf/{m}", "dense+prf", None, m) for m in methods]
    rows += [(f"sparse/{s}", "sparse", s, None) for s in partners]
    rows += [(f"rrf/{s}", "rrf", s, None) for s in partners]
    rows += [(f"interp/{s}", "interp", s, None) for s in partners]
    for pipe in ("pre", "post", "both"):
        rows += [(f"{pipe}/{s}/{m}", pipe, s, m) for s in partners for m in methods]
    return rows


def select(system: tuple, specs: dict[str, Spec], values: pd.DataFrame,
           min_depth: int = 0) -> str:
    """The label chosen for `system` on the tuning values (index query_id, column per label).

    Fixed systems (dense, sparse) have one label; dense+prf / interp pick their best setting;
    pre / post / both pick their alphas among labels using the PRF setting that dense+prf
    chose for the same method on the same queries (stage A then stage B). `min_depth` keeps
    stage A to PRF depths >= it (the block that makes PRF act).
    """
    _, pipe, partner, method = system
    means = values.mean(axis=0)

    def best(labels):
        if not labels:
            raise ValueError(f"no grid point for system {system[0]!r}")
        sub = means[labels].to_numpy()
        return labels[int(np.argmax(sub))]  # ties: first in grid order

    def matches(spec, **want):
        d = describe(spec)
        return all(d[k] == v for k, v in want.items())

    if pipe in ("dense", "sparse", "rrf", "interp"):
        return best([lab for lab, sp in specs.items() if matches(sp, pipeline=pipe, sparse=partner)])
    prf_label = best([lab for lab, sp in specs.items()
                      if matches(sp, pipeline="dense+prf", method=method)
                      and sp.prf.depth >= min_depth])
    if pipe == "dense+prf":
        return prf_label
    chosen = specs[prf_label].prf
    return best([lab for lab, sp in specs.items()
                 if sp.pipeline == pipe and sp.sparse == partner and sp.prf == chosen])
