"""Study 01: sparse-attention accuracy/efficiency trade-offs on tiny LMs we train ourselves.

Reproduces in miniature The Sparse Frontier (Nawrot et al. 2025): every prefill and decode
method of `sparselab.attention` at compression ratios C on the task suite, for a family of
models trained by the multi-length suite recipe (`sparselab.models.recipe`). The grid engine
(cells, caching, FLOPs) is `grid`; the tests are `stats`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Config
from .figures import (  # noqa: F401  (re-exported for the notebook)
    plot_accuracy_vs_compression,
    plot_isoflops,
    plot_max_compression,
    plot_sparsity,
)
from .grid import (  # noqa: F401  (evaluate_unit re-exported)
    STAGE,
    VERSION,
    Cell,
    evaluate_unit,
    summarise_row,
    unit_cells,
    unit_rows,
)
from .stats import max_compression, mean_ci
from .workers import publish_weights, score_cell

# Block-layout prefill methods run on the numba CPU kernel (equal to torch within fp32
# tolerance, tested in test_study_sparse_attention, and faster on this CPU).
PREFILL_BACKEND = "kernel"
REAL_METHODS_EXCLUDE = ("dense", "oracle_topk")  # oracle_topk is an upper bound, not a method
# Trained weights are committed as artifacts in fp16: half the bytes of fp32; the grid scores
# the fp16-rounded model in every mode, so reports from artifacts and from training agree.
MODEL_DTYPE = "fp16"
MODEL_ARTIFACT_VERSION = 1  # bump when what a checkpoint artifact holds changes
ARTIFACT_COMMAND = "make report NB=01 PROFILE=full"


@dataclass
class Results:
    """`cells`: one row per (model, length, task, phase, method, level); `models`: the family."""

    cells: pd.DataFrame
    models: pd.DataFrame
    timings: dict = dataclasses.field(default_factory=dict)  # seconds (timings.json, not metrics)
    # calibrated designs: one row per (model, length, phase, method, target C) (`calibrate`)
    calibration: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    # timing_repeats > 0: prefill wall time per (model, length, method, C) (`design`)
    prefill_seconds: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["model", "length", "method", "C", "seconds"]))


def recipe_for(cfg: Config, name: str, seed: int = 0):
    """The cached suite recipe (`SuiteRecipe`) that trains family member `name` with `seed`."""
    from ...models.recipe import SuiteRecipe
    from ...models.trainer import TrainConfig

    for what in ("train_steps", "train_lr", "train_batch", "n_samples"):
        if name not in getattr(cfg, what):
            raise ValueError(f"{what} needs an entry for model {name!r}")
    steps = int(cfg.train_steps[name])
    train = TrainConfig(steps=steps, batch_size=int(cfg.train_batch[name]), lr=float(cfg.train_lr[name]),
                        warmup=min(100, steps), seed=int(seed), ckpt_every=250)
    weights = {str(k): float(v) for k, v in cfg.train_task_weights.items()} or None  # {}: uniform
    return SuiteRecipe(model=name, tasks="all", lengths=tuple(int(n) for n in cfg.train_lengths), train=train,
                       short_frac=float(cfg.train_short_frac), task_weights=weights)


MODEL_STAGE = "sparse_attention_models"


def train_model_cell(cell: dict) -> dict:
    """Sweep cell function: train one family member (`SuiteRecipe.to_dict()`) into the model
    cache (`models/`, which keeps it: the sweep does not cache these cells)."""
    from ...models.recipe import recipe_from_meta, train_suite_model

    folder = train_suite_model(recipe_from_meta({"recipe": cell}), progress=False)
    return {"checkpoint": folder.name}


def pretrain(cfg: Config, progress: bool = True) -> None:
    """Train the family members that will be built (artifact modes `off` and `fresh` build
    every model) and are not in cache/models/ yet, as one sweep (`cfg.executor`, one torch
    thread each); `train_models` then finds their checkpoints."""
    from ...artifacts.build import current_mode
    from ...cache import is_complete
    from ...models.recipe import suite_model_path
    from ...sweeps import run_sweep

    if current_mode() not in ("off", "fresh"):
        return  # committed artifacts decide; whatever is missing is built one by one
    recipes = [recipe_for(cfg, name, seed) for _, name, seed in cfg.instances()]
    missing = [r.to_dict() for r in recipes if not is_complete(suite_model_path(r))]
    if missing:
        run_sweep(train_model_cell, missing, stage=MODEL_STAGE, executor=cfg.executor,
                  scheduler=cfg.scheduler, threads=1, cache=False, desc="study 01 models",
                  progress=progress)


def _trained_state(recipe) -> tuple[dict, dict]:
    """Train (or take from cache/models/) one family member: `(state_dict, meta)`."""
    from ...models.recipe import load_model, train_suite_model

    folder = train_suite_model(recipe)  # its bar shows on the terminal only (sparselab.progress)
    model, meta = load_model(folder)
    info = folder / "recipe.json"
    if info.exists():  # the training history lives next to the checkpoint
        meta = {**meta, **json.loads(info.read_text())}
    return model.state_dict(), meta


def train_models(cfg: Config) -> dict:
    """{instance: (model, meta, model key)}: each model's weights come from the committed
    artifact `01_sparse_attention/models/<slug>` (fp16 safetensors, fingerprinted by the
    recipe) or are trained and cached; see `sparselab.artifacts` for the modes."""
    from ...artifacts import get_or_build
    from ...models.recipe import model_from_state

    out = {}
    for name, size, seed in cfg.instances():
        recipe = recipe_for(cfg, size, seed)
        state, meta = get_or_build(
            f"01_sparse_attention/models/{recipe.slug()}", recipe.to_dict(),
            lambda r=recipe: _trained_state(r), kind="checkpoint", dtype=MODEL_DTYPE,
            command=ARTIFACT_COMMAND, version=MODEL_ARTIFACT_VERSION)
        # the grid's cells are scored with these (fp16-stored) weights: part of their cache key
        out[name] = (model_from_state(state, meta), meta, recipe.to_dict() | {"weights": MODEL_DTYPE})
    return out


def grid_cells(cfg: Config) -> list[Cell]:
    """Every (phase, method, level) of the grid; `dense` only at level 1."""
    cells = []
    for phase, methods, comps in (("prefill", cfg.prefill_methods, cfg.prefill_compressions),
                                  ("decode", cfg.decode_methods, cfg.decode_compressions)):
        for m in methods:
            levels = [1.0] if m == "dense" else [float(c) for c in comps]
            cells += [Cell(phase, m, lvl) for lvl in levels]
    return cells


GRID_ARTIFACT = "01_sparse_attention/grid"
GRID_ARTIFACT_VERSION = 1  # bump when what the grid table holds changes
RAW_COLUMNS = ["model", "n_params", "length", "task", "dispersion", "scope", "phase", "method",
               "level", "scores", "prefill_nominal", "prefill_effective", "decode_nominal",
               "decode_effective"]


def grid_config(cfg: Config, models: dict, calibration: pd.DataFrame | None = None) -> dict:
    """Everything the grid's scores depend on (the grid artifact's fingerprint): the trained
    weights (their recipes), lengths, tasks, methods, levels, samples, backend, protocol.

    The design options of issue 14 (calibrated budgets with their `calibration` table, the
    decode protocol) enter only when they differ from the original design, whose fingerprints
    stay as they were (tests/unit/test_study01_pins.py)."""
    from .grid import VERSION

    names = [inst for inst, _, _ in cfg.instances()]
    sizes = {inst: size for inst, size, _ in cfg.instances()}
    out = {"models": {name: models[name][2] for name in names},
           "lengths": {name: model_lengths(cfg, name) for name in names},
           "tasks": list(cfg.tasks), "cells": [[c.phase, c.method, c.level] for c in grid_cells(cfg)],
           "flex_alpha": {str(k): float(v) for k, v in cfg.flex_alpha.items()},
           "n_samples": {name: int(cfg.n_samples[sizes[name]]) for name in names},
           "backend": PREFILL_BACKEND, "cell_version": VERSION}
    if cfg.budgets != "labels":
        out["budgets"] = cfg.budgets
        out["calibration"] = [] if calibration is None else budgets_of(calibration)
    if cfg.decode_protocol != "answer":
        out["decode_protocol"] = cfg.decode_protocol
    if cfg.search != "grid":
        out["search"] = {"mode": cfg.search, "margin": cfg.margin, "alpha": cfg.alpha}
        if cfg.search == "adaptive":  # bisects only units with dense >= min_dense
            out["search"]["bisect_min_dense"] = cfg.min_dense
    return out


def model_lengths(cfg: Config, instance: str) -> list[int]:
    """Evaluation lengths of a model instance (`model_lengths` is keyed by family member)."""
    size = instance.split("-seed")[0]
    return [int(n) for n in cfg.model_lengths.get(instance, cfg.model_lengths.get(size, cfg.lengths))]


def budgets_of(calibration: pd.DataFrame) -> list[list]:
    """[model, length, phase, method, target C, budget] of every reached target (sorted)."""
    if calibration.empty:
        return []
    ok = calibration[calibration.achieved_C.notna()]
    return sorted([[r.model, int(r.length), r.phase, r.method, float(r.target_C),
                    {k: float(v) for k, v in sorted(r.budget.items())}] for r in ok.itertuples()])


def grid_records(cfg: Config, models: dict, progress: bool = True,
                 calibration: pd.DataFrame | None = None) -> pd.DataFrame:
    """The raw grid: one row per (model, length, task, phase, method, level) with per-sample
    scores and measured sparsity (RAW_COLUMNS). Its cells are one `sparselab.sweeps` sweep
    (`cfg.executor`, one torch thread each, cached one by one: resumable, and the numbers do
    not depend on the backend); workers score the weights published under their sha."""
    from ...sweeps import run_sweep
    from ...tasks.suite import build_tasks

    if cfg.search == "adaptive":
        from .adaptive import adaptive_records

        df = pd.DataFrame(adaptive_records(cfg, models, progress, calibration))
        df["scores"] = [np.asarray(s, dtype=float) for s in df["scores"]]
        return df[RAW_COLUMNS]
    rows = []
    sizes = {inst: size for inst, size, _ in cfg.instances()}
    units = [(name, length) for name in sizes for length in model_lengths(cfg, name)]
    plan, todo = [], []  # plan: (model, length, task, cells, first sweep cell, number of cells)
    weights = {name: publish_weights(name, m[0]) for name, m in models.items()}
    for name, length in units:
        key = models[name][2]
        cells, budgets = unit_design(cfg, calibration, name, int(length))
        for task in build_tasks(list(cfg.tasks), int(length)):
            unit = unit_cells(name, key, weights[name], task, int(cfg.n_samples[sizes[name]]),
                              cells, cfg.flex_alpha, PREFILL_BACKEND, budgets, cfg.decode_protocol)
            plan.append((name, int(length), task, cells, len(todo), len(unit)))
            todo += unit
    res = run_sweep(score_cell, todo, stage=STAGE, version=VERSION, executor=cfg.executor,
                    scheduler=cfg.scheduler, threads=1, desc="study 01 grid", progress=progress)
    for name, length, task, cells, start, k in plan:
        n_params = int(models[name][0].n_params())
        for r in unit_rows(cells, res.rows[start:start + k]):
            rows.append({"model": name, "n_params": n_params, "length": length,
                         **task.labels(), **r})
    df = pd.DataFrame(rows)
    df["scores"] = [np.asarray(s, dtype=float) for s in df["scores"]]
    return df[RAW_COLUMNS]


def unit_design(cfg: Config, calibration: pd.DataFrame | None, model: str,
                length: int) -> tuple[list[Cell], dict | None]:
    """The grid cells of one (model, length) and their budgets: every cell with its label
    (budgets None) in the original design; in a calibrated one each level is a target C, the
    cells whose target the calibration did not reach are left out (they are null in the
    calibration table)."""
    cells = grid_cells(cfg)
    if cfg.budgets == "labels":
        return cells, None
    if calibration is None or calibration.empty:
        raise ValueError("budgets='calibrated' needs the calibration table (pipeline.calibration)")
    cal = calibration[(calibration.model == model) & (calibration.length == length)
                      & calibration.achieved_C.notna()]
    budgets = {Cell(r.phase, r.method, float(r.target_C)): dict(r.budget) for r in cal.itertuples()}
    keep = [c for c in cells if c.method == "dense" or c.level == 1 or c in budgets]
    return keep, budgets


def instance_config(cfg: Config, instance: str) -> Config:
    """The design restricted to one model instance (its family member at that seed; a seed
    k > 0 keeps the name `<member>-seed<k>`): one stage of the `stages: "model"` layout."""
    known = {inst: (size, seed) for inst, size, seed in cfg.instances()}
    if instance not in known:
        raise ValueError(f"instance {instance!r} is not a model of the design; "
                         f"known: {', '.join(known)}")
    size, seed = known[instance]
    return Config.from_overrides(**{**cfg.to_dict(), "models": [size],
                                    "seeds": {size: [seed]} if seed else {}})


def stage_names(cfg: Config, artifact: str) -> list[str]:
    """Artifact names of a calibration or grid table: `artifact` itself in the "one" layout,
    `<artifact>/<instance>` per model instance in the "model" layout."""
    if cfg.stages == "one":
        return [artifact]
    return [f"{artifact}/{inst}" for inst, _, _ in cfg.instances()]


def staged(cfg: Config, models: dict, artifact: str, calibration: pd.DataFrame | None,
           config_fn, build_fn, version: int) -> pd.DataFrame:
    """The table artifact `artifact`, or (`stages: "model"`) one per model instance, each
    fingerprinted by `config_fn(cfg, models, calibration)` of its own instance and loaded or
    built and saved before the next starts, concatenated in the design's order: a long grid
    resumes from the committed stages on another machine."""
    from ...artifacts import get_or_build

    if cfg.stages == "one":
        return get_or_build(artifact, config_fn(cfg, models, calibration),
                            lambda: build_fn(cfg, models, calibration), kind="table",
                            version=version, command=ARTIFACT_COMMAND)
    parts = []
    for name, (inst, _, _) in zip(stage_names(cfg, artifact), cfg.instances()):
        one, sub = instance_config(cfg, inst), {inst: models[inst]}
        cal = None if calibration is None else calibration[calibration.model == inst].reset_index(drop=True)
        parts.append(get_or_build(name, config_fn(one, sub, cal),
                                  lambda one=one, sub=sub, cal=cal: build_fn(one, sub, cal),
                                  kind="table", version=version, command=ARTIFACT_COMMAND))
    return pd.concat(parts, ignore_index=True)


STAGE_KINDS = ("train", "calibration", "grid")


def check_stage(cfg: Config, instance: str, stage: str) -> Config:
    """The one-instance design of `run_stage`, or ValueError naming what is wrong (the stage,
    the instance, a parameter of the design) before any compute."""
    from .checks import check_config

    if stage not in STAGE_KINDS:
        raise ValueError(f"stage: {stage!r} is not one of {', '.join(STAGE_KINDS)}")
    check_config(cfg)
    if stage != "train" and cfg.stages != "model":
        raise ValueError(f"stage {stage!r} of one model needs stages: \"model\" "
                         f"(the design has stages: {cfg.stages!r}, one artifact for every model)")
    if stage == "calibration" and cfg.budgets != "calibrated":
        raise ValueError("stage 'calibration' needs budgets: \"calibrated\"")
    return instance_config(cfg, instance)


def run_stage(cfg: Config, instance: str, stage: str, progress: bool = True) -> None:
    """Build (or load) one resumable stage of one model instance and save it as its committed
    artifact: `train` (the checkpoint), `calibration` (its budgets, after its training) or
    `grid` (its scored cells, after its calibration). `run` then loads the committed stages;
    so a design's CPU-hours spread over sessions and machines (scripts/train_study01.py)."""
    import torch

    one = check_stage(cfg, instance, stage)
    torch.set_num_threads(1)
    models = train_models(one)
    if stage == "train":
        return
    cal = None
    if cfg.budgets == "calibrated":
        from .calibrate import calibration

        cal = calibration(one, models, progress)
    if stage == "grid":
        staged(one, models, GRID_ARTIFACT, cal, grid_config,
               lambda c, m, k: grid_records(c, m, progress, k), GRID_ARTIFACT_VERSION)


def _artifact_wall(names: list[str]) -> float | None:
    """Build wall time recorded in the manifest for artifacts `names`, summed (None if one is
    not committed)."""
    from ...artifacts import ArtifactStore, current_mode

    if current_mode() in ("off", "fresh"):
        return None
    entries = ArtifactStore().entries()  # a bad manifest raises
    walls = [entries.get(n, {}).get("wall_s") for n in names]
    return None if any(w is None for w in walls) else float(sum(walls))


def run(cfg: Config, progress: bool = True) -> Results:
    """Train (or load) the models, then the grid: the committed table artifact
    `01_sparse_attention/grid` (Parquet, per-sample scores) or evaluated cell by cell."""
    import time

    import torch

    from ...tasks.suite import build_tasks
    from .checks import check_config

    check_config(cfg)  # bad input fails here, naming the parameter, before any compute
    torch.set_num_threads(1)  # the machine is shared; one thread per sweep process
    t0 = time.perf_counter()
    pretrain(cfg, progress)
    models = train_models(cfg)
    t1 = time.perf_counter()
    if cfg.budgets == "calibrated":
        from .calibrate import calibration

        cal = calibration(cfg, models, progress)
    else:
        cal = None
    t_cal = time.perf_counter()
    raw = staged(cfg, models, GRID_ARTIFACT, cal, grid_config,
                 lambda c, m, k: grid_records(c, m, progress, k), GRID_ARTIFACT_VERSION)
    t2 = time.perf_counter()
    n_new = {}
    rows = []
    for r in raw.to_dict("records"):
        model = models[r["model"]][0]
        key = (r["task"], r["length"])
        if key not in n_new:
            n_new[key] = build_tasks([r["task"]], int(r["length"]))[0].max_answer_len()
        r["scores"] = [float(x) for x in r["scores"]]
        rows.append(summarise_row(r, model.cfg, int(r["length"]), n_new[key]))
    df = pd.DataFrame(rows)
    ci = [mean_ci(s) for s in df["scores"]]
    df["ci_low"], df["ci_high"] = [c[1] for c in ci], [c[2] for c in ci]
    inst = {name: (size, seed) for name, size, seed in cfg.instances()}
    if len(inst) > len(cfg.models):  # several seeds: which family member and seed each row is
        df["size"] = df.model.map(lambda m: inst[m][0])
        df["seed"] = df.model.map(lambda m: inst[m][1])
    fam = [{"model": name, "n_params": model.n_params(), "d_model": model.cfg.d_model,
            "n_layers": model.cfg.n_layers, "train_steps": int(cfg.train_steps[inst[name][0]]),
            "train_batch": int(cfg.train_batch[inst[name][0]]),
            "seeds": len(cfg.model_seeds(inst[name][0])),
            "final_loss": _final_loss(meta)} for name, (model, meta, _) in models.items()]
    if len(inst) > len(cfg.models):
        for row in fam:
            row["size"], row["seed"] = inst[row["model"]]
    timings = {"models_s": t1 - t0, "grid_s": t2 - t_cal, "grid_artifact_build_s": _artifact_wall(stage_names(cfg, GRID_ARTIFACT))}
    if cal is not None:
        timings["calibration_s"] = t_cal - t1
    out = Results(df, pd.DataFrame(fam).sort_values("n_params").reset_index(drop=True), timings,
                  pd.DataFrame() if cal is None else cal)
    if cfg.timing_repeats > 0:
        from .design import timings_table

        out.prefill_seconds = timings_table(cfg, models, cal)
    return out


def _final_loss(meta: dict) -> float:
    hist = meta.get("history") or []
    return float(hist[-1]["loss"]) if hist else float("nan")


def learned(res: Results, cfg: Config) -> Results:
    """Only the (model, length, task) units whose dense accuracy is >= cfg.min_dense.

    A model that has not learned a task cannot lose accuracy to sparsity, so such units would
    make any compression look 'indistinguishable from dense'; the tests and rankings skip them.
    """
    key = ["model", "length", "task"]
    dense = res.cells[res.cells.method == "dense"].groupby(key)["accuracy"].first()
    ok = dense[dense >= cfg.min_dense].index
    cells = res.cells.set_index(key)
    return Results(cells[cells.index.isin(ok)].reset_index(), res.models)


def table_unlearned(res: Results, cfg: Config) -> pd.DataFrame:
    """The (model, length, task) units kept out of every claim, with the reason: dense accuracy
    below `min_dense` (issue 14: cells under the floor are listed, not silently dropped)."""
    cols = ["model", "length", "task", "dense_accuracy", "reason"]
    d = res.cells[(res.cells.method == "dense") & (res.cells.phase == "prefill")]
    low = d[d.accuracy < cfg.min_dense].drop_duplicates(["model", "length", "task"])
    out = pd.DataFrame({"model": low.model, "length": low.length, "task": low.task,
                        "dense_accuracy": low.accuracy,
                        "reason": [f"dense accuracy {a:.3f} < min_dense {cfg.min_dense:g}"
                                   for a in low.accuracy]}, columns=cols)
    return out.sort_values(["model", "length", "task"]).reset_index(drop=True)


# ----- tables ---------------------------------------------------------------------------------
def table_dense(res: Results) -> pd.DataFrame:
    """Dense accuracy (model x length) per task: what the trained models can do at all."""
    d = res.cells[(res.cells.method == "dense") & (res.cells.phase == "prefill")]
    return d.pivot_table(index=["model", "length"], columns="task", values="accuracy").reindex(
        res.models.model, level=0)


def table_accuracy(res: Results, phase: str) -> pd.DataFrame:
    """Accuracy [CI] per task and method vs level, pooled over models and lengths."""
    d = res.cells[res.cells.phase == phase]
    rows = []
    for (task, method, level), g in d.groupby(["task", "method", "level"]):
        m, lo, hi = mean_ci(np.concatenate(g["scores"].to_list()))
        rows.append({"task": task, "method": method, "C": level, "accuracy": m, "ci_low": lo,
                     "ci_high": hi, "n": int(sum(len(s) for s in g["scores"]))})
    return pd.DataFrame(rows)


def table_accuracy_grid(res: Results) -> pd.DataFrame:
    """Accuracy per (phase, task, method) x C, pooled over models and lengths."""
    acc = pd.concat([table_accuracy(res, p).assign(phase=p) for p in ("prefill", "decode")])
    return acc.pivot_table(index=["phase", "task", "method"], columns="C", values="accuracy")


def table_sparsity(res: Results) -> pd.DataFrame:
    """Mean nominal vs effective sparsity per phase, method and level (C > 1)."""
    d = res.cells[res.cells.level > 1]
    return (d.groupby(["phase", "method", "level"])[["nominal_sparsity", "effective_sparsity"]]
            .mean().reset_index())


def table_isoflops(res: Results) -> pd.DataFrame:
    """Per length: mean accuracy over tasks and per-sample FLOPs of every (model, phase, method, C)."""
    g = res.cells.groupby(["length", "model", "n_params", "phase", "method", "level"])
    return g.agg(accuracy=("accuracy", "mean"), flops=("flops", "mean"),
                 attention_share=("attention_share", "mean")).reset_index()


def table_isoflops_wins(res: Results) -> pd.DataFrame:
    """For each length and dense model: best larger *sparse* model within its FLOPs budget."""
    t = table_isoflops(res)
    rows = []
    for length, g in t.groupby("length"):
        dense = g[g.level == 1].drop_duplicates("model")
        for r in dense.itertuples():
            cand = g[(g.n_params > r.n_params) & (g.level > 1) & (g.flops <= r.flops)]
            best = cand.sort_values("accuracy").iloc[-1] if len(cand) else None
            rows.append({"length": length, "dense_model": r.model, "dense_accuracy": r.accuracy,
                         "dense_flops": r.flops, "attention_share": r.attention_share,
                         "n_candidates": len(cand),
                         "best_sparse": None if best is None else f"{best.model}/{best.phase}/{best.method}/C={best.level:g}",
                         "best_sparse_accuracy": np.nan if best is None else best.accuracy})
    out = pd.DataFrame(rows)
    out["gain"] = out.best_sparse_accuracy - out.dense_accuracy
    return out


def pooled_cells(res: Results) -> pd.DataFrame:
    """Scores pooled over tasks and lengths per (model, phase, method, level), same order."""
    d = res.cells.sort_values(["length", "task"])
    return (d.groupby(["model", "phase", "method", "level"], sort=False)["scores"]
            .apply(lambda s: np.concatenate(s.to_list())).reset_index())


def _achieved(res: Results) -> pd.Series:
    """Mean effective compression per (model, phase, method, level) (level 1: exactly 1)."""
    return res.cells.groupby(["model", "phase", "method", "level"])["effective_compression"].mean()


def table_max_compression(res: Results, margin: float, alpha: float) -> pd.DataFrame:
    """Per model x phase: the largest *achieved* compression at which a real method is non-inferior.

    A method passes up to its `max_level` (grid label); its achieved compression there is the
    measured effective compression (block/page execution, FlexPrefill's adaptive budget), and
    the best method is the one with the largest achieved value.
    """
    p = pooled_cells(res)
    if not (p.level > 1).any():
        return pd.DataFrame()
    per = max_compression(p[p.method != "dense"], margin, alpha)
    real = per[~per.method.isin(REAL_METHODS_EXCLUDE)]
    best = real.groupby(["model", "phase", "method"])["max_level"].first().reset_index()
    ach = _achieved(res)
    best["achieved"] = [1.0 if r.max_level == 1 else float(ach[(r.model, r.phase, r.method, r.max_level)])
                        for r in best.itertuples()]
    best = best.sort_values("achieved").groupby(["model", "phase"]).tail(1)
    out = best.pivot(index="model", columns="phase", values="achieved")
    lvl = best.pivot(index="model", columns="phase", values="max_level").add_prefix("level_")
    who = best.pivot(index="model", columns="phase", values="method").add_prefix("method_")
    return out.join(lvl).join(who).reindex(res.models.model)


def table_max_compression_methods(res: Results, margin: float, alpha: float) -> pd.DataFrame:
    """Largest non-inferior C per (model, phase, method), every method (oracle included)."""
    if res.cells.empty:
        return pd.DataFrame()
    p = pooled_cells(res)
    per = max_compression(p[p.method != "dense"], margin, alpha)
    t = per.groupby(["phase", "method", "model"])["max_level"].first().unstack("model")
    return t[[m for m in res.models.model if m in t.columns]]


def table_ranking(res: Results) -> pd.DataFrame:
    """Mean accuracy over C > 1 (all models and lengths) per phase, task type and method; rank 1 = best."""
    cols = ["phase", "task_type", "method", "accuracy", "rank"]
    if res.cells.empty:
        return pd.DataFrame(columns=cols)
    d = res.cells[(res.cells.level > 1) & (res.cells.method != "oracle_topk")].copy()
    if d.empty:  # nothing learned / no sparse level: an empty table, not a crash
        return pd.DataFrame(columns=cols)
    d["task_type"] = "dispersion=" + d.dispersion + ", scope=" + d.scope
    t = d.groupby(["phase", "task_type", "method"])["accuracy"].mean().reset_index()
    t["rank"] = t.groupby(["phase", "task_type"])["accuracy"].rank(ascending=False, method="min")
    return t.sort_values(["phase", "task_type", "rank"]).reset_index(drop=True)


def table_relative_error(res: Results) -> pd.DataFrame:
    """Relative error (dense - sparse) / dense per phase, length and level (mean over models,
    tasks and real methods; cells whose dense accuracy is 0 are skipped)."""
    if res.cells.empty:
        return pd.DataFrame()
    d = res.cells[~res.cells.method.isin(REAL_METHODS_EXCLUDE)]
    key = ["model", "length", "task", "phase"]
    dense = res.cells[res.cells.method == "dense"].groupby(key)["accuracy"].first().rename("dense")
    d = d.join(dense, on=key)
    d = d[d.dense > 0]
    d["rel_error"] = (d.dense - d.accuracy) / d.dense
    return d.groupby(["phase", "length", "level"])["rel_error"].mean().unstack("level")


def metrics(res: Results, cfg: Config) -> dict:
    """Every table number under flat keys, e.g. `acc/prefill/vertical_slash/C=8/niah_single/m/L=512`."""
    out = {"margin": cfg.margin, "alpha": cfg.alpha}
    out.update({f"n_samples/{m}": n for m, n in cfg.n_samples.items()})
    for r in res.cells.itertuples():
        k = f"{r.phase}/{r.method}/C={r.level:g}/{r.task}/{r.model}/L={r.length}"
        out[f"acc/{k}"], out[f"ci_low/{k}"], out[f"ci_high/{k}"] = r.accuracy, r.ci_low, r.ci_high
        out[f"effective_sparsity/{k}"], out[f"flops/{k}"] = r.effective_sparsity, r.flops
    for r in table_sparsity(res).itertuples():
        out[f"sparsity_nominal/{r.phase}/{r.method}/C={r.level:g}"] = r.nominal_sparsity
        out[f"sparsity_effective/{r.phase}/{r.method}/C={r.level:g}"] = r.effective_sparsity
    for r in res.models.itertuples():
        out[f"n_params/{r.model}"] = r.n_params
    lrn = learned(res, cfg)
    mc = table_max_compression(lrn, cfg.margin, cfg.alpha)
    for model, row in mc.iterrows():
        for phase in ("prefill", "decode"):
            if phase in row:
                out[f"max_C/{phase}/{model}"] = row[phase]
    per = table_max_compression_methods(lrn, cfg.margin, cfg.alpha)
    for (phase, method), row in per.iterrows():
        for model, v in row.items():
            out[f"max_C/{phase}/{method}/{model}"] = v
    for r in table_isoflops_wins(res).itertuples():
        out[f"isoflops_gain/L={r.length}/{r.dense_model}"] = r.gain
    for r in table_ranking(lrn).itertuples() if len(lrn.cells) else []:
        out[f"rank/{r.phase}/{r.task_type}/{r.method}"] = r.rank
    rel = table_relative_error(lrn)
    for (phase, length), row in rel.iterrows():
        for lvl, v in row.items():
            out[f"rel_error/{phase}/C={lvl:g}/L={length}"] = v
    return out


def headline(res: Results, cfg: Config) -> dict:
    """2-4 numbers for the reports index."""
    mc = table_max_compression(learned(res, cfg), cfg.margin, cfg.alpha).dropna(how="all")
    out = {"models": len(res.models), "cells": len(res.cells)}
    if not mc.empty:
        big = mc.index[-1]  # largest model that learned something
        for phase in ("prefill", "decode"):
            if phase in mc.columns:
                out[f"max_C/{phase}/{big}"] = mc.loc[big, phase]
    return out

