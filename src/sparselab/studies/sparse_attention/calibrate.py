"""Calibrated budgets (issue 14): grid levels as targets of *achieved* compression.

A method's budget label (its `compression` argument, or FlexPrefill's alpha) is not what it
achieves: block and page execution, forced lines and adaptive budgets move the achieved
(effective) compression away from the label, and at short lengths the methods saturate. Here,
for one (model, length, phase, method), each target C is reached by searching the method's
budget parameter until the achieved compression is within ±`TOLERANCE` of C:

    achieved C = 1 / (attended fraction of the causal pairs, mean over the calibration prompts,
                 layers and, in decode, steps)

(the grid's `effective_compression`), measured by running the phase's protocol
(`protocol.run_prefill` / `run_decode`) on the evaluated prompts. The spread over prompts
(10th / 90th percentile of per-prompt compression) is kept, since FlexPrefill's and SnapKV's
compression depend on the input. A target that no budget reaches within the tolerance is
*unreachable* (achieved_C None), with the reason: above the sparsest budget's compression, or
the achieved compression jumps over the band (coarse block / page granularity).

The budget path: x in [0, 1], 0 = dense, 1 = sparsest; achieved compression does not decrease
along it (fewer lines / blocks / pages are subsets of more), so bisection on x finds a budget:

* methods with a `compression` argument: compression = L ** x;
* FlexPrefill follows the paper's grid (METHODS.md §2, v1 Table 6): first the adaptive points,
  alpha from 1 down to 0 at the largest `min_budget` (x in [0, 1/2]; the paper's alpha 0.45-0.94
  at min_budget 512), then the fixed-budget alpha = 0 points, `min_budget` from that value down
  to 1 (x in [1/2, 1]; the paper's (0, 164)-(0, 400)). The two halves meet at the same layout.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from ...attention import DECODE, PREFILL
from .grid import LAYOUT_METHODS, base_kwargs, batch_size
from .protocol import question_len, run_decode, run_prefill

TOLERANCE = 0.15  # achieved within ±15 % of the target
MAX_STEPS = 12  # bisection steps per target (the path is resolved to 1/4096)
STAGE = "sparse_attention_calibration"
VERSION = 1
# The paper's FlexPrefill grid (alpha, min_budget) per length (METHODS.md §2, v1 Table 6):
PAPER_FLEX_GRID = {
    16384: [(0.0, 164), (0.0, 240), (0.0, 315), (0.0, 400), (0.55, 512), (0.71, 512), (0.88, 512)],
    32768: [(0.0, 290), (0.0, 384), (0.45, 512), (0.6, 512), (0.7, 512), (0.8, 512), (0.92, 512)],
    65536: [(0.0, 400), (0.45, 512), (0.55, 512), (0.7, 512), (0.77, 512), (0.85, 512), (0.94, 512)],
}


def budget_at(phase: str, method: str, length: int, x: float) -> dict:
    """The budget arguments at position x in [0, 1] of the method's budget path (see module)."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], got {x}")
    if phase == "prefill" and method == "flexprefill":
        top = int(base_kwargs(phase, method, length)["min_budget"])
        if x <= 0.5:
            return {"alpha": round(1.0 - 2.0 * x, 6), "min_budget": top}
        return {"alpha": 0.0, "min_budget": max(1, round(top ** (2.0 - 2.0 * x)))}
    return {"compression": round(float(length) ** x, 6)}


def paper_flex_points(length: int) -> list[dict]:
    """The paper's FlexPrefill grid points scaled to `length` (min_budget in proportion to
    L / 16K... 64K, at least 1): the budgets the path passes through, for the report."""
    out = []
    for paper_len, grid in PAPER_FLEX_GRID.items():
        for alpha, mb in grid:
            out.append({"paper_length": paper_len, "alpha": alpha,
                        "min_budget": max(1, round(mb * length / paper_len))})
    return out


class Measure:
    """Achieved compression at budget-path positions, memoised (targets share evaluations).

    Args:
        model: the TinyLM; samples: the calibration prompts (test samples, one length);
        phase, method: what is calibrated; n_new: answer tokens decoded, an int or
        {task: int} (each task's `max_answer_len`, as its grid cells decode); protocol: decode
        protocol; backend: prefill backend of the layout methods.
    Prompts run task by task (each task's question length and answer budget, as in scoring).
    """

    def __init__(self, model, samples, phase: str, method: str, n_new,
                 protocol: str = "answer", backend: str = "torch"):
        self.model, self.phase, self.method = model, phase, method
        self.protocol, self.backend = protocol, backend
        self.length = len(samples[0].prompt)
        self.groups = []  # (prompts (B, T), n_new, question length), one per task
        for task in dict.fromkeys(s.task for s in samples):
            mine = [s for s in samples if s.task == task]
            self.groups.append((torch.from_numpy(np.stack([s.prompt for s in mine])),
                                int(n_new[task] if isinstance(n_new, dict) else n_new),
                                question_len(mine)))
        self.memo: dict[float, np.ndarray] = {0.0: np.ones(len(samples))}

    def kwargs(self, x: float) -> dict:
        return base_kwargs(self.phase, self.method, self.length) | budget_at(
            self.phase, self.method, self.length, x)

    def density(self, x: float) -> np.ndarray:
        """Attended density per prompt (B,) at position x (prompts in batches of
        `batch_size(L)`: token-level methods hold (B, H, L, L) score matrices)."""
        if x not in self.memo:
            kw = self.kwargs(x)
            if self.phase == "prefill" and self.method in LAYOUT_METHODS:
                kw["backend"] = self.backend
            parts = []
            step = batch_size(self.length)
            for prompts, n_new, q_len in self.groups:
                for i in range(0, prompts.shape[0], step):
                    xb = prompts[i:i + step]
                    if self.phase == "prefill":
                        _, st = run_prefill(self.model, xb, PREFILL.get(self.method)(**kw), n_new)
                    else:
                        _, st = run_decode(self.model, xb, DECODE.get(self.method)(**kw), n_new,
                                           self.protocol, q_len)
                    parts.append(st["density_per_sample"])
            self.memo[x] = np.concatenate(parts)
        return self.memo[x]

    def achieved(self, x: float) -> float:
        return float(1.0 / self.density(x).mean())


def search(f: Callable[[float], float], target: float, tol: float = TOLERANCE,
           max_steps: int = MAX_STEPS) -> tuple[float | None, float, str]:
    """Bisection on x in [0, 1] for f(x) (non-decreasing, f(0) = 1) within ±tol of `target`.

    Returns (x or None, achieved at the returned / closest x, reason; "" when reached).
    """
    lo_band, hi_band = target * (1 - tol), target * (1 + tol)
    if lo_band <= 1.0:
        return 0.0, 1.0, ""
    top = f(1.0)
    if top < lo_band:
        return None, top, f"the sparsest budget reaches C = {top:.3g} < {lo_band:.3g}"
    lo, hi = 0.0, 1.0
    if top <= hi_band:
        best = (1.0, top)
    else:
        best = None
        for _ in range(max_steps):
            mid = (lo + hi) / 2
            v = f(mid)
            if lo_band <= v <= hi_band:
                best = (mid, v)
                break
            lo, hi = (mid, hi) if v < target else (lo, mid)
    if best is None:
        below, above = f(lo), f(hi)
        near = below if abs(math.log(below / target)) < abs(math.log(above / target)) else above
        return None, near, (f"the achieved compression jumps from {below:.3g} to {above:.3g} "
                            f"over the ±{tol:.0%} band around {target:g}")
    return best[0], best[1], ""


def calibrate(model, samples, phase: str, method: str, targets, n_new: int,
              protocol: str = "answer", backend: str = "torch") -> list[dict]:
    """One record per target: {phase, method, length, target_C, achieved_C (None when
    unreachable), achieved_p10/p90 (per-prompt spread), budget (constructor budget args, None
    when unreachable), reason}. Dense is not calibrated (its C is 1)."""
    meas = Measure(model, samples, phase, method, n_new, protocol, backend)
    out = []
    for target in targets:
        x, ach, reason = search(meas.achieved, float(target))
        rec = {"phase": phase, "method": method, "length": meas.length, "target_C": float(target),
               "achieved_C": None, "achieved_p10": None, "achieved_p90": None, "budget": None,
               "closest_C": ach, "reason": reason}
        if x is not None:
            per = 1.0 / meas.density(x)
            rec.update(achieved_C=ach, achieved_p10=float(np.percentile(per, 10)),
                       achieved_p90=float(np.percentile(per, 90)),
                       budget=budget_at(phase, method, meas.length, x))
        out.append(rec)
    for rec in out:  # budget-path evaluations run (all targets together; dense is free)
        rec["evaluations"] = len(meas.memo) - 1
    return out


def calibrated_method(phase: str, method: str, length: int, budget: dict, backend: str = "torch"):
    """The method instance a calibration record's `budget` describes."""
    kw = base_kwargs(phase, method, length) | budget
    reg = PREFILL if phase == "prefill" else DECODE
    if phase == "prefill" and method in LAYOUT_METHODS:
        kw["backend"] = backend
    return reg.get(method)(**kw)


# ----- the study's calibration stage (a sweep, then a table artifact) -----------------------
CALIBRATION_ARTIFACT = "01_sparse_attention/calibration"
CALIBRATION_COLUMNS = ["model", "length", "phase", "method", "target_C", "achieved_C",
                       "achieved_p10", "achieved_p90", "closest_C", "budget", "reason"]


def calibration_cells(cfg, models: dict, weights: dict) -> list[dict]:
    """One sweep cell per (model instance, length, phase, sparse method): its targets are the
    phase's levels above 1 (`prefill_compressions` / `decode_compressions`)."""
    from .pipeline import PREFILL_BACKEND, model_lengths

    sizes = {inst: size for inst, size, _ in cfg.instances()}
    out = []
    for name in sizes:
        n = min(int(cfg.calibration_samples), int(cfg.n_samples[sizes[name]]))
        for length in model_lengths(cfg, name):
            for phase, methods, levels in (("prefill", cfg.prefill_methods, cfg.prefill_compressions),
                                           ("decode", cfg.decode_methods, cfg.decode_compressions)):
                targets = sorted({float(c) for c in levels if float(c) > 1})
                for m in methods:
                    if m == "dense" or not targets:
                        continue
                    out.append({"model": name, "weights": weights[name], "model_key": models[name][2],
                                "length": int(length), "tasks": list(cfg.tasks), "n": n,
                                "phase": phase, "method": m, "targets": targets,
                                "protocol": cfg.decode_protocol if phase == "decode" else "answer",
                                "backend": PREFILL_BACKEND, "version": VERSION})
    return out


def calibration_records(cfg, models: dict, progress: bool = True) -> pd.DataFrame:
    """The calibration table (CALIBRATION_COLUMNS): one row per (model, length, phase, method,
    target C), achieved_C NaN where the target is unreachable; one sweep over its cells."""
    from ...sweeps import run_sweep
    from .workers import calibrate_cell, publish_weights

    weights = {name: publish_weights(name, m[0]) for name, m in models.items()}
    todo = calibration_cells(cfg, models, weights)
    res = run_sweep(calibrate_cell, todo, stage=STAGE, executor=cfg.executor,
                    scheduler=cfg.scheduler, threads=1, desc="study 01 calibration",
                    progress=progress)
    rows = [{"model": c["model"], **r} for c, out in zip(todo, res.rows) for r in out["records"]]
    df = pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)
    df["budget"] = [None if b is None else json.dumps(b, sort_keys=True) for b in df["budget"]]
    return df


def calibration_config(cfg, models: dict, _calibration=None) -> dict:
    """What the calibration table depends on (its artifact's fingerprint)."""
    return {"models": {n: models[n][2] for n in models},
            "cells": [{k: v for k, v in c.items() if k != "weights"}
                      for c in calibration_cells(cfg, models, dict.fromkeys(models, ""))],
            "tolerance": TOLERANCE}


def calibration(cfg, models: dict, progress: bool = True) -> pd.DataFrame:
    """The calibration table: committed artifact `01_sparse_attention/calibration` (or one per
    model instance, `stages: "model"`) or computed; `budget` decoded back to dicts."""
    from .pipeline import staged

    df = staged(cfg, models, CALIBRATION_ARTIFACT, None, calibration_config,
                lambda c, m, _: calibration_records(c, m, progress), VERSION)
    df = df.copy()
    df["budget"] = [None if b is None or (isinstance(b, float) and np.isnan(b)) else json.loads(b)
                    for b in df["budget"]]
    return df


__all__ = ["CALIBRATION_ARTIFACT", "CALIBRATION_COLUMNS", "MAX_STEPS", "PAPER_FLEX_GRID", "TOLERANCE", "Measure", "base_kwargs", "budget_at",
           "calibrate", "calibrated_method", "calibration", "paper_flex_points", "search"]
