"""Confidence intervals and the non-inferiority test of study 01.

`mean_ci`: Wilson score interval when every score is 0 or 1 (exact-match tasks), otherwise a
seeded percentile bootstrap of the mean (set-F1 / pair-accuracy scores in [0, 1]).

`noninferior`: one-sided paired t-test of H0 "the method loses at least `margin` accuracy
against dense on the same samples" (mean(dense - method) >= margin); rejecting it at level
`alpha` means the method's accuracy is statistically indistinguishable from dense within the
margin. `max_compression` is the largest level up to which every level passes.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def wilson(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n."""
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_ci(scores, level: float = 0.95, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of per-sample scores in [0, 1] (Wilson if binary, else bootstrap)."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one score")
    m = float(x.mean())
    if np.all((x == 0) | (x == 1)):
        lo, hi = wilson(float(x.sum()), x.size, level)
        return m, lo, hi
    rng = np.random.default_rng(seed)
    boot = x[rng.integers(0, x.size, (n_boot, x.size))].mean(1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return m, float(lo), float(hi)


def noninferior(dense, method, margin: float = 0.05) -> tuple[float, float]:
    """One-sided paired test that `method` loses less than `margin` vs `dense`: (mean loss, p).

    Args:
        dense, method: per-sample scores (n,) on the same samples in the same order.
    """
    a, b = np.asarray(dense, dtype=float), np.asarray(method, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"dense and method scores must be equal-length 1-D, got {a.shape}, {b.shape}")
    d = a - b
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    if sd == 0.0:
        return mean, 0.0 if mean < margin else 1.0
    t = (mean - margin) / (sd / math.sqrt(d.size))
    return mean, float(stats.t.cdf(t, d.size - 1))


def max_compression(cells: pd.DataFrame, margin: float = 0.05, alpha: float = 0.05) -> pd.DataFrame:
    """Largest level up to which a method is non-inferior to dense, per (model, phase, method).

    `cells` rows: model, phase, method, level, scores (list; samples pooled over every task and
    length in the same order for every level of a group). Level 1 is dense itself.
    Returns rows model, phase, method, max_level, and the loss/p at each tested level.
    """
    out = []
    for (model, phase, method), g in cells.groupby(["model", "phase", "method"], sort=False):
        levels = g.set_index("level")["scores"]
        if 1.0 not in levels.index:
            raise ValueError(f"{model}/{phase}/{method}: no level-1 (dense) row to compare against")
        dense, best, broken = levels[1.0], 1.0, False
        for lvl in sorted(levels.index):
            if lvl == 1.0:
                continue
            loss, p = noninferior(dense, levels[lvl], margin)
            ok = p < alpha
            out.append({"model": model, "phase": phase, "method": method, "level": lvl,
                        "loss": loss, "p": p, "noninferior": ok})
            if ok and not broken:
                best = lvl
            broken = broken or not ok
        for row in out:
            if (row["model"], row["phase"], row["method"]) == (model, phase, method):
                row["max_level"] = best
    return pd.DataFrame(out)
