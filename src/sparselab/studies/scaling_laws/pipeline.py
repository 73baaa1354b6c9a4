"""Study 02: the Sparse Frontier scaling law fitted on study 01's grid.

    y = alpha * log N + beta * log L + gamma * log C + delta_task + eps

fitted separately for prefill and decode (`sparselab.scaling`), with y the accuracy averaged
over the real sparse methods of a phase (oracle_topk excluded) at each grid point (model N,
length L, compression level C, task). Validation holds out the largest value of each axis in
turn. The iso-error analysis asks how many tokens of budget a fixed relative error needs as
the length grows (power-law exponent < 1: sub-linear).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ... import scaling
from .config import Config

PAPER_SIGNS = {"alpha": "+", "beta": "-", "gamma": "-"}


@dataclass
class Results:
    data: pd.DataFrame  # one row per (phase, model, n_params, length, compression, task)
    grid: object  # study 01's Results


def grid_config(profile: str):
    """Study 01's Config for parameter profile `profile` (notebooks/params/01_*.<profile>.yaml)."""
    import yaml

    from ...paths import repo_root
    from .. import sparse_attention

    path = repo_root() / "notebooks" / "params" / f"01_sparse_attention_tradeoffs.{profile}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no study-01 parameter profile {profile!r}")
    return sparse_attention.Config.from_overrides(**yaml.safe_load(path.read_text()))


COMPRESSIONS = ("label", "achieved")


def check_compression(compression: str) -> None:
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression: {compression!r} is not one of {', '.join(COMPRESSIONS)}")


def law_data(cells: pd.DataFrame, exclude: list, min_dense: float = 0.0,
             compression: str = "label") -> pd.DataFrame:
    """The law's rows from study 01's cells (methods in `exclude` left out).

    `compression="label"` (the v1 form): accuracy per (phase, model, length, C, task), mean over
    the methods, C the grid's level; tasks whose dense accuracy (mean over models and lengths)
    is below `min_dense` are dropped. `compression="achieved"`: one row per (phase, method,
    model, length, level, task) with C the cell's achieved (effective) compression (a
    calibrated grid's level is its target; the pooled law is fitted on every method's rows,
    `claims.method_fits` fits each method alone); units (phase, model, length, task) whose
    dense accuracy is below `min_dense` are dropped, and so are the levels a method was not
    scored at in every one of its remaining units: an adaptive grid scores a level above the
    anchors only where the bisection reached it, so keeping those rows would select on the
    outcome. Level-1 rows are dense for every method (C = 1).
    """
    check_compression(compression)
    if compression == "label":
        dense = cells[cells.method == "dense"].groupby("task")["accuracy"].mean()
        keep = dense[dense >= min_dense].index
        d = cells[~cells.method.isin(exclude) & cells.task.isin(keep)]
        return (d.groupby(["phase", "model", "n_params", "length", "level", "task"])["accuracy"].mean()
                .reset_index().rename(columns={"level": "compression"}))
    unit = ["phase", "model", "length", "task"]
    dense = cells[cells.method == "dense"].set_index(unit)["accuracy"]
    d = cells[~cells.method.isin(exclude)]
    ok = dense.reindex(pd.MultiIndex.from_frame(d[unit])).to_numpy(float) >= min_dense
    cols = ["phase", "method", "model", "n_params", "length", "level", "task", "accuracy",
            "effective_compression"]
    out = d.loc[ok, cols].rename(columns={"effective_compression": "compression"})
    out.loc[out.level == 1, "compression"] = 1.0
    units = out.groupby(["phase", "method"])[["model", "length", "task"]].apply(
        lambda g: len(g.drop_duplicates()))
    seen = out.groupby(["phase", "method", "level"])[["model", "length", "task"]].apply(
        lambda g: len(g.drop_duplicates()))
    complete = seen[seen.to_numpy() == units.reindex(seen.index.droplevel("level")).to_numpy()]
    out = out.set_index(["phase", "method", "level"]).loc[lambda f: f.index.isin(complete.index)]
    out = out.reset_index()[cols[:-1] + ["compression"]]
    return out.sort_values(["phase", "method", "model", "length", "level", "task"]).reset_index(drop=True)


def run(cfg: Config) -> Results:
    """Study 01's grid (run if not cached) reduced to scaling-law rows."""
    from .. import sparse_attention

    check_compression(cfg.compression)  # before study 01's grid is loaded or built

    # study 01's grid runs (or is read) with this notebook's sweep executor
    grid = sparse_attention.run(replace(grid_config(cfg.grid), executor=cfg.executor,
                                        scheduler=cfg.scheduler))
    return Results(law_data(grid.cells, list(cfg.exclude_methods), cfg.min_dense_accuracy,
                            cfg.compression), grid)


def _phase(res: Results, phase: str) -> pd.DataFrame:
    return res.data[res.data.phase == phase].reset_index(drop=True)


def _held_by(df: pd.DataFrame, axis: str) -> str | None:
    """Column whose largest value is held out: the level for C on achieved compression."""
    return "level" if axis == "C" and "level" in df else None


def _varying_axes(df: pd.DataFrame) -> list[str]:
    return [a for a, col in scaling.fit.AXES.items() if df[col].nunique() > 1]


def table_coefficients(res: Results, cfg: Config) -> pd.DataFrame:
    """alpha, beta, gamma and the in-sample R^2 per phase (fit on every row); their
    model-cluster bootstrap CIs are in the claims (`claims.evaluate`)."""
    rows = []
    for phase in ("prefill", "decode"):
        df = _phase(res, phase)
        if df.empty:
            continue
        fit = scaling.fit_scaling_law(df, link=cfg.link, eps=cfg.eps)
        r2_in = scaling.r2(df.accuracy.to_numpy(float), fit.predict(df))
        fixed = {"alpha": "N", "beta": "L", "gamma": "C"}
        for name in ("alpha", "beta", "gamma"):
            # one value on the axis: not identifiable (absorbed by delta)
            est = getattr(fit, name) + 0.0 if fixed[name] in _varying_axes(df) else np.nan
            rows.append({"phase": phase, "coef": name, "estimate": est, "paper_sign": PAPER_SIGNS[name],
                         "r2_in_sample": r2_in})
    return pd.DataFrame(rows, columns=["phase", "coef", "estimate", "paper_sign", "r2_in_sample"])


def table_holdout(res: Results, cfg: Config) -> pd.DataFrame:
    """R^2 on the held-out largest value of each axis, per phase (the law alone; its skill over
    the axis-dropping null is in `claims.evaluate`)."""
    rows = []
    for phase in ("prefill", "decode"):
        df = _phase(res, phase)
        for axis in _varying_axes(df):
            h = scaling.holdout(df, axis, link=cfg.link, eps=cfg.eps, by=_held_by(df, axis))
            rows.append({"phase": phase, "axis": axis, "held_out": h["held_out"], "n_train": h["n_train"],
                         "n_test": h["n_test"], "r2": h["r2"]})
    return pd.DataFrame(rows, columns=["phase", "axis", "held_out", "n_train", "n_test", "r2"])


def table_spearman(res: Results, cfg: Config) -> pd.DataFrame:
    """Per-task Spearman rho (and p) between predicted and observed held-out accuracy."""
    rows = []
    for phase in ("prefill", "decode"):
        df = _phase(res, phase)
        for axis in _varying_axes(df):
            h = scaling.holdout(df, axis, link=cfg.link, eps=cfg.eps, by=_held_by(df, axis))
            rows += [{"phase": phase, "axis": axis, "task": t, "rho": r, "p": p}
                     for t, (r, p) in h["spearman"].items()]
    return pd.DataFrame(rows, columns=["phase", "axis", "task", "rho", "p"])


def table_iso_error(res: Results, cfg: Config) -> pd.DataFrame:
    """Budget fraction / tokens needed for each target relative error, per phase and length.

    Budget = 1/C of the largest grid level C whose relative error stays within the target
    (coarse: only the swept levels; 1.0 where only dense does); `capped`: that C is the grid's
    largest, so the true budget may be smaller (`claims.budget_tokens`, as the claim reads it).
    """
    from .claims import budget_tokens

    rows = []
    for phase in ("prefill", "decode"):
        df = _phase(res, phase)
        if df.empty:
            continue
        for target in cfg.target_errors:
            b = budget_tokens(df, float(target))
            rows += [{"phase": phase, "target": float(target), **r} for r in b.to_dict("records")]
    return pd.DataFrame(rows, columns=["phase", "target", "length", "budget_fraction", "budget_tokens",
                                       "capped"])


def table_iso_error_fit(res: Results, cfg: Config) -> pd.DataFrame:
    """Exponent k of budget_tokens ~ a * L^k per phase and target (k < 1: sub-linear)."""
    iso = table_iso_error(res, cfg).dropna()
    rows = []
    for (phase, target), g in iso.groupby(["phase", "target"]):
        if g.length.nunique() < 2:
            continue
        k, a = scaling.fit_power(g.length.to_numpy(float), g.budget_tokens.to_numpy(float))
        rows.append({"phase": phase, "target": target, "k": k, "a": a, "n_lengths": g.length.nunique()})
    # k's CI and the verdict (k < 1) are the claim `02.budget_sublinear` (model-cluster bootstrap)
    return pd.DataFrame(rows, columns=["phase", "target", "k", "a", "n_lengths"])


def plot_holdout(res: Results, cfg: Config):
    """Predicted vs observed accuracy on each held-out axis, per phase."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), squeeze=False)
    for i, phase in enumerate(("prefill", "decode")):
        df = _phase(res, phase)
        for j, axis in enumerate(scaling.fit.AXES):
            ax = axes[i, j]
            if axis not in _varying_axes(df):
                ax.axis("off")
                continue
            h = scaling.holdout(df, axis, link=cfg.link, eps=cfg.eps, by=_held_by(df, axis))
            test = df[df[_held_by(df, axis) or scaling.fit.AXES[axis]] == h["held_out"]]
            for task, g in test.groupby("task"):
                ax.scatter(h["fit"].predict(g), g.accuracy, s=12, label=task)
            ax.plot([0, 1], [0, 1], "k:", lw=0.8)
            ax.set(title=f"{phase}: hold out {axis}={h['held_out']:g} (R2 {h['r2']:.2f})",
                   xlabel="predicted", ylabel="observed", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    if axes[0, 0].get_legend_handles_labels()[0]:  # an axis held out in the first panel
        axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_iso_error(res: Results, cfg: Config):
    """Budget tokens needed for each target relative error vs length (log-log)."""
    import matplotlib.pyplot as plt

    iso = table_iso_error(res, cfg).dropna()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (phase, target), g in iso.groupby(["phase", "target"]):
        ax.plot(g.length, g.budget_tokens, marker="o", label=f"{phase}, rel. error <= {target:g}")
    if len(iso):
        ls = np.array(sorted(iso.length.unique()), dtype=float)
        ax.plot(ls, ls / ls[0] * iso.budget_tokens.min(), "k:", lw=0.8, label="linear in L")
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no length with a dense accuracy > 0", ha="center", transform=ax.transAxes)
    ax.set(xscale="log", yscale="log", xlabel="length L", ylabel="budget (tokens) = L / C")
    fig.tight_layout()
    return fig


def metrics(res: Results, cfg: Config) -> dict:
    """Flat keys: coef/<phase>/<name>, r2_holdout/<phase>/<axis>, spearman/<phase>/<axis>/<task>, ..."""
    out = {"n_rows/prefill": int((res.data.phase == "prefill").sum()),
           "n_rows/decode": int((res.data.phase == "decode").sum())}
    for r in table_coefficients(res, cfg).itertuples():
        out[f"coef/{r.phase}/{r.coef}/estimate"] = r.estimate
        out[f"r2_in_sample/{r.phase}"] = r.r2_in_sample
    for r in table_holdout(res, cfg).itertuples():
        out[f"r2_holdout/{r.phase}/{r.axis}"] = r.r2
    for r in table_spearman(res, cfg).itertuples():
        out[f"spearman_rho/{r.phase}/{r.axis}/{r.task}"] = r.rho
        out[f"spearman_p/{r.phase}/{r.axis}/{r.task}"] = r.p
    for r in table_iso_error(res, cfg).itertuples():
        out[f"budget_fraction/{r.phase}/err={r.target:g}/L={r.length:g}"] = r.budget_fraction
    for r in table_iso_error_fit(res, cfg).itertuples():
        out[f"budget_exponent/{r.phase}/err={r.target:g}"] = r.k
    return out


def headline(res: Results, cfg: Config) -> dict:
    ho = table_holdout(res, cfg)
    co = table_coefficients(res, cfg)
    out = {}
    for phase in ("prefill", "decode"):
        h = ho[ho.phase == phase]
        if len(h):
            out[f"mean_holdout_r2/{phase}"] = float(h.r2.mean())
        g = co[(co.phase == phase) & (co.coef == "gamma")]
        if len(g):
            out[f"gamma/{phase}"] = float(g.estimate.iloc[0])
    return out
