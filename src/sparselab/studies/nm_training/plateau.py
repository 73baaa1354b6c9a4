"""Is the dense model trained to a plateau? Two dense runs, S/2 and S steps, compared.

Issue 15's protocol: two separate dense runs, each with its learning-rate schedule (warm-up,
cosine) annealed to its own end, at S/2 and at S steps (`pipeline.plateau_specs`). The S-step
run must be no worse and at most 1 % better: 0 <= bpc(S/2) - bpc(S) <= 0.01 bpc(S). A run
whose validation curve is rising at its end overfits, and that is not a plateau either.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

GAIN_MAX = 0.01  # the S-step run may be better than the S/2-step run by at most this share
NO_PLATEAU_CHECK = ("This profile has no plateau check (`plateau_check` false): dense trains "
                    "once, for `steps`; the limitations below say how far from a plateau it is.")
RISE_MAX = 0.002  # curve end above its minimum by more than this share of it: overfitting


def _curves(df: pd.DataFrame, role: str) -> np.ndarray:
    """Mean dense validation curve (step, bpc) over seeds of the runs with `role`."""
    runs = df[(df.recipe == "dense") & (df.role == role)]
    evals = [np.asarray(r["evals"], float) for r in runs.record]
    if not evals or not all(len(e) for e in evals):
        return np.empty((0, 2))
    mean = np.mean(evals, axis=0)
    return mean[:, [0, 2]]


def plateau(df: pd.DataFrame) -> dict:
    """The plateau check on the runs of `pipeline.results_frame` (with `role`), paired by seed
    over the seeds that have both runs; {} when the grid has no S/2 dense runs.

    Keys: dense_val_bpc (S steps, mean over those seeds), dense_val_bpc_half_steps,
    plateau_gain (bpc(S/2) - bpc(S)), plateau_gain_pct (% of bpc(S)), dense_curve_rise (end of
    the S-step curve minus its minimum), overfits, plateau (0 <= gain <= 1 % and no overfit).
    """
    if "role" not in df or not (df.role == "half").any():
        return {}
    dense = df[df.recipe == "dense"]
    full = dense[dense.role == "grid"].set_index("seed").val_bpc
    half = dense[dense.role == "half"].set_index("seed").val_bpc
    seeds = full.index.intersection(half.index)
    if not len(seeds):
        return {}
    b_full, b_half = float(full[seeds].mean()), float(half[seeds].mean())
    gain = b_half - b_full
    curve = _curves(df[df.seed.isin(seeds)], "grid")
    rise = float(curve[-1, 1] - curve[:, 1].min()) if len(curve) else float("nan")
    overfits = bool(np.isfinite(rise) and rise > RISE_MAX * curve[:, 1].min())
    return {
        "dense_val_bpc": b_full, "dense_val_bpc_half_steps": b_half,
        "plateau_gain": gain, "plateau_gain_pct": 100 * gain / b_full,
        "dense_curve_rise": rise, "overfits": overfits,
        "plateau": bool(0 <= gain <= GAIN_MAX * b_full and not overfits),
        "plateau_seeds": len(seeds),
    }


def plot_plateau(df: pd.DataFrame):
    """Dense validation curves of the S/2-step and S-step runs (mean over seeds) against the
    training step, each annealed to its own end."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for role, label in (("half", "S/2 steps"), ("grid", "S steps")):
        curve = _curves(df, role)
        if len(curve):
            ax.plot(curve[:, 0], curve[:, 1], label=f"dense, {label}", marker=".")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation bpc (curve sample)")
    ax.set_title("Plateau check: two dense runs, each annealed to its own end")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
