"""Tables, figures and metrics of study 04 (N:M training recipes); re-exported by `nm_training`.

Input: the DataFrame of `nm_training.run` (one row per run; `record` holds its curves).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DECAYING = ("mdgf_linear", "mdgf_exp", "sdgf_stepwise", "sdgf_geometric")


def score(df: pd.DataFrame) -> str:
    """The column final numbers are read from: `test_bpc` when every run held out a test split
    (issue 15's design: tuning and curves on validation, final numbers on test), else
    `val_bpc`."""
    return "test_bpc" if "test_bpc" in df and df["test_bpc"].notna().all() else "val_bpc"


def _grid(df: pd.DataFrame) -> pd.DataFrame:
    """The equal-steps grid (without SR-STE runs extended to matched FLOPs)."""
    return df[~df.extended] if "extended" in df else df


def _order(df: pd.DataFrame) -> list[str]:
    """Sparse patterns ordered by sparsity."""
    sparse = df[df.recipe != "dense"].drop_duplicates("pattern").sort_values("sparsity")
    return list(sparse.pattern)


def dense_bpc(df: pd.DataFrame) -> pd.Series:
    """Validation bits per character of the dense runs, indexed by seed."""
    df = _grid(df)
    return df[df.recipe == "dense"].set_index("seed")[score(df)]


def table_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean/std/n of validation bpc per (pattern, recipe), with the gap to dense (same seeds)."""
    df = _grid(df)
    dense = dense_bpc(df)
    sparse = df[df.recipe != "dense"].copy()
    col = score(df)
    sparse["gap"] = sparse[col] - sparse.seed.map(dense)
    out = sparse.groupby(["pattern", "recipe"]).agg(
        bpc=(col, "mean"), bpc_std=(col, "std"), seeds=("seed", "nunique"),
        gap_to_dense=("gap", "mean"), gap_std=("gap", "std"),
        train_gflops=("train_flops", lambda f: f.mean() / 1e9))
    out["gap_pct"] = 100 * out.gap_to_dense / dense.mean() if len(dense) else np.nan
    out = out.reindex(_order(df), level="pattern")
    return out.round(4)


def paired_vs(df: pd.DataFrame, baseline: str = "sr_ste") -> pd.DataFrame:
    """Per (pattern, recipe): seed-paired difference in bpc against `baseline` (< 0: better).

    Columns: mean and std of the paired difference, relative difference (%), n seeds,
    `z` = mean / (std / sqrt(n)) (the paired t statistic) and its two-sided p-value (n - 1
    degrees of freedom; no correction for the many cells compared).
    """
    from scipy import stats

    df = _grid(df)
    col = score(df)
    base = df[df.recipe == baseline].set_index(["pattern", "seed"])[col]
    rows = []
    for (pattern, recipe), g in df[~df.recipe.isin(["dense", baseline])].groupby(["pattern", "recipe"]):
        ref = base.reindex([(pattern, s) for s in g.seed]).to_numpy()
        diff = g[col].to_numpy() - ref
        diff = diff[~np.isnan(diff)]
        if not len(diff):
            continue
        sd = diff.std(ddof=1) if len(diff) > 1 else np.nan
        z = diff.mean() / (sd / np.sqrt(len(diff))) if sd > 0 else np.nan  # NaN sd: NaN
        rows.append({"pattern": pattern, "recipe": recipe, "diff_bpc": diff.mean(), "diff_std": sd,
                     "diff_pct": 100 * diff.mean() / np.nanmean(ref), "seeds": len(diff),
                     "z": z, "p": 2 * stats.t.sf(abs(z), len(diff) - 1) if np.isfinite(z)
                     else np.nan})
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows).set_index(["pattern", "recipe"])
    return out.reindex(_order(df), level="pattern").round(4)


def _curve_at(record: dict, budget: float) -> float:
    """Hard-N:M validation bpc of a run's evaluation curve interpolated at `budget` FLOPs."""
    ev = record["evals"]
    if not ev:
        return np.nan
    flops = np.array([e[1] for e in ev])
    bpc = np.array([e[2] for e in ev])
    if budget < flops[0] or budget > flops[-1] * (1 + 1e-9):
        return np.nan
    return float(np.interp(budget, flops, bpc))


def table_iso_flops(df: pd.DataFrame) -> pd.DataFrame:
    """bpc of each sparse recipe at the same training FLOPs, per pattern.

    The budget is the smallest total training FLOPs of any sparse recipe at that pattern; each
    run's evaluation curve (the hard N:M model, evaluated every few steps on a smaller validation
    sample) is interpolated there. Recipes that spend more FLOPs per step are thus stopped early.
    """
    df = _grid(df)
    rows = []
    for pattern, g in df[df.recipe != "dense"].groupby("pattern"):
        budget = g.groupby("recipe").train_flops.mean().min()
        for recipe, gr in g.groupby("recipe"):
            vals = [_curve_at(r, budget) for r in gr.record]
            rows.append({"pattern": pattern, "recipe": recipe, "budget_gflops": budget / 1e9,
                         "bpc_at_budget": np.nanmean(vals), "std": np.nanstd(vals, ddof=1)
                         if len(vals) > 1 else np.nan,
                         "flops_used_x": gr.train_flops.mean() / budget})
    out = pd.DataFrame(rows).set_index(["pattern", "recipe"])
    return out.reindex(_order(df), level="pattern").round(4)


def flip_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of mask-flip rates: recipe, pattern, seed, step, rate (fraction of entries)."""
    df = _grid(df)
    rows = [{"recipe": r.recipe, "pattern": r.pattern, "seed": r.seed, "step": s, "rate": v}
            for r in df[df.recipe != "dense"].itertuples() for s, v in r.record["flips"]]
    return pd.DataFrame(rows)


def table_flips(df: pd.DataFrame) -> pd.DataFrame:
    """Mean flip rate per recipe and pattern in each third of training (first, middle, last)."""
    df = _grid(df)
    fl = flip_frame(df)
    if fl.empty:
        return fl
    steps = int(df.record.iloc[0]["spec"]["steps"])
    fl["third"] = pd.cut(fl.step, [0, steps / 3, 2 * steps / 3, steps + 1],
                         labels=["early", "middle", "late"], include_lowest=True)
    out = fl.groupby(["pattern", "recipe", "third"], observed=True).rate.mean().unstack("third")
    return (100 * out).reindex(_order(df), level="pattern").round(3)  # percent of entries


def plot_bpc_vs_sparsity(df: pd.DataFrame):
    """Validation bpc vs N:M pattern per recipe (mean, error bar = seed std); dense as a band."""
    df = _grid(df)
    import matplotlib.pyplot as plt

    order, col = _order(df), score(df)
    uniform = [p for p in order if "=" not in p]  # split settings: markers apart, no line
    fig, ax = plt.subplots(figsize=(7, 4))
    recipes = sorted(df[df.recipe != "dense"].recipe.unique())
    for i, recipe in enumerate(recipes):
        g = df[df.recipe == recipe].groupby("pattern")[col].agg(["mean", "std"]).reindex(order)
        x = np.arange(len(order)) + (i - len(recipes) / 2) * 0.04
        k = len(uniform)
        line = ax.errorbar(x[:k], g["mean"][:k], yerr=g["std"][:k], marker="o", capsize=3,
                           label=recipe, ls="--" if recipe in DECAYING else "-")
        if len(order) > k:
            ax.errorbar(x[k:], g["mean"][k:], yerr=g["std"][k:], marker="s", capsize=3,
                        ls="none", color=line[0].get_color())
    dense = dense_bpc(df)
    if len(dense):
        ax.axhspan(dense.mean() - dense.std(ddof=1) if len(dense) > 1 else dense.mean(),
                   dense.mean() + (dense.std(ddof=1) if len(dense) > 1 else 0), color="k",
                   alpha=0.15)
        ax.axhline(dense.mean(), color="k", lw=1, label="dense")
    ax.set_xticks(range(len(order)), order)
    ax.set_xlabel("N:M pattern (sparsity increases to the right; split settings last)")
    ax.set_ylabel(f"{'test' if col == 'test_bpc' else 'validation'} bits per character")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def plot_flops(df: pd.DataFrame):
    """Final bpc vs total training FLOPs, one panel per pattern (each dot a run)."""
    df = _grid(df)
    import matplotlib.pyplot as plt

    order = _order(df)
    fig, axes = plt.subplots(1, len(order), figsize=(3.2 * len(order), 3.2), squeeze=False,
                             sharey=True)
    colors = {r: f"C{i}" for i, r in enumerate(sorted(df.recipe.unique()))}
    for ax, pattern in zip(axes[0], order):
        for recipe, g in df[(df.pattern == pattern) | (df.recipe == "dense")].groupby("recipe"):
            ax.scatter(g.train_flops / 1e9, g[score(df)], s=14, color=colors[recipe],
                       label=recipe)
        ax.set_title(pattern)
        ax.set_xlabel("training GFLOPs")
    axes[0][0].set_ylabel("validation bpc")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(df: pd.DataFrame, pattern: str):
    """Hard-N:M validation bpc vs cumulative training FLOPs (mean over seeds) at `pattern`,
    with the dense model's curve for reference."""
    df = _grid(df)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    sel = df[(df.pattern == pattern) | (df.recipe == "dense")]
    for recipe, g in sel.groupby("recipe"):
        ev = np.array([[e[1], e[2]] for e in g.record.iloc[0]["evals"]])
        bpc = np.mean([[e[2] for e in r["evals"]] for r in g.record], axis=0)
        style = {"color": "k", "lw": 1} if recipe == "dense" else {
            "ls": "--" if recipe in DECAYING else "-"}
        ax.plot(ev[:, 0] / 1e9, bpc, label=recipe, **style)
    ax.set_xlabel("cumulative training GFLOPs")
    ax.set_ylabel("validation bpc of the hard N:M model")
    ax.set_title(f"{pattern}: learning curves (mask applied at evaluation)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_flips(df: pd.DataFrame):
    """Mask-flip rate over training per recipe (mean over seeds), one panel per pattern."""
    df = _grid(df)
    import matplotlib.pyplot as plt

    fl = flip_frame(df)
    order = _order(df)
    fig, axes = plt.subplots(1, len(order), figsize=(3.4 * len(order), 3.2), squeeze=False,
                             sharey=True)
    for ax, pattern in zip(axes[0], order):
        for recipe, g in fl[fl.pattern == pattern].groupby("recipe"):
            m = g.groupby("step").rate.mean()
            ax.plot(m.index, 100 * m.to_numpy(), label=recipe, lw=1,
                    ls="--" if recipe in DECAYING else "-")
        ax.set_title(pattern)
        ax.set_xlabel("training step")
    axes[0][0].set_ylabel("mask entries flipped since last check (%)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def table_matched_flops(df: pd.DataFrame) -> pd.DataFrame:
    """MDGF vs SR-STE trained longer to the same training FLOPs (paper's iso-FLOPs view).

    Per pattern: final bpc of SR-STE at equal steps, of SR-STE extended to MDGF-exp's FLOPs,
    of both MDGF recipes, and the seed-paired difference MDGF-exp minus extended SR-STE.
    """
    if "extended" not in df or not df.extended.any():
        return pd.DataFrame()
    matched = df[df.extended & (df.recipe == "sr_ste")]  # not the plateau check's dense runs
    if matched.empty:
        return pd.DataFrame()
    rows, col = [], score(df)
    for pattern, long in matched.groupby("pattern"):
        grid = _grid(df)
        row = {"pattern": pattern, "sr_ste_steps": int(long.steps.iloc[0]),
               "sr_ste_long": long[col].mean(), "sr_ste_long_std": long[col].std(ddof=1)}
        for recipe in ("sr_ste", "mdgf_exp", "mdgf_linear"):
            g = grid[(grid.pattern == pattern) & (grid.recipe == recipe)]
            row[recipe] = g[col].mean() if len(g) else np.nan
        mdgf = grid[(grid.pattern == pattern) & (grid.recipe == "mdgf_exp")].set_index("seed")
        diff = (mdgf[col] - long.set_index("seed")[col]).dropna()
        row["flops_ratio"] = long.train_flops.mean() / mdgf.train_flops.mean() if len(mdgf) \
            else np.nan
        row["mdgf_exp_minus_long"] = diff.mean() if len(diff) else np.nan
        row["diff_std"] = diff.std(ddof=1) if len(diff) > 1 else np.nan
        rows.append(row)
    out = pd.DataFrame(rows).set_index("pattern")
    return out.reindex([p for p in _order(df) if p in out.index]).round(4)


def metrics(df: pd.DataFrame) -> dict[str, float]:
    """Flat metrics: `val_bpc/<recipe>/<pattern>`, gaps, equal-FLOPs bpc, paired diffs, flips."""
    m: dict[str, float] = {}
    col = score(df)  # val_bpc, or test_bpc when the runs held out a test split
    dense = dense_bpc(df)
    if len(dense):
        m[f"{col}/dense"] = dense.mean()
        m[f"{col}_std/dense"] = dense.std(ddof=1) if len(dense) > 1 else np.nan
    for (pattern, recipe), r in table_summary(df).iterrows():
        m[f"{col}/{recipe}/{pattern}"] = r.bpc
        m[f"{col}_std/{recipe}/{pattern}"] = r.bpc_std
        m[f"gap_to_dense/{recipe}/{pattern}"] = r.gap_to_dense
        m[f"train_gflops/{recipe}/{pattern}"] = r.train_gflops
    for (pattern, recipe), r in table_iso_flops(df).iterrows():
        m[f"bpc_at_equal_flops/{recipe}/{pattern}"] = r.bpc_at_budget
    for (pattern, recipe), r in paired_vs(df).iterrows():
        m[f"diff_vs_sr_ste/{recipe}/{pattern}"] = r.diff_bpc
    for pattern, r in table_matched_flops(df).iterrows():
        m[f"{col}/sr_ste_matched_flops/{pattern}"] = r.sr_ste_long
        m[f"mdgf_exp_minus_sr_ste_matched_flops/{pattern}"] = r.mdgf_exp_minus_long
    fl = flip_frame(df)
    if not fl.empty:
        for (pattern, recipe), v in fl.groupby(["pattern", "recipe"]).rate.mean().items():
            m[f"flip_rate_pct/{recipe}/{pattern}"] = 100 * v
    return m


def timings(df: pd.DataFrame) -> dict[str, float]:
    """Measured training times of the runs (timings.json, never metrics.json: they vary)."""
    out = {"runs": len(df)}
    for col in ("cpu_s", "wall_s"):
        if col in df:
            out[f"{col}/total"] = float(df[col].sum())
            out[f"{col}/median_run"] = float(df[col].median())
    return out


def headline(df: pd.DataFrame) -> dict[str, float]:
    """2-4 numbers: dense bpc, SR-STE bpc at the highest sparsity, and the pooled seed-paired
    differences decaying - SR-STE of claims (a) and (c) where they are testable."""
    from .claims import by_id, evaluate

    grid = _grid(df)
    out = {"dense_bpc": float(dense_bpc(grid).mean())}
    order = [p for p in _order(grid) if "=" not in p]  # uniform patterns, not split settings
    if order:
        sr = grid[(grid.recipe == "sr_ste") & (grid.pattern == order[-1])][score(grid)]
        if len(sr):
            out[f"sr_ste_bpc@{order[-1]}"] = float(sr.mean())
    res = by_id(evaluate(df))
    for key, name in (("04.decaying_beat_sr_ste", "decaying_minus_sr_ste"),
                      ("04.win_at_equal_flops", "mdgf_exp_minus_sr_ste_equal_flops")):
        if res[key].estimate is not None:
            out[name] = float(res[key].estimate.estimate)
    return out
