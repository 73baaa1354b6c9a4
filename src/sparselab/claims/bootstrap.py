"""Seeded percentile bootstrap over the design's unit, and threshold estimands.

The unit is what was sampled: queries, samples, seeds or models. When a unit holds several
rows (a query scored at many lengths, a seed evaluated on many tasks) pass `clusters` (one
label per row): whole clusters are resampled, so rows of a unit never count as independent.
Same seed, same data -> the same CI, bit for bit.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .model import Claim, Estimate
from .paired import _check_level, as_scores, paired_diffs

N_BOOT = 2000


def _units(n_rows: int, clusters) -> list[np.ndarray]:
    """Row indices of each resampling unit (sorted labels, so the order is deterministic)."""
    if clusters is None:
        return [np.array([i]) for i in range(n_rows)]
    labels = np.asarray(clusters)
    if labels.shape != (n_rows,):
        raise ValueError(f"clusters must hold one label per row: {labels.shape} vs {n_rows} rows")
    _, inverse = np.unique(labels, return_inverse=True)
    return [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)]


def _subset(data, idx: np.ndarray):
    return data.iloc[idx] if hasattr(data, "iloc") else data[idx]


def replicates(data, fn: Callable, *, clusters=None, n_boot: int = N_BOOT,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(fn(data), fn on n_boot resamples of the units, number of units).

    `fn(subset)` returns a float or a 1-D array of floats (several statistics at once).
    """
    n_rows = len(data)
    if n_rows == 0:
        raise ValueError("bootstrap: data is empty (need at least one row)")
    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot} is too small for a percentile CI (use >= 100)")
    units = _units(n_rows, clusters)
    if len(units) < 2:
        raise ValueError(f"bootstrap: need at least 2 units to resample, got {len(units)}")
    rng = np.random.default_rng(seed)
    full = np.atleast_1d(np.asarray(fn(data), dtype=float))
    reps = np.empty((n_boot, full.size))
    for r in range(n_boot):
        pick = rng.integers(0, len(units), len(units))
        idx = pick if clusters is None else np.concatenate([units[g] for g in pick])
        reps[r] = np.asarray(fn(_subset(data, idx)), dtype=float)
    bad = int((~np.isfinite(reps)).any(axis=1).sum())
    if bad or not np.all(np.isfinite(full)):
        raise ValueError(f"bootstrap: the statistic is not finite on the data or on {bad} of "
                         f"{n_boot} resamples")
    return full, reps, len(units)


def _level(level: float, claim: Claim | None) -> float:
    return _check_level(claim.ci_level if claim is not None else level)


def _estimate(value: float, reps: np.ndarray, level: float, n: int, test: str,
              claim: Claim | None, null: float, extra: dict) -> Estimate:
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(float(value), float(lo), float(hi), level, n, test, None, None,
                    None if claim is None else claim.margin, null, extra)


def bootstrap(data, statistic: Callable, *, clusters=None, n_boot: int = N_BOOT, seed: int = 0,
              level: float = 0.95, claim: Claim | None = None, null: float = 0.0,
              unit: str = "rows") -> Estimate:
    """Percentile bootstrap CI of `statistic(data)`, resampling rows or whole clusters.

    Args:
        data: numpy array or DataFrame, one row per observation.
        statistic: callable(subset of data) -> float, oriented so that A > B is positive
            (or compared with `null`, e.g. the paper's value).
        clusters: optional (n_rows,) labels of the resampling unit (query id, seed, model).
        unit: name of the unit for the test string ("queries", "seeds").
    The Estimate has no p-value: the rules read its CI (at claim.ci_level when given).
    """
    level = _level(level, claim)
    full, reps, n = replicates(data, statistic, clusters=clusters, n_boot=n_boot, seed=seed)
    kind = "cluster bootstrap" if clusters is not None else "bootstrap"
    test = f"{kind} over {n} {unit}, {n_boot} resamples, seed {seed}"
    return _estimate(full[0], reps[:, 0], level, n, test, claim, null, {})


def bootstrap_difference(a, b, *, clusters=None, n_boot: int = N_BOOT, seed: int = 0,
                         level: float = 0.95, claim: Claim | None = None,
                         unit: str = "units") -> Estimate:
    """Bootstrap CI of mean(a) - mean(b) over paired rows (vectorised; clusters allowed).

    With clusters, a resample's mean is over all rows of the drawn clusters (a cluster with
    more rows weighs more, as in the full-data mean).
    """
    level = _level(level, claim)
    d = paired_diffs(a, b)
    if n_boot < 100:
        raise ValueError(f"n_boot={n_boot} is too small for a percentile CI (use >= 100)")
    units = _units(d.size, clusters)
    if len(units) < 2:
        raise ValueError(f"bootstrap: need at least 2 units to resample, got {len(units)}")
    sums = np.array([d[u].sum() for u in units])
    counts = np.array([u.size for u in units], dtype=float)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(units), (n_boot, len(units)))
    reps = sums[pick].sum(1) / counts[pick].sum(1)
    kind = "cluster bootstrap" if clusters is not None else "bootstrap"
    test = f"{kind} of the mean difference over {len(units)} {unit}, {n_boot} resamples, seed {seed}"
    return _estimate(float(d.mean()), reps, level, len(units), test, claim, 0.0, {})


def bootstrap_compare(data, stat_a: Callable, stat_b: Callable, *, clusters=None,
                      n_boot: int = N_BOOT, seed: int = 0, level: float = 0.95,
                      claim: Claim | None = None, unit: str = "rows",
                      name: str = "statistic") -> Estimate:
    """CI of stat_a(data) - stat_b(data), both computed on the same resamples.

    For threshold estimands, e.g. "the largest compression non-inferior to dense is the same
    for method A and method B": stat_a / stat_b compute that level for A / B on a resample
    (see `largest_passing`). `extra` keeps each side's value and CI.
    """
    level = _level(level, claim)
    full, reps, n = replicates(data, lambda s: [stat_a(s), stat_b(s)], clusters=clusters,
                               n_boot=n_boot, seed=seed)
    q = [(1 - level) / 2, (1 + level) / 2]
    extra = {"a": float(full[0]), "a_ci": [float(x) for x in np.quantile(reps[:, 0], q)],
             "b": float(full[1]), "b_ci": [float(x) for x in np.quantile(reps[:, 1], q)]}
    kind = "cluster bootstrap" if clusters is not None else "bootstrap"
    test = (f"{kind} of the difference in {name} over {n} {unit}, {n_boot} resamples, "
            f"seed {seed}")
    return _estimate(full[0] - full[1], reps[:, 0] - reps[:, 1], level, n, test, claim, 0.0,
                     extra)


def largest_passing(levels: Sequence[float], passed: Sequence[bool], default: float = 0.0) -> float:
    """Largest level L such that every level <= L passed (checked from the smallest up).

    Args:
        levels: tested levels (e.g. compression ratios); any order, no duplicates.
        passed: whether each level passed (e.g. non-inferior to dense).
        default: returned when the smallest level already fails.
    """
    lv = as_scores(levels, "levels")
    ok = np.asarray(passed, dtype=bool)
    if ok.shape != lv.shape:
        raise ValueError(f"levels and passed differ in length: {lv.size} != {ok.size}")
    if np.unique(lv).size != lv.size:
        raise ValueError("levels has duplicates")
    best = default
    for i in np.argsort(lv, kind="stable"):
        if not ok[i]:
            break
        best = float(lv[i])
    return best
