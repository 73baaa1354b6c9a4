"""The pilot of issue 14's long design: measure one model at the longest length, extrapolate.

`run_pilot(cfg, model, steps)` trains family member `model` for `steps` steps of its recipe
(into a scratch folder: a pilot budget is not the design's), then at the longest length
calibrates one prefill and one decode method and scores one grid cell per phase with the
calibrated budgets, timing each. `estimate(cfg, measured)` scales those seconds to every
(model instance, length) of the design by FLOPs (`models.lm.prefill_flops`; training steps by
the curriculum's mix of lengths) and counts the design's cells, giving CPU hours per stage
(train, calibration, grid) for one core. The numbers are for the issue note; the script is
`scripts/pilot_study01.py`.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...models.lm import CONFIGS, prefill_flops
from .config import Config


def _shape(name: str):
    return replace(CONFIGS.get(name.split("-seed")[0]), tied=False)


def step_flops(name: str, cfg: Config) -> float:
    """Forward+backward FLOPs (3x forward) of one training step of `name` under the suite
    recipe: each step trains `batch * shortest / L` samples at one length (the first
    `train_short_frac` of steps at the shortest, then uniform over `train_lengths`)."""
    lengths = sorted(int(n) for n in cfg.train_lengths)
    batch = int(cfg.train_batch[name.split("-seed")[0]])
    per = [3 * max(1, batch * lengths[0] // n) * prefill_flops(_shape(name), n) for n in lengths]
    return cfg.train_short_frac * per[0] + (1 - cfg.train_short_frac) * float(np.mean(per))


def design_counts(cfg: Config) -> dict:
    """Cells of the design per (instance, length): grid cells (tasks x (dense + sparse
    levels)) and calibrated (phase, method) pairs."""
    from .pipeline import grid_cells, model_lengths

    sparse = [c for c in grid_cells(cfg) if c.level != 1 and c.method != "dense"]
    out = {}
    for inst, _, _ in cfg.instances():
        for n in model_lengths(cfg, inst):
            out[(inst, int(n))] = {
                "grid_cells": len(cfg.tasks) * (1 + len(sparse)),
                "calibrations": {"prefill": len([m for m in cfg.prefill_methods if m != "dense"]),
                                 "decode": len([m for m in cfg.decode_methods if m != "dense"])}}
    return out


def estimate(cfg: Config, measured: dict, trained: dict | None = None) -> dict:
    """CPU hours per stage for the whole design, from a pilot's `measured` seconds (see
    `run_pilot`): each stage's seconds scaled by the FLOPs ratio to the pilot's model/length.
    With `trained` (a `train_and_score` result under `cfg`'s recipe), the training stage is
    scaled from that full run instead (its seconds per step, same curriculum)."""
    ref, ref_len = measured["model"], int(measured["length"])
    if trained is not None:
        t_ref, t_per_step = trained["model"], trained["train_s"] / int(trained["steps"])
    else:
        t_ref, t_per_step = ref, measured["train_s_per_step"]
    ref_step = step_flops(t_ref, cfg)
    ref_pre = prefill_flops(_shape(ref), ref_len)
    train = sum(int(cfg.train_steps[size]) * t_per_step * step_flops(inst, cfg) / ref_step
                for inst, size, _ in cfg.instances())
    cal = grid = 0.0
    for (inst, n), c in design_counts(cfg).items():
        scale = prefill_flops(_shape(inst), n) / ref_pre
        for phase in ("prefill", "decode"):
            cal += c["calibrations"][phase] * measured["calibration_s"][phase] * scale
        grid += c["grid_cells"] * float(np.mean(list(measured["cell_s"].values()))) * scale
    hours = {"train_h": train / 3600, "calibration_h": cal / 3600, "grid_h": grid / 3600}
    hours["total_h"] = sum(hours.values())
    return hours


def run_pilot(cfg: Config, model: str, steps: int, length: int | None = None,
              folder: Path | None = None, progress: bool = False) -> dict:
    """Measured seconds of one pilot (see the module docstring): train_s_per_step,
    calibration_s {phase: seconds of one method's calibration}, calibration_evals,
    cell_s {phase: seconds of one grid cell}, and `estimate`'s hours."""
    import torch

    from ...models.recipe import load_model, train_suite_model
    from ...tasks.suite import build_tasks
    from .calibrate import calibrate
    from .grid import Cell, score, sweep_cell
    from .pipeline import PREFILL_BACKEND, recipe_for

    torch.set_num_threads(1)
    length = int(length or max(int(n) for n in cfg.lengths))
    recipe = recipe_for(cfg, model)
    recipe = replace(recipe, train=replace(recipe.train, steps=int(steps), ckpt_every=0))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = train_suite_model(recipe, Path(folder or tmp) / recipe.slug(), progress=progress)
        train_s = time.perf_counter() - t0
        net, _ = load_model(out)
    tasks = build_tasks(list(cfg.tasks), length)
    n = min(int(cfg.calibration_samples), int(cfg.n_samples[model]))
    samples = [t.sample(i, "test") for t in tasks for i in range(n)]
    n_new = {t.key: t.max_answer_len() for t in tasks}
    targets = sorted({float(c) for c in cfg.prefill_compressions if float(c) > 1})
    picks = {"prefill": next(m for m in ("block_sparse", "vertical_slash") if m in cfg.prefill_methods),
             "decode": next(m for m in ("quest", "snapkv") if m in cfg.decode_methods)}
    measured = {"model": model, "length": length, "train_steps": int(steps),
                "train_s_per_step": train_s / int(steps), "calibration_s": {},
                "calibration_evals": {}, "cell_s": {}, "methods": picks}
    for phase, method in picks.items():
        t0 = time.perf_counter()
        recs = calibrate(net, samples, phase, method, targets, n_new,
                         cfg.decode_protocol if phase == "decode" else "answer", PREFILL_BACKEND)
        measured["calibration_s"][phase] = time.perf_counter() - t0
        measured["calibration_evals"][phase] = recs[0]["evaluations"] if recs else 0
        hit = [r for r in recs if r["achieved_C"] is not None]
        budget, level = (hit[-1]["budget"], hit[-1]["target_C"]) if hit else (None, targets[0])
        cell = sweep_cell(model, {}, "pilot", length, tasks[0].key, Cell(phase, method, level),
                          int(cfg.n_samples[model]), cfg.flex_alpha, PREFILL_BACKEND, budget,
                          cfg.decode_protocol)
        t0 = time.perf_counter()
        score(net, tasks[0], cell)
        measured["cell_s"][phase] = time.perf_counter() - t0
    measured["estimate"] = estimate(cfg, measured)
    return measured


def train_and_score(cfg: Config, model: str, seed: int = 0, n: int = 32,
                    progress: bool = False) -> dict:
    """The pilot's full training: family member `model` trained with the design's recipe
    (`recipe_for`: its steps, curriculum and task weights) into the model cache, which the
    design then reuses, and its dense accuracy on `n` test samples per task at every length.

    Returns {"model", "seed", "steps", "train_s", "accuracy": {length: {task: mean}},
    "min_accuracy", "below_0.9": [[length, task, mean], ...]}.
    """
    import torch

    from ...models.evaluate import evaluate_task
    from ...models.recipe import load_model, train_suite_model
    from ...tasks.suite import build_tasks
    from .pipeline import recipe_for

    torch.set_num_threads(1)
    recipe = recipe_for(cfg, model, seed)
    t0 = time.perf_counter()
    net, _ = load_model(train_suite_model(recipe, progress=progress))
    train_s = time.perf_counter() - t0
    acc: dict[int, dict[str, float]] = {}
    for length in sorted(int(x) for x in cfg.lengths):
        acc[length] = {t.key: evaluate_task(net, t, n=n, batch_size=8)["mean"]
                       for t in build_tasks(list(cfg.tasks), length)}
    low = [[n_, k, v] for n_, row in acc.items() for k, v in row.items() if v < 0.9]
    return {"model": model, "seed": int(seed), "steps": int(recipe.train.steps),
            "train_s": train_s, "accuracy": acc,
            "min_accuracy": min(v for row in acc.values() for v in row.values()),
            "below_0.9": low}
