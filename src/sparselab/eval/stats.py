"""Comparing runs: paired t-tests over queries with Holm–Bonferroni correction."""
from __future__ import annotations

import numpy as np
import pandas as pd


def paired_ttest(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """Two-sided paired t-test of per-query values `a` vs `b` (scipy.stats.ttest_rel).

    Args:
        a, b: per-query values indexed by query id; both must hold the same queries.
    Returns: (t, p). Identical inputs give (0.0, 1.0) instead of scipy's NaN.
    """
    from scipy.stats import ttest_rel

    if set(a.index) != set(b.index):
        only = sorted(set(a.index) ^ set(b.index))[:5]
        raise ValueError(f"paired test needs the same queries in a and b; differ on {only}...")
    if len(a) < 2:
        raise ValueError(f"paired test needs at least 2 queries, got {len(a)}")
    x = a.astype(float).to_numpy()
    y = b.astype(float).reindex(a.index).to_numpy()
    if np.array_equal(x, y):
        return 0.0, 1.0
    res = ttest_rel(x, y)
    return float(res.statistic), float(res.pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down), in the input order.

    Args:
        pvalues: length-m p-values.
    Returns: (m,) adjusted p: sorted ascending p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j)).
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must be a 1-D sequence of values in [0, 1]")
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def compare_runs(
    per_query_frames: dict[str, pd.DataFrame], baseline: str, measure: str, alpha: float = 0.05
) -> pd.DataFrame:
    """Each system vs `baseline` on `measure`: means, paired t-test, Holm-adjusted p.

    Args:
        per_query_frames: system name -> `per_query` output (query_id + measure columns).
        baseline: key of the baseline system.
        measure: the column compared (e.g. `nDCG@10`).
        alpha: family-wise level for `significant`.
    Returns: one row per system (baseline first) with columns system, mean, delta, t, p,
        p_holm, significant; the baseline row has NaN statistics.
    """
    if baseline not in per_query_frames:
        raise KeyError(f"baseline {baseline!r} not among systems {sorted(per_query_frames)}")
    series = {}
    for name, df in per_query_frames.items():
        if measure not in df.columns:
            raise KeyError(f"system {name!r} has no column {measure!r}; has {list(df.columns)}")
        series[name] = df.set_index(df["query_id"].astype(str))[measure]
    base = series[baseline]
    rows = [{"system": baseline, "mean": float(base.mean()), "delta": 0.0, "t": np.nan,
             "p": np.nan}]
    for name, s in series.items():
        if name == baseline:
            continue
        t, p = paired_ttest(s, base)
        delta = float(s.mean() - base.mean())
        rows.append({"system": name, "mean": float(s.mean()), "delta": delta, "t": t, "p": p})
    out = pd.DataFrame(rows)
    tested = out["p"].notna()
    out["p_holm"] = np.nan
    if tested.any():
        out.loc[tested, "p_holm"] = holm(out.loc[tested, "p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    return out
