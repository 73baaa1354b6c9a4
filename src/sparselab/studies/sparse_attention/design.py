"""Study 01's design record (issue 14): `reports/01_sparse_attention_tradeoffs/design.json`.

Keys: `lengths`; `models` [{name, n_params, seeds}]; `attention_share_at_max_length`
{model: share of a dense prefill's FLOPs spent in attention at the model's longest length,
from `models.lm.prefill_flops`}; `calibration` [{model, length, method, phase, target_C,
achieved_C (null: unreachable), achieved_p10, achieved_p90}] and `prefill_seconds`
[{model, length, method, C, seconds}] (median wall time of one single-prompt prefill, selection
included, one thread; dense and each prefill method at its calibrated budgets, side by side in
one run). Also `budgets` and `decode_protocol`, the design options the numbers come from.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ...models.lm import CONFIGS, LONG_FAMILY, LMConfig, TinyLM
from .claims import REAL_EXCLUDE
from .config import Config
from .grid import PAPER_GRANULARITY_LENGTH, _attention_share

TIMED_METHODS = ("block_sparse", "vertical_slash", "flexprefill")  # the paper's prefill methods
TIMING_ARTIFACT = "01_sparse_attention/prefill_seconds"
TIMING_VERSION = 1
MIN_ATTENTION_SHARE = 0.5  # issue 14: attention >= 50 % of prefill FLOPs at the longest length


def attention_shares(names, lengths, vocab_size: int = 304, tied: bool = False) -> pd.DataFrame:
    """Attention's share of dense prefill FLOPs (`grid._attention_share`, i.e. the repo's
    `prefill_flops`) per family member (rows) and length (columns), with non-embedding
    parameters, depth, width and head_dim. The suite recipe trains with an untied readout."""
    rows = []
    for name in names:
        cfg = LMConfig(**{**CONFIGS.get(name).__dict__, "vocab_size": vocab_size, "tied": tied})
        row = {"model": name, "n_params": TinyLM(cfg).n_params(), "n_layers": cfg.n_layers,
               "d_model": cfg.d_model, "head_dim": cfg.head_dim}
        row.update({f"L={n}": _attention_share(cfg, int(n)) for n in lengths})
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def long_family_table(lengths=(512, 1024, 2048, 4096)) -> pd.DataFrame:
    """`attention_shares` of the long-context family (`models.lm.LONG_FAMILY`)."""
    return attention_shares(LONG_FAMILY, lengths)


def _budget_method(phase: str, method: str, length: int, budget: dict | None, level: float,
                   flex_alpha: dict, backend: str):
    from .calibrate import calibrated_method
    from .grid import build_method

    if budget is None:
        return build_method(phase, method, level, length, flex_alpha, backend)
    return calibrated_method(phase, method, length, budget, backend)


def time_prefill(model, x, method, repeats: int) -> float:
    """Median seconds of `repeats` prefills of x (1, T) with `method` (after one warm-up)."""
    model.prefill(x, method, obs_window=1)
    times = []
    for _ in range(int(repeats)):
        t0 = time.perf_counter()
        model.prefill(x, method, obs_window=1)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def prefill_seconds(cfg: Config, models: dict, calibration: pd.DataFrame | None) -> pd.DataFrame:
    """Wall time per (model, length, method, C): dense and each timed prefill method at every
    target (calibrated budgets; the labels otherwise), on the seed-0 model of each size, one
    prompt (the first task's first test prompt), one thread, the kernel backend."""
    import torch

    from ...attention import PREFILL
    from ...tasks.suite import build_tasks
    from .pipeline import PREFILL_BACKEND, model_lengths

    torch.set_num_threads(1)
    rows = []
    for name in cfg.models:
        model = models[name][0]
        for length in model_lengths(cfg, name):
            task = build_tasks([cfg.tasks[0]], int(length))[0]
            x = torch.from_numpy(task.sample(0, "test").prompt[None])  # (1, T)
            plan = [("dense", 1.0, None)]
            for m in (m for m in cfg.prefill_methods if m in TIMED_METHODS):
                for c in sorted({float(c) for c in cfg.prefill_compressions if float(c) > 1}):
                    budget = None
                    if calibration is not None and not calibration.empty:
                        hit = calibration[(calibration.model == name) & (calibration.length == length)
                                          & (calibration.method == m) & (calibration.phase == "prefill")
                                          & (calibration.target_C == c) & calibration.achieved_C.notna()]
                        if hit.empty:
                            continue
                        budget = hit.budget.iloc[0]
                    plan.append((m, c, budget))
            for m, c, budget in plan:
                method = (PREFILL.get("dense")() if m == "dense" else
                          _budget_method("prefill", m, int(length), budget, c, cfg.flex_alpha,
                                         PREFILL_BACKEND))
                rows.append({"model": name, "length": int(length), "method": m, "C": c,
                             "seconds": time_prefill(model, x, method, cfg.timing_repeats)})
    return pd.DataFrame(rows, columns=["model", "length", "method", "C", "seconds"])


def timings_table(cfg: Config, models: dict, calibration: pd.DataFrame | None) -> pd.DataFrame:
    """`prefill_seconds` as the committed table artifact `01_sparse_attention/prefill_seconds`
    (a measurement: kept as measured, so a rebuild from artifacts writes the same design.json)."""
    from ...artifacts import get_or_build
    from .pipeline import ARTIFACT_COMMAND, budgets_of, model_lengths

    conf = {"models": {n: models[n][2] for n in cfg.models},
            "lengths": {n: model_lengths(cfg, n) for n in cfg.models},
            "methods": [m for m in cfg.prefill_methods if m in TIMED_METHODS],
            "levels": [float(c) for c in cfg.prefill_compressions], "repeats": cfg.timing_repeats,
            "calibration": [] if calibration is None else budgets_of(calibration)}
    return get_or_build(TIMING_ARTIFACT, conf, lambda: prefill_seconds(cfg, models, calibration),
                        kind="table", version=TIMING_VERSION, command=ARTIFACT_COMMAND)


def table_isocost(res) -> pd.DataFrame:
    """Prefill accuracy (mean over tasks) beside measured prefill seconds per (model, method, C)
    at each timed length: accuracy and speed on one axis (`plot_isocost`, claim 01.isocost)."""
    cols = ["model", "n_params", "length", "method", "C", "seconds", "accuracy"]
    secs = res.prefill_seconds
    if secs is None or secs.empty:
        return pd.DataFrame(columns=cols)
    pre = res.cells[res.cells.phase == "prefill"]
    acc = pre.groupby(["model", "length", "method", "level"])["accuracy"].mean()
    dense = pre[pre.method == "dense"].groupby(["model", "length"])["accuracy"].mean()
    n_params = dict(zip(res.models.model, res.models.n_params))
    rows = []
    for r in secs.itertuples():
        key = (r.model, int(r.length))
        a = dense.get(key) if r.method == "dense" else acc.get((*key, r.method, float(r.C)))
        if a is None or (isinstance(a, float) and np.isnan(a)):
            continue
        rows.append({"model": r.model, "n_params": n_params.get(r.model), "length": int(r.length),
                     "method": r.method, "C": float(r.C), "seconds": float(r.seconds),
                     "accuracy": float(a)})
    return pd.DataFrame(rows, columns=cols)


def plot_isocost(table: pd.DataFrame):
    """Accuracy vs measured prefill seconds at the longest timed length, one marker per model,
    dense filled; a note instead when nothing was timed (timing_repeats = 0)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    if table.empty:
        ax.text(0.5, 0.5, "prefill wall time not measured (timing_repeats = 0)",
                ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
        return fig
    top = table[table.length == table.length.max()]
    markers = dict(zip(sorted(top.model.unique(), key=lambda m: top[top.model == m].n_params.iloc[0]),
                       "osD^v<>ph*"))
    for (model, method), g in top.groupby(["model", "method"]):
        ax.scatter(g.seconds, g.accuracy, marker=markers[model], s=28,
                   facecolors="k" if method == "dense" else "none",
                   edgecolors="k" if method == "dense" else None, label=f"{model} {method}")
    ax.set_xscale("log")
    ax.set_xlabel(f"prefill seconds at L = {int(top.length.max())} (one prompt, one thread)")
    ax.set_ylabel("prefill-phase accuracy (mean over tasks)")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def _num(v):
    return None if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)


def design_record(res, cfg: Config) -> dict:
    """The design record (see the module docstring) of a study run `res`."""
    cells = res.cells
    lengths = sorted(int(n) for n in cells.length.unique()) if len(cells) else []
    fam = res.models
    seeds = {name: cfg.model_seeds(name) for name in cfg.models}
    n_params = dict(zip(fam.model, fam.n_params))
    share = {}
    for name in cfg.models:
        mine = cells[cells.model == name]
        if len(mine):
            share[name] = float(mine[mine.length == mine.length.max()].attention_share.iloc[0])
    cal = []
    for r in res.calibration.itertuples() if len(res.calibration) else []:
        cal.append({"model": r.model, "length": int(r.length), "method": r.method, "phase": r.phase,
                    "target_C": float(r.target_C), "achieved_C": _num(r.achieved_C),
                    "achieved_p10": _num(r.achieved_p10), "achieved_p90": _num(r.achieved_p90)})
    secs = [{"model": r.model, "length": int(r.length), "method": r.method, "C": float(r.C),
             "seconds": float(r.seconds)} for r in res.prefill_seconds.itertuples()]
    return {"lengths": lengths, "budgets": cfg.budgets, "decode_protocol": cfg.decode_protocol,
            "paper_granularity_from_length": PAPER_GRANULARITY_LENGTH,
            "models": [{"name": n, "n_params": int(n_params[n]) if n in n_params else None,
                        "seeds": seeds[n]} for n in cfg.models],
            "attention_share_at_max_length": share, "calibration": cal, "prefill_seconds": secs}


def check_design(d: dict) -> list[str]:
    """What a long design still misses against issue 14's numbers (empty when none)."""
    out = []
    if len(d["lengths"]) < 4 or (d["lengths"] and max(d["lengths"]) < 2048):
        out.append(f"lengths {d['lengths']}: need >= 4 on a x2 grid, the longest >= 2048")
    sizes = [m["n_params"] for m in d["models"] if m["n_params"]]
    if len(sizes) < 6 or max(sizes) < 8 * min(sizes):
        out.append(f"models: {len(sizes)} sizes spanning {max(sizes) / min(sizes) if sizes else 0:.1f}x "
                   "(need >= 6 spanning >= 8x)")
    if sum(len(m["seeds"]) >= 2 for m in d["models"]) < 3:
        out.append("seeds: need >= 2 training seeds for >= 3 sizes")
    low = {m: s for m, s in d["attention_share_at_max_length"].items() if s < MIN_ATTENTION_SHARE}
    if low:
        out.append(f"attention share below {MIN_ATTENTION_SHARE:.0%} at the longest length: {low}")
    return out


def table_design(d: dict) -> pd.DataFrame:
    """The models of a design record with their attention share at the longest length."""
    t = pd.DataFrame(d["models"]).set_index("name")
    t["seeds"] = t.seeds.map(len)
    t["attention_share_at_max_length"] = pd.Series(d["attention_share_at_max_length"])
    return t


def table_granularity(cfg: Config) -> pd.DataFrame:
    """Each method's window arguments (all but its budget) per length: the deviations from the
    paper's granularity below `PAPER_GRANULARITY_LENGTH`, stated per length (issue 14)."""
    from .grid import base_kwargs

    rows = {}
    for phase, methods in (("prefill", cfg.prefill_methods), ("decode", cfg.decode_methods)):
        for m in methods:
            if m in REAL_EXCLUDE:  # dense and the oracle have no windows
                continue
            rows[(phase, m)] = {int(n): ", ".join(f"{k} {v}" for k, v in sorted(base_kwargs(phase, m, int(n)).items()))
                                or "-" for n in cfg.lengths}
    t = pd.DataFrame.from_dict(rows, orient="index")
    t.index.names = ["phase", "method"]
    return t


def table_calibration(calibration: pd.DataFrame) -> pd.DataFrame:
    """Achieved C per (model, length, phase, method) x target C (NaN: unreachable)."""
    if calibration.empty:
        note = "labels: the grid levels are the methods' budget arguments, not calibrated targets"
        return pd.DataFrame({"budgets": [note]})
    key = ["model", "length", "phase", "method"]
    t = calibration.pivot_table(index=key, columns="target_C", values="achieved_C", dropna=False)
    # only the calibrated (model, length, phase, method) rows: a pivot's cross product would add
    # a row for every method in both phases, whose empty cells would read as "unreachable"
    return t.loc[pd.MultiIndex.from_frame(calibration[key].drop_duplicates())]


def save_design(d: dict, folder) -> Path:
    """`<folder>/design.json`, key-sorted, floats to 6 significant digits."""
    from ...cache import atomic_write_text
    from ...claims import round_sig

    path = Path(folder) / "design.json"
    atomic_write_text(path, json.dumps(round_sig(d), indent=2, sort_keys=True) + "\n")
    return path
