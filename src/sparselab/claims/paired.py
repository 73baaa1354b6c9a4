"""Paired tests on per-unit scores (queries, samples, seeds): difference, TOST, non-inferiority.

Each returns one `Estimate` of the mean difference A - B with a t confidence interval.
`paired_test(a, b, claim=claim)` picks the test the claim's hypothesis needs.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .model import Claim, Estimate


def as_scores(x, name: str) -> np.ndarray:
    """1-D float array of finite scores, or a ValueError naming the parameter."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D scores, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one score")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has {int((~np.isfinite(arr)).sum())} non-finite values")
    return arr


def paired_diffs(a, b, min_n: int = 2) -> np.ndarray:
    """a - b for scores of the same units in the same order (checked shapes, >= min_n units)."""
    x, y = as_scores(a, "a"), as_scores(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must score the same units: lengths {x.size} != {y.size}")
    if x.size < min_n:
        raise ValueError(f"a, b: need at least {min_n} paired units, got {x.size}")
    return x - y


def _check_level(level: float, name: str = "level") -> float:
    if not 0 < level < 1:
        raise ValueError(f"{name}={level} must lie in (0, 1)")
    return float(level)


def _t_ci(d: np.ndarray, level: float) -> tuple[float, float, float, float]:
    """(mean, se, low, high) of the mean of d with a Student t interval."""
    mean = float(d.mean())
    # a constant difference (up to rounding) has no sampling noise: call it se = 0 exactly,
    # rather than letting scipy divide rounding error by rounding error
    if np.ptp(d) <= 1e-12 * max(1.0, abs(mean)):
        return mean, 0.0, mean, mean
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    half = float(special.stdtrit(d.size - 1, 0.5 + level / 2)) * se
    return mean, se, mean - half, mean + half


def paired_difference(a, b, level: float = 0.95, *, claim: Claim | None = None) -> Estimate:
    """Mean paired difference A - B, t CI at `level`, two-sided paired t-test p-value.

    Args:
        a, b: (n,) scores of the same units (queries, samples) in the same order.
        level: CI level (claim.ci_level when `claim` is given).
    """
    level = _check_level(claim.ci_level if claim is not None else level)
    d = paired_diffs(a, b)
    mean, se, lo, hi = _t_ci(d, level)
    if se == 0.0:  # every unit has the same difference: no sampling noise to test against
        p = 1.0 if mean == 0.0 else 0.0
    else:
        # = scipy.stats.ttest_rel(a, b).pvalue (checked in the unit tests); scipy's wrapper
        # costs more than the test itself when a notebook runs thousands of cells
        p = float(2 * special.stdtr(d.size - 1, -abs(mean) / se))
    return Estimate(mean, lo, hi, level, d.size, "paired t-test", p, "two-sided")


def equivalence(a, b, margin: float | None = None, alpha: float = 0.05, *,
                claim: Claim | None = None) -> Estimate:
    """TOST of |mean(A - B)| < margin (statsmodels `ttost_paired`); CI at 1 - 2 alpha.

    Args:
        a, b: (n,) paired scores.
        margin: equivalence bound, > 0, in the scores' unit (claim.margin when given).
        alpha: level of each one-sided test (claim.alpha when given).
    """
    from statsmodels.stats.weightstats import ttost_paired

    if claim is not None:
        margin, alpha = claim.margin, claim.alpha
    margin = _check_margin(margin)
    level = _check_level(1 - 2 * alpha, "1 - 2*alpha")
    d = paired_diffs(a, b)
    mean, se, lo, hi = _t_ci(d, level)
    if se == 0.0:
        p = 0.0 if abs(mean) < margin else 1.0
    else:
        p = float(ttost_paired(np.asarray(a, float), np.asarray(b, float), -margin, margin)[0])
    return Estimate(mean, lo, hi, level, d.size, f"paired TOST, margin ±{margin:g}", p, "tost",
                    margin)


def noninferiority(a, b, margin: float | None = None, alpha: float = 0.05, *,
                   claim: Claim | None = None) -> Estimate:
    """One-sided paired t-test of H0 mean(A - B) <= -margin (higher scores are better).

    Rejecting H0 means A loses less than `margin` against B. The CI is at 1 - 2 alpha, so its
    low bound is the one-sided 1 - alpha bound. Negate losses/latencies before calling.
    """
    if claim is not None:
        margin, alpha = claim.margin, claim.alpha
    margin = _check_margin(margin)
    level = _check_level(1 - 2 * alpha, "1 - 2*alpha")
    d = paired_diffs(a, b)
    mean, se, lo, hi = _t_ci(d, level)
    if se == 0.0:
        p = 0.0 if mean > -margin else 1.0
    else:
        # = scipy.stats.ttest_1samp(d, -margin, alternative="greater").pvalue
        p = float(special.stdtr(d.size - 1, -(mean + margin) / se))
    return Estimate(mean, lo, hi, level, d.size, f"paired non-inferiority t-test, margin {margin:g}",
                    p, "noninferior", margin)


def paired_test(a, b, *, claim: Claim) -> Estimate:
    """The paired test `claim.hypothesis` needs: t-test, TOST or non-inferiority."""
    if claim.hypothesis in ("greater", "less"):
        return paired_difference(a, b, claim=claim)
    if claim.hypothesis == "equivalent":
        return equivalence(a, b, claim=claim)
    return noninferiority(a, b, claim=claim)


def _check_margin(margin) -> float:
    if margin is None:
        raise ValueError("margin is required for equivalence / non-inferiority tests")
    m = float(margin)
    if not math.isfinite(m) or m <= 0:
        raise ValueError(f"margin={margin!r} must be a positive number")
    return m


def normal_estimate(value: float, se: float, n: int, test: str, level: float = 0.95, *,
                    claim: Claim | None = None, null: float = 0.0, df: float | None = None,
                    extra=None) -> Estimate:
    """Estimate from (value, standard error): normal, or Student t with `df` degrees of freedom.

    Without `claim` the p-value is two-sided against `null`; with one it is the p-value the
    claim's rule reads (two-sided, TOST or non-inferiority against its margin), and the CI is
    at claim.ci_level. Use it for any estimator with a standard error (a fitted coefficient).
    """
    if not (math.isfinite(value) and math.isfinite(se) and se >= 0):
        raise ValueError(f"normal_estimate: value={value}, se={se} must be finite, se >= 0")
    if df is not None and not df > 0:
        raise ValueError(f"normal_estimate: df={df} must be > 0")
    kind, margin = "two-sided", None
    if claim is not None:
        level, kind, margin = claim.ci_level, claim.p_kind, claim.margin
    level = _check_level(level)
    dist = stats.norm if df is None else stats.t(df)
    q = float(dist.ppf(0.5 + level / 2))
    eff = value - null
    if se == 0.0:
        p = {"two-sided": float(eff == 0.0), "tost": float(abs(eff) >= (margin or 0)),
             "noninferior": float(eff <= -(margin or 0))}[kind]
    elif kind == "two-sided":
        p = float(2 * dist.sf(abs(eff) / se))
    elif kind == "tost":
        p = float(max(dist.sf((eff + margin) / se), dist.sf((margin - eff) / se)))
    else:
        p = float(dist.sf((eff + margin) / se))
    return Estimate(value, value - q * se, value + q * se, level, n, test, p, kind, margin, null,
                    dict(extra or {}))
