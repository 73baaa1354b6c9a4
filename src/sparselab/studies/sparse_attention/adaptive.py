"""Adaptive search of the largest non-inferior compression (issue 14), per task.

Instead of scoring every level of the grid for every (model, length, task, phase, method),
`search: adaptive` bisects over the sorted levels (calibrated targets or labels): the midpoint
of each unresolved bracket is scored, tested for non-inferiority to dense on the same prompts
(`stats.noninferior` at the study's margin and alpha), and the bracket halves. A series of k
levels needs ceil(log2(k + 1)) cells instead of k. It assumes non-inferiority does not come
back once lost at a higher compression (the grid's `max_compression` reads "every level up to
it passes" the same way). The claims' fixed levels (`ANCHOR_LEVELS`: C = 4 and 16) are always
scored, in the first round with dense, and narrow the brackets. All brackets of a round go
through one sweep, so the rounds are resumable and parallel like the full grid. Only units
whose dense accuracy reaches `min_dense` are bisected (`learned_series`); the others keep the
first round (dense and anchors), which is all any claim reads of them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .claims import BUDGET_LEVEL, MODERATE_LEVEL
from .grid import Cell
from .stats import noninferior

# Levels always scored (where in the grid): the claims' moderate level and fixed budget
# fraction read every (model, length, task, method) there.
ANCHOR_LEVELS = (MODERATE_LEVEL, BUDGET_LEVEL)


def passes(dense, scores, margin: float, alpha: float) -> bool:
    """Non-inferior to dense: the one-sided paired test rejects a loss >= margin at alpha."""
    return bool(noninferior(np.asarray(dense, float), np.asarray(scores, float), margin)[1] < alpha)


def bisect_levels(levels: Sequence[float], ok: Callable[[float], bool]) -> tuple[float, list[float]]:
    """(largest passing level or 1.0, levels evaluated in order) for sorted `levels` with a
    monotone oracle `ok` (the reference of `search`, one series at a time)."""
    lo, hi, seen = -1, len(levels), []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        seen.append(levels[mid])
        lo, hi = (mid, hi) if ok(levels[mid]) else (lo, mid)
    return (levels[lo] if lo >= 0 else 1.0), seen


def search(series: dict, score: Callable[[list], list[dict]], dense: dict, margin: float,
           alpha: float, known: dict | None = None) -> dict:
    """Bisect every series at once: {series key: {level: record}} of the evaluated cells.

    Args:
        series: {key: sorted list of Cells (one phase and method, levels > 1)}; the key's first
            element names its dense reference in `dense`.
        score: scores a list of (key, Cell) in one sweep, returning their records in order.
        dense: {unit: dense record} (scores on the same prompts).
        known: {key: {level: record}} already scored (anchors): they narrow the brackets.
    """
    state = {k: [-1, len(cells)] for k, cells in series.items()}
    out: dict = {k: dict((known or {}).get(k, {})) for k in series}
    for k, cells in series.items():
        for i, c in enumerate(cells):
            if c.level in out[k]:
                lo, hi = state[k]
                if passes(dense[k[0]]["scores"], out[k][c.level]["scores"], margin, alpha):
                    state[k][0] = max(lo, i)
                else:
                    state[k][1] = min(hi, i)
        if state[k][0] >= state[k][1]:  # anchors disagree with monotonicity: trust the lowest fail
            state[k][0] = state[k][1] - 1
    while True:
        todo = [(k, series[k][(lo + hi) // 2]) for k, (lo, hi) in state.items() if hi - lo > 1]
        if not todo:
            return out
        for (k, cell), rec in zip(todo, score(todo)):
            out[k][cell.level] = rec
            lo, hi = state[k]
            mid = (lo + hi) // 2
            ok = passes(dense[k[0]]["scores"], rec["scores"], margin, alpha)
            state[k] = [mid, hi] if ok else [lo, mid]


def learned_series(series: dict, dense: dict, min_dense: float) -> dict:
    """The series worth bisecting: those whose unit's dense accuracy (mean score) is at least
    `min_dense`. A unit below it is out of every claim of study 01 (`claims.learned_cells`),
    and study 02 keeps only the levels scored in every unit of a method (the anchors), so its
    bisected levels would be CPU spent on rows nothing reads; it keeps its anchors."""
    return {k: cs for k, cs in series.items() if float(np.mean(dense[k[0]]["scores"])) >= min_dense}


def series_of(cells: list[Cell]) -> dict[tuple[str, str], list[Cell]]:
    """The grid's sparse cells grouped by (phase, method), sorted by level."""
    out: dict = {}
    for c in cells:
        if c.method != "dense" and c.level != 1:
            out.setdefault((c.phase, c.method), []).append(c)
    return {k: sorted(v, key=lambda c: c.level) for k, v in out.items()}


def adaptive_records(cfg, models: dict, progress: bool = True, calibration=None) -> list[dict]:
    """The grid's rows (as `pipeline.grid_records` builds them, before the DataFrame) with the
    sparse levels of every (model, length, task, phase, method) bisected (`search`)."""
    from ...sweeps import run_sweep
    from ...tasks.suite import build_tasks
    from .grid import DENSE, STAGE, VERSION, sweep_cell
    from .pipeline import PREFILL_BACKEND, model_lengths, unit_design
    from .workers import publish_weights, score_cell

    sizes = {inst: size for inst, size, _ in cfg.instances()}
    weights = {name: publish_weights(name, m[0]) for name, m in models.items()}
    units, make = {}, {}
    for name in sizes:
        for length in model_lengths(cfg, name):
            cells, budgets = unit_design(cfg, calibration, name, int(length))
            for task in build_tasks(list(cfg.tasks), int(length)):
                u = (name, int(length), task.key)
                units[u] = (task, cells)
                make[u] = (lambda c, u=u, task=task, budgets=budgets: sweep_cell(
                    u[0], models[u[0]][2], weights[u[0]], u[1], task.key, c,
                    int(cfg.n_samples[sizes[u[0]]]), cfg.flex_alpha, PREFILL_BACKEND,
                    None if budgets is None else budgets.get(c), cfg.decode_protocol))

    def sweep(todo: list[tuple]) -> list[dict]:
        res = run_sweep(score_cell, [make[k[0]](c) for k, c in todo], stage=STAGE, version=VERSION,
                        executor=cfg.executor, scheduler=cfg.scheduler, threads=1,
                        desc="study 01 grid (adaptive)", progress=progress)
        return res.rows

    series = {(u, *pm): cs for u, (_, cells) in units.items() for pm, cs in series_of(cells).items()}
    anchors = [(k, c) for k, cs in series.items() for c in cs if c.level in ANCHOR_LEVELS]
    first = sweep([((u,), DENSE) for u in units] + anchors)  # dense and anchors: one round
    dense = dict(zip(units, first[:len(units)]))
    known: dict = {}
    for (k, c), rec in zip(anchors, first[len(units):]):
        known.setdefault(k, {})[c.level] = rec
    bisect = learned_series(series, dense, cfg.min_dense)
    found = search(bisect, sweep, dense, cfg.margin, cfg.alpha, known)
    found.update({k: known.get(k, {}) for k in series if k not in bisect})  # anchors only
    rows = []
    for u, (task, cells) in units.items():
        n_params = int(models[u[0]][0].n_params())
        for c in cells:
            rec = dense[u] if c.level == 1 else found[(u, c.phase, c.method)].get(c.level)
            if rec is not None:
                rows.append({"model": u[0], "n_params": n_params, "length": u[1], **task.labels(),
                             "phase": c.phase, "method": c.method, "level": float(c.level), **rec})
    return rows
