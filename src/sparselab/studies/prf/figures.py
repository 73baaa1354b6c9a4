"""Study 03's figures: effectiveness vs alpha per placement, both-vs-post per query, PRF depth
sensitivity, latency. Grid curves are descriptive (test queries, or all queries under CV); the
settings reported in the main table were chosen without them."""
from __future__ import annotations

import pandas as pd

STYLE = {"interp": "tab:gray", "pre": "tab:orange", "post": "tab:blue", "both": "tab:green"}
DASH = {0: "-", 1: "--", 2: ":"}


def chosen_prf(ds, method: str) -> str:
    """Name of the PRF setting chosen for `method` (most frequent across folds)."""
    labels = ds.choices.loc[ds.choices["system"] == f"dense+prf/{method}", "label"]
    return ds.specs[labels.mode().iloc[0]].prf.name()


def plot_alpha(res, measure: str = "nDCG@10"):
    """Grid means vs alpha: one panel per (partner, dataset), one colour per placement, one
    line style per PRF method (its chosen setting); `both` uses alpha_fb = alpha_out."""
    import matplotlib.pyplot as plt

    cfg = res.cfg
    names = list(res.datasets)
    fig, axes = plt.subplots(len(cfg.partners), len(names), squeeze=False,
                             figsize=(3.6 * len(names), 2.9 * len(cfg.partners)))
    for i, s in enumerate(cfg.partners):
        for j, name in enumerate(names):
            ds, ax = res.datasets[name], axes[i][j]
            g = ds.grid
            ax.axhline(g.loc[g["pipeline"] == "dense", measure].iloc[0], color="k", lw=0.8,
                       ls=":", label="dense")
            inter = g[(g["pipeline"] == "interp") & (g["sparse"] == s)].sort_values("alpha_out")
            ax.plot(inter["alpha_out"], inter[measure], color=STYLE["interp"], marker=".",
                    label="interp")
            for mi, m in enumerate(cfg.prf_methods):
                sub = g[(g["sparse"] == s) & (g["prf"] == chosen_prf(ds, m))]
                curves = {
                    "pre": sub[sub["pipeline"] == "pre"].sort_values("alpha_fb")[["alpha_fb", measure]],
                    "post": sub[sub["pipeline"] == "post"].sort_values("alpha_out")[["alpha_out", measure]],
                    "both": sub[(sub["pipeline"] == "both") & (sub["alpha_fb"] == sub["alpha_out"])]
                    .sort_values("alpha_out")[["alpha_out", measure]]}
                for pipe, c in curves.items():
                    ax.plot(c.iloc[:, 0], c.iloc[:, 1], color=STYLE[pipe], ls=DASH.get(mi, "-"),
                            marker=".", label=f"{pipe} ({m})")
            ax.set_xscale("symlog", linthresh=0.1)
            ax.set_title(f"{name} / {s} ({'CV, all queries' if 'CV' in ds.protocol else 'test'})",
                         fontsize=9)
            ax.set_xlabel("alpha (weight of the sparse list)")
            ax.set_ylabel(measure)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.12 if len(cfg.partners) == 1 else 0.07, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    return fig


def plot_winloss(res, table: pd.DataFrame):
    """Stacked bars: queries where `both` beats, ties or loses to `post` (from `win_loss`)."""
    import matplotlib.pyplot as plt

    order = {name: i for i, name in enumerate(res.datasets)}
    t = table.assign(_o=table["dataset"].map(order)).sort_values(["_o", "variant"], kind="stable")
    t["row"] = t["dataset"] + " / " + t["variant"]
    fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(t) + 1.2))
    left = 0
    for col, colour in (("wins", "tab:green"), ("ties", "lightgray"), ("losses", "tab:red")):
        ax.barh(t["row"], t[col], left=left, color=colour, label=col)
        left = left + t[col]
    ax.invert_yaxis()
    ax.set_xlabel("queries (both vs post)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_depth(res, measure: str = "nDCG@10"):
    """dense+prf vs PRF depth per dataset (Rocchio at its chosen weights); dense dotted."""
    import matplotlib.pyplot as plt

    names = list(res.datasets)
    fig, axes = plt.subplots(1, len(names), squeeze=False, figsize=(3.4 * len(names), 2.8))
    for ax, name in zip(axes[0], names):
        ds = res.datasets[name]
        g = ds.grid
        ax.axhline(g.loc[g["pipeline"] == "dense", measure].iloc[0], color="k", ls=":", lw=0.8,
                   label="dense")
        for m in res.cfg.prf_methods:
            sub = g[(g["pipeline"] == "dense+prf") & (g["method"] == m)]
            if m == "rocchio":  # the chosen weights, every depth
                keep = chosen_prf(ds, m).split(",", 1)[1]
                sub = sub[sub["prf"].str.endswith(keep)]
            sub = sub.sort_values("depth")
            ax.plot(sub["depth"], sub[measure], marker="o", label=m)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("PRF depth k")
        ax.set_ylabel(measure)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_latency(table: pd.DataFrame):
    """Stacked mean latency per query (ms): encode, search, PRF + fusion (from table_latency)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(table) + 1.2))
    left = 0
    for col, colour in (("encode_ms", "tab:purple"), ("search_ms", "tab:blue"),
                        ("prf+fusion_ms", "tab:orange")):
        ax.barh(table.index, table[col], left=left, color=colour, label=col[:-3])
        left = left + table[col]
    ax.invert_yaxis()
    ax.set_xlabel("mean latency per query (ms, one thread)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_effects(outcome, margin: float):
    """Pooled effect (A - B, CI) of every claim comparison, one panel per block; the cells'
    own mean differences as dots; the equivalence margin dotted."""
    import matplotlib.pyplot as plt

    pooled, cells = outcome.pooled, outcome.cells
    blocks = list(dict.fromkeys(pooled["block"]))
    comps = list(dict.fromkeys(pooled["comparison"]))
    fig, axes = plt.subplots(1, len(blocks), squeeze=False, sharey=True,
                             figsize=(3.2 * len(blocks) + 1.2, 0.45 * len(comps) + 1.3))
    for ax, block in zip(axes[0], blocks):
        p = pooled[pooled["block"] == block].drop_duplicates("comparison").set_index("comparison")
        c = cells[cells["block"] == block]
        for y, comp in enumerate(comps):
            dots = c.loc[c["comparison"] == comp].drop_duplicates("cell")["estimate"]
            ax.plot(dots, [y] * len(dots), "o", color="lightgray", ms=3)
            if comp in p.index:
                r = p.loc[comp]
                ax.errorbar(r["estimate"], y, xerr=[[r["estimate"] - r["ci_low"]],
                                                    [r["ci_high"] - r["estimate"]]],
                            fmt="D", color="k", ms=4, capsize=2)
        ax.axvline(0, color="k", lw=0.6)
        for m in (-margin, margin):
            ax.axvline(m, color="tab:blue", lw=0.6, ls=":")
        ax.set_title(block, fontsize=9)
        ax.set_xlabel("A - B (claims measure)")
    axes[0][0].set_yticks(range(len(comps)), comps)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return fig
