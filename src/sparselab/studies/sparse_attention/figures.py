"""Figures of study 01 (matplotlib; each function returns the figure)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def _methods_palette(methods) -> dict:
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10")
    return {m: cmap(i % 10) for i, m in enumerate(sorted(methods))}


def plot_accuracy_vs_compression(acc: pd.DataFrame, phase: str):
    """Accuracy with CI bands vs C, one panel per task, one line per method (`table_accuracy`)."""
    import matplotlib.pyplot as plt

    tasks = sorted(acc.task.unique())
    cols = min(3, len(tasks))
    rows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False, sharey=True)
    pal = _methods_palette(acc.method.unique())
    for ax, task in zip(axes.flat, tasks):
        t = acc[acc.task == task]
        dense = t[t.method == "dense"]
        for m, g in t[t.method != "dense"].groupby("method"):
            g = g.sort_values("C")
            ax.plot(g.C, g.accuracy, marker="o", ms=3, color=pal[m], label=m)
            ax.fill_between(g.C, g.ci_low, g.ci_high, color=pal[m], alpha=0.12)
        if len(dense):
            ax.axhline(float(dense.accuracy.iloc[0]), color="k", ls="--", lw=1, label="dense")
        ax.set_xscale("log", base=2)
        ax.set_title(task)
        ax.set_xlabel("compression C")
        ax.set_ylim(-0.02, 1.02)
    for ax in axes.flat[len(tasks):]:
        ax.axis("off")
    axes[0, 0].set_ylabel("accuracy")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{phase}: accuracy vs compression (95% CI; pooled over models and lengths)")
    fig.tight_layout()
    return fig


def plot_sparsity(sp: pd.DataFrame):
    """Effective vs nominal sparsity per method and phase (`table_sparsity`)."""
    import matplotlib.pyplot as plt

    phases = sorted(sp.phase.unique())
    fig, axes = plt.subplots(1, len(phases), figsize=(5 * len(phases), 4), squeeze=False)
    pal = _methods_palette(sp.method.unique())
    for ax, phase in zip(axes.flat, phases):
        for m, g in sp[sp.phase == phase].groupby("method"):
            ax.plot(g.nominal_sparsity, g.effective_sparsity, marker="o", color=pal[m], label=m)
        ax.plot([0, 1], [0, 1], color="k", lw=0.8, ls=":")
        ax.set(xlabel="nominal sparsity", ylabel="effective sparsity", title=phase, xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_isoflops(iso: pd.DataFrame, phase: str):
    """Accuracy vs per-sample inference FLOPs per length: dense family line vs sparse points."""
    import matplotlib.pyplot as plt

    lengths = sorted(iso.length.unique())
    fig, axes = plt.subplots(1, len(lengths), figsize=(4.5 * len(lengths), 3.6), squeeze=False, sharey=True)
    models = list(iso.drop_duplicates("model").sort_values("n_params").model)
    cmap = plt.get_cmap("viridis")
    colors = {m: cmap(i / max(1, len(models) - 1)) for i, m in enumerate(models)}
    for ax, length in zip(axes.flat, lengths):
        g = iso[iso.length == length]
        dense = g[g.level == 1].drop_duplicates("model").sort_values("n_params")
        ax.plot(dense.flops, dense.accuracy, "k-o", label="dense (model sizes)")
        sp = g[(g.phase == phase) & (g.level > 1)]
        for m in models:
            s = sp[sp.model == m]
            ax.scatter(s.flops, s.accuracy, s=10, color=colors[m], alpha=0.7, label=f"{m} sparse")
        ax.set_xscale("log")
        ax.set(title=f"L = {length}", xlabel="FLOPs per sample")
    axes[0, 0].set_ylabel("mean accuracy over tasks")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"isoFLOPS, {phase} sparsity")
    fig.tight_layout()
    return fig


def plot_max_compression(per: pd.DataFrame):
    """Largest non-inferior C per model, one line per (phase, method) (`table_max_compression_methods`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, phase in zip(axes, ("prefill", "decode")):
        if per.empty or phase not in per.index.get_level_values(0):
            ax.axis("off")
            continue
        t = per.loc[phase]
        for m, row in t.iterrows():
            ax.plot(range(len(row)), row.values, marker="o", label=m)
        ax.set_xticks(range(len(t.columns)), t.columns)
        ax.set_yscale("log", base=2)
        ax.set(title=phase, xlabel="model (small to large)", ylabel="max non-inferior C")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
