"""Log-linear scaling law for sparse attention (The Sparse Frontier, v1).

    y = alpha * log N + beta * log L + gamma * log C + delta_task + eps

N parameters, L sequence length, C compression ratio, one intercept per task. `link="logit"`
fits logit(accuracy) (accuracy clipped to [eps, 1 - eps]); `link="identity"` fits accuracy.
Predictions are always returned on the accuracy scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

AXES = {"N": "n_params", "L": "length", "C": "compression"}
LINKS = ("identity", "logit")


@dataclass(frozen=True)
class ScalingFit:
    """Fitted coefficients; `delta` maps task -> intercept."""

    alpha: float
    beta: float
    gamma: float
    delta: dict[str, float]
    link: str
    eps: float

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predicted accuracy (n,) for rows with n_params, length, compression, task."""
        unknown = sorted(set(df["task"]) - set(self.delta))
        if unknown:
            raise ValueError(f"tasks not seen in the fit: {unknown}")
        z = (self.alpha * np.log(df["n_params"].to_numpy(float))
             + self.beta * np.log(df["length"].to_numpy(float))
             + self.gamma * np.log(df["compression"].to_numpy(float))
             + df["task"].map(self.delta).to_numpy(float))
        return 1.0 / (1.0 + np.exp(-z)) if self.link == "logit" else z


def _check(df: pd.DataFrame, y: str) -> None:
    need = {"n_params", "length", "compression", "task", y}
    missing = sorted(need - set(df.columns))
    if missing:
        raise ValueError(f"scaling data lacks column(s): {missing}")
    if (df[["n_params", "length", "compression"]] <= 0).any().any():
        raise ValueError("n_params, length and compression must be positive (they are logged)")


def transform(acc: np.ndarray, link: str, eps: float) -> np.ndarray:
    """Accuracy -> the fitted scale."""
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; use one of {LINKS}")
    if link == "identity":
        return acc
    a = np.clip(acc, eps, 1 - eps)
    return np.log(a / (1 - a))


def fit_scaling_law(df: pd.DataFrame, y: str = "accuracy", link: str = "logit",
                    eps: float = 0.02) -> ScalingFit:
    """Least-squares fit of the law on rows of `df` (one row per grid cell)."""
    _check(df, y)
    tasks = sorted(df["task"].unique())
    x = np.column_stack([
        np.log(df["n_params"].to_numpy(float)), np.log(df["length"].to_numpy(float)),
        np.log(df["compression"].to_numpy(float)),
        *[(df["task"] == t).to_numpy(float) for t in tasks],
    ])
    target = transform(df[y].to_numpy(float), link, eps)
    coef, *_ = np.linalg.lstsq(x, target, rcond=None)
    return ScalingFit(float(coef[0]), float(coef[1]), float(coef[2]),
                      {t: float(c) for t, c in zip(tasks, coef[3:])}, link, eps)


def r2(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot."""
    ss_tot = float(((actual - actual.mean()) ** 2).sum())
    return float("nan") if ss_tot == 0 else 1.0 - float(((actual - predicted) ** 2).sum()) / ss_tot


def holdout(df: pd.DataFrame, axis: str, y: str = "accuracy", link: str = "logit",
            eps: float = 0.02, by: str | None = None) -> dict:
    """Fit on all but the largest value of `axis` (N, L or C), test on that value.

    `by` names another column whose largest value selects the held-out rows (e.g. the grid
    level of rows at a continuous achieved compression). Returns R^2 on the held-out rows
    (accuracy scale), per-task Spearman rho and p-value between predicted and observed accuracy
    there, and the fit.
    """
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; use one of {list(AXES)}")
    col = by or AXES[axis]
    top = df[col].max()
    train, test = df[df[col] < top], df[df[col] == top]
    if train.empty or test.empty:
        raise ValueError(f"axis {axis} has a single value; nothing to hold out")
    fit = fit_scaling_law(train, y, link, eps)
    pred = fit.predict(test)
    actual = test[y].to_numpy(float)
    rho = {}
    for task, idx in test.groupby("task").indices.items():
        if len(idx) >= 3 and np.ptp(actual[idx]) > 0 and np.ptp(pred[idx]) > 0:
            r, p = stats.spearmanr(pred[idx], actual[idx])
            rho[task] = (float(r), float(p))
    return {"axis": axis, "held_out": float(top), "n_train": len(train), "n_test": len(test),
            "r2": r2(actual, pred), "spearman": rho, "fit": fit}


def bootstrap(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0, y: str = "accuracy",
              link: str = "logit", eps: float = 0.02, level: float = 0.95) -> pd.DataFrame:
    """Percentile bootstrap CIs of alpha, beta, gamma (rows resampled with replacement)."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        sample = df.iloc[rng.integers(0, len(df), len(df))]
        if sample["task"].nunique() < df["task"].nunique():
            continue  # a task vanished: its intercept is undefined
        f = fit_scaling_law(sample, y, link, eps)
        draws.append((f.alpha, f.beta, f.gamma))
    arr = np.array(draws)
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    point = fit_scaling_law(df, y, link, eps)
    return pd.DataFrame({
        "estimate": [point.alpha, point.beta, point.gamma],
        "ci_low": np.quantile(arr, lo, axis=0), "ci_high": np.quantile(arr, hi, axis=0),
        "n_boot": len(arr),
    }, index=["alpha", "beta", "gamma"])


def budget_for_error(df: pd.DataFrame, target: float, y: str = "accuracy") -> pd.DataFrame:
    """Smallest budget fraction 1/C whose relative error vs dense (C = 1) is <= `target`.

    `df` rows: length, compression, y (already averaged over whatever else varies). Relative
    error = (y_dense - y) / y_dense. Lengths where no compression reaches it get NaN.
    """
    rows = []
    for length, g in df.groupby("length"):
        dense = g.loc[g["compression"] == 1, y]
        if dense.empty or dense.iloc[0] <= 0:
            continue
        rel = (dense.iloc[0] - g[y]) / dense.iloc[0]
        ok = g.loc[rel <= target, "compression"]
        frac = 1.0 / ok.max() if len(ok) else np.nan
        rows.append({"length": length, "budget_fraction": frac, "budget_tokens": frac * length})
    return pd.DataFrame(rows, columns=["length", "budget_fraction", "budget_tokens"])


def fit_power(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit y = a * x^k by least squares in log space; returns (k, a)."""
    k, loga = np.polyfit(np.log(x), np.log(y), 1)
    return float(k), float(np.exp(loga))
