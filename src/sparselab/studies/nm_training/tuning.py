"""Equal tuning of every recipe on validation: the same budget of configurations each.

Issue 15: recipes are compared only after each is tuned with the same small budget, on a
validation split the test numbers never see. Every recipe has a space of settings (`SPACE`:
its own knobs and the learning rate); it tries the first `tune_budget` configurations of that
space (`configurations`: the defaults first, then one knob at a time around them, knobs in
turn, then the remaining grid in a fixed seeded order), at one pattern (`tune_pattern`) and
the `tune_seeds`, for the grid's full `steps`. The configuration with the lowest mean
validation bpc is chosen and carried to every pattern (`pipeline.run_specs(cfg, chosen)`).

Tuning runs are cells of the study's sweep stage (`pipeline.sweep`: they resume, and a tuning
run identical to a grid run is trained once); their table is the artifact
`04_nm_training/tuning`, or with staged artifacts (`stages` other than "one") one table per
recipe, `04_nm_training/tuning/<recipe>`.
"""
from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import replace

import numpy as np
import pandas as pd

from .config import Config

# recipe -> {setting: values}; the first value is the grid's default (lr_scale multiplies
# `Config.lr`; kappa_scale multiplies MDGF's default decay rate; warmup_frac / final_frac
# set the decay phases).
LR = [1.0, 0.5, 2.0]
SPACE: dict[str, dict[str, list]] = {
    "dense": {"lr_scale": [1.0, 0.5, 2.0, 0.25, 4.0, 0.7, 1.4, 3.0]},
    "oneshot": {"oneshot_prune_at": [0.5, 0.3, 0.7], "lr_scale": LR},
    "ste": {"warmup_frac": [0.1, 0.05, 0.2], "lr_scale": LR},
    "sr_ste": {"sr_ste_lambda": [2e-4, 2e-5, 2e-3, 2e-6, 2e-2], "lr_scale": LR},
    "mdgf_linear": {"kappa_scale": [1.0, 0.5, 2.0, 4.0], "warmup_frac": [0.1, 0.2],
                    "final_frac": [0.1, 0.2], "lr_scale": LR},
    "mdgf_exp": {"kappa_scale": [1.0, 0.5, 2.0, 4.0], "warmup_frac": [0.1, 0.2],
                 "final_frac": [0.1, 0.2], "lr_scale": LR},
    "sdgf_stepwise": {"warmup_frac": [0.1, 0.2, 0.05], "final_frac": [0.1, 0.2, 0.3],
                      "lr_scale": LR},
    "sdgf_geometric": {"warmup_frac": [0.1, 0.2, 0.05], "final_frac": [0.1, 0.2, 0.3],
                       "lr_scale": LR},
}
ARTIFACT = "04_nm_training/tuning"
NOT_TUNED = ("This profile does not tune (`tune_budget` 0): every recipe runs at its default "
             "settings (the paper's, or this study's where the paper has none).")


def configurations(recipe: str, budget: int) -> list[dict]:
    """The first `budget` configurations of `recipe`'s space: defaults, then each knob's
    alternatives one at a time (knobs taken in turn), then the rest of the grid in a seeded
    order. Raises ValueError naming the recipe when its space is smaller than `budget`."""
    if recipe not in SPACE:
        raise ValueError(f"tune_budget: recipe {recipe!r} has no tuning space; known: "
                         f"{', '.join(SPACE)}")
    space = SPACE[recipe]
    keys = list(space)
    default = {k: v[0] for k, v in space.items()}
    grid = [dict(zip(keys, vals)) for vals in itertools.product(*space.values())]
    if budget > len(grid):
        raise ValueError(f"tune_budget: {budget} configurations exceed the {len(grid)} of "
                         f"recipe {recipe!r}'s tuning space")
    order = [default]
    alts = [[{**default, k: v} for v in space[k][1:]] for k in keys]
    for row in itertools.zip_longest(*alts):
        order += [c for c in row if c is not None]
    rest = [c for c in grid if c not in order]
    rng = np.random.default_rng(zlib.crc32(recipe.encode()))
    order += [rest[i] for i in rng.permutation(len(rest))]
    return order[:budget]


def overrides(config: dict, cfg: Config) -> dict:
    """RunSpec fields of one configuration (lr_scale becomes an absolute `lr`)."""
    out = {k: v for k, v in config.items() if k != "lr_scale"}
    if "lr_scale" in config:
        out["lr"] = float(cfg.lr * config["lr_scale"])
    return out


def tuning_specs(cfg: Config) -> list[tuple]:
    """(recipe, configuration index, configuration) with its RunSpec, per tuning run:
    `tune_budget` configurations per recipe at `tune_pattern`, one run per `tune_seeds`."""
    from .pipeline import run_specs

    one = Config.from_overrides(**{**cfg.to_dict(), "patterns": [cfg.tune_pattern],
                                   "seeds": list(cfg.tune_seeds), "claim_seeds": []})
    out = []
    for base in run_specs(one):
        for i, conf in enumerate(configurations(base.recipe, cfg.tune_budget)):
            out.append((base.recipe, i, conf, replace(base, **overrides(conf, cfg))))
    return out


def check_tuning(cfg: Config) -> None:
    """Bad tuning parameters fail here, naming the value."""
    if cfg.tune_budget < 0:
        raise ValueError(f"tune_budget: {cfg.tune_budget!r} must be >= 0")
    if not cfg.tune_seeds or len(set(cfg.tune_seeds)) != len(cfg.tune_seeds):
        raise ValueError(f"tune_seeds: {cfg.tune_seeds!r} must be non-empty without repeats")
    for recipe in cfg.recipes:
        configurations(recipe, cfg.tune_budget)


def tuning_frame(records: list[dict], runs: list[tuple]) -> pd.DataFrame:
    """One row per tuning run: recipe, configuration index, its settings (JSON), seed,
    validation bpc (`records` in the order of `runs`)."""
    rows = [{"recipe": recipe, "config": i, "settings": json.dumps(conf, sort_keys=True),
             "seed": int(rec["spec"]["seed"]), "val_bpc": float(rec["val_bpc"])}
            for (recipe, i, conf, _), rec in zip(runs, records)]
    return pd.DataFrame(rows)


def tune(cfg: Config) -> pd.DataFrame:
    """Train (or load) every tuning run of `cfg`; `tuning_frame` of them, read from the
    artifact `04_nm_training/tuning` when it holds these runs."""
    from .pipeline import staged_tables, sweep

    runs = tuning_specs(cfg)
    if cfg.stages == "one":
        parts = [(ARTIFACT, runs)]
    else:  # staged designs: one artifact per recipe, saved as each recipe's runs are done
        parts = [(f"{ARTIFACT}/{recipe}", [r for r in runs if r[0] == recipe])
                 for recipe in dict.fromkeys(r[0] for r in runs)]
    return staged_tables([
        (name, [r[3] for r in part], lambda part=part: tuning_frame(
            sweep([r[3] for r in part], cfg.executor, cfg.scheduler, cfg.workers,
                  desc="study 04 tuning"), part))
        for name, part in parts])


def table_tuning(frame: pd.DataFrame) -> pd.DataFrame:
    """Per recipe and configuration: settings, mean validation bpc over the tuning seeds and
    whether it was chosen (the lowest mean; ties: the earlier configuration)."""
    out = frame.groupby(["recipe", "config"], sort=False).agg(
        settings=("settings", "first"), val_bpc=("val_bpc", "mean"), seeds=("seed", "nunique"))
    best = out.groupby(level="recipe", sort=False).val_bpc.transform("min")
    first = out.val_bpc.eq(best).groupby(level="recipe", sort=False).cumsum()
    out["chosen"] = out.val_bpc.eq(best) & first.eq(1)
    return out


def choose(frame: pd.DataFrame, cfg: Config) -> dict[str, dict]:
    """{recipe: RunSpec fields} of each recipe's chosen configuration."""
    table = table_tuning(frame)
    return {recipe: overrides(json.loads(row.settings), cfg)
            for (recipe, _), row in table[table.chosen].iterrows()}


def table_chosen(frame: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """The report's table of chosen values: one row per recipe, one column per setting."""
    table = table_tuning(frame)
    rows = []
    for (recipe, i), row in table[table.chosen].iterrows():
        rows.append({"recipe": recipe, "config": i, **overrides(json.loads(row.settings), cfg),
                     "val_bpc": row.val_bpc})
    return pd.DataFrame(rows).set_index("recipe")
