"""Study 01's bad-input checks: each fails naming the parameter, before any model is trained
or any cell scored (`pipeline.run` calls `check_config` first).

- an unknown model, method (per phase) or task;
- a length beyond a model's `max_len` (the longest prompt plus its answer must fit);
- a length or task a model is not trained on (`train_lengths`, the recipe's tasks);
- in a calibrated design, a compression target that no method of the phase can reach at any
  evaluated length (above every method's analytic ceiling `max_compression`); targets that
  some method reaches and another does not are calibrated and reported unreachable (null) for
  the latter.
"""
from __future__ import annotations

import math

from ...attention import DECODE, PREFILL
from ...attention.budget import causal_pairs
from .config import Config
from .protocol import PROTOCOLS

BUDGETS = ("labels", "calibrated")
STAGES = ("one", "model")  # artifact layout of calibration and grid (`pipeline.staged`)


def _known(what: str, value, known, param: str) -> None:
    if value not in known:
        raise ValueError(f"{param}: unknown {what} {value!r}; known: {', '.join(sorted(known))}")


def model_max_len(cfg: Config, name: str) -> int:
    """`max_len` the model is built with (`models.recipe.recipe_max_len`)."""
    from ...models.recipe import recipe_max_len

    return recipe_max_len(cfg.train_lengths)


def trained_tasks(cfg: Config, name: str) -> list[str]:
    """Tasks the recipe of family member `name` trains on."""
    from ...tasks.base import TASKS
    from .pipeline import recipe_for

    tasks = recipe_for(cfg, _size(name)).tasks
    if isinstance(tasks, str):
        return list(TASKS.keys()) if tasks == "all" else [t.strip() for t in tasks.split(",")]
    return list(tasks)


def _size(name: str) -> str:
    """Family member of a model instance name (`xs` or `xs-seed1`)."""
    return name.split("-seed")[0]


def max_compression(phase: str, method: str, length: int) -> float:
    """Analytic ceiling of the achieved compression of `method` at `length` (every method
    attends at least the diagonal in prefill and one key per decoded token)."""
    if method == "dense":
        return 1.0
    if phase == "prefill":
        return causal_pairs(length, length) / length  # the diagonal alone
    return float(length)


def check_config(cfg: Config) -> None:
    """Raise ValueError naming the first bad parameter of `cfg` (see the module docstring)."""
    from ...models.lm import CONFIGS
    from ...tasks.base import TASKS

    for name in cfg.models:
        _known("model", _size(name), list(CONFIGS.keys()), "models")
    for t in cfg.tasks:
        _known("task", t, list(TASKS.keys()), "tasks")
    for t, w in cfg.train_task_weights.items():
        _known("task", t, list(TASKS.keys()), "train_task_weights")
        if not float(w) > 0:
            raise ValueError(f"train_task_weights: weight of {t!r} must be > 0, got {w!r}")
    for param, reg in (("prefill_methods", PREFILL), ("decode_methods", DECODE)):
        for m in getattr(cfg, param):
            _known(f"{param.split('_')[0]} method", m, list(reg.keys()), param)
    _known("budget mode", cfg.budgets, BUDGETS, "budgets")
    _known("decode protocol", cfg.decode_protocol, PROTOCOLS, "decode_protocol")
    _known("search", cfg.search, ("grid", "adaptive"), "search")
    _known("stage layout", cfg.stages, STAGES, "stages")
    if cfg.calibration_samples < 1:
        raise ValueError(f"calibration_samples: must be >= 1, got {cfg.calibration_samples}")
    trained = {int(n) for n in cfg.train_lengths}
    for name in cfg.models:
        for t in cfg.tasks:
            if t not in trained_tasks(cfg, name):
                raise ValueError(f"tasks: model {name!r} is not trained on task {t!r}")
        param = "model_lengths" if name in cfg.model_lengths else "lengths"
        lengths = [int(n) for n in cfg.model_lengths.get(name, cfg.lengths)]
        for length in lengths:
            top = model_max_len(cfg, name)
            if length + 64 > top:  # the answer (and question decoding) needs room after the prompt
                raise ValueError(f"{param}: L = {length} is beyond model {name!r}'s "
                                 f"max_len = {top} (prompt + 64 answer positions)")
            if length not in trained:
                raise ValueError(f"{param}: model {name!r} is evaluated at L = {length} but "
                                 f"trained at {sorted(trained)} only (train_lengths)")
    for name, seeds in cfg.seeds.items():
        if name not in cfg.models:
            raise ValueError(f"seeds: {name!r} is not one of models {cfg.models}")
        ok = isinstance(seeds, list) and all(isinstance(k, int) and k >= 0 for k in seeds)
        if not ok or 0 not in seeds or len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds: {name!r} needs a list of distinct integer seeds including 0 "
                             f"(the member's reference model), got {seeds!r}")
    if cfg.budgets == "calibrated":
        _check_targets(cfg)


def _check_targets(cfg: Config) -> None:
    lengths = sorted({int(n) for name in cfg.models
                      for n in cfg.model_lengths.get(name, cfg.lengths)})
    for param, phase, methods in (("prefill_compressions", "prefill", cfg.prefill_methods),
                                  ("decode_compressions", "decode", cfg.decode_methods)):
        ceiling = max((max_compression(phase, m, n) for m in methods for n in lengths),
                      default=1.0)
        for c in getattr(cfg, param):
            if not math.isfinite(float(c)) or float(c) < 1:
                raise ValueError(f"{param}: compression targets must be >= 1, got {c!r}")
            if float(c) > ceiling:
                raise ValueError(
                    f"{param}: target C = {c:g} cannot be reached: no {phase} method of "
                    f"{methods} exceeds C = {ceiling:.3g} at L <= {lengths[-1]}")
