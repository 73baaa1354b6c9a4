"""Study 04: N:M sparse training recipes at high sparsity on a character-level LM.

Claim tested (Progressive Gradient Flow, Bambhaniya et al. 2024): at high N:M sparsity,
recipes that progressively restrict gradient flow to pruned weights (MDGF, SDGF) beat SR-STE.
Every run (recipe x pattern x seed) trains the tiny LM on tinyshakespeare for the same number
of steps and is cached on its own, so a sweep resumes and reruns are instant.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from .config import Config

STAGE = "nm_training"
VERSION = 1  # bump when a change alters results (invalidates cached runs)
TEXT = "tinyshakespeare"
CURVE_WINDOWS = 16  # validation windows per learning-curve point (cheap; the final score uses more)
SR_STE_LAMBDA = 2e-4  # the paper's lambda_W
MATCHED = "mdgf_exp"  # SR-STE trains longer to match this recipe's training FLOPs


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one training run (its cache key)."""

    recipe: str
    pattern: str
    seed: int
    steps: int
    model: str
    batch_size: int
    seq_len: int
    lr: float
    warmup_frac: float
    final_frac: float
    oneshot_prune_at: float
    eval_every: int
    val_windows: int
    flip_every: int
    sr_ste_lambda: float = SR_STE_LAMBDA
    text: str = TEXT
    curve_windows: int = CURVE_WINDOWS
    version: int = VERSION
    # Issue 15's design, opt-in: left out of a spec's dict (cache key, artifact fingerprint)
    # while at these defaults, so the runs of earlier profiles keep their keys.
    kappa_scale: float = 1.0  # MDGF decay rate as a multiple of the schedule's default
    test_split: bool = False  # hold out a test split: val is the held-out text's first half

    @property
    def lr_warmup(self) -> int:
        """Learning-rate warm-up steps: the first 10 % of the run."""
        return max(1, self.steps // 10)

    def slug(self) -> str:
        return f"{self.recipe}-{self.pattern.replace(':', 'of')}-seed{self.seed}-{self.steps}steps"


OPT_IN = {"kappa_scale": 1.0, "test_split": False}  # RunSpec fields of issue 15's design
NOT_SPEC = ("patterns", "recipes", "seeds", "workers", "iso_flops_patterns", "executor",
            "scheduler", "claim_seeds", "test_split", "plateau_check", "tune_budget",
            "tune_pattern", "tune_seeds", "stages")  # Config fields that are not per-run settings


def spec_dict(spec: RunSpec) -> dict:
    """A run's settings as a dict, without the opt-in fields at their defaults (so adding a
    field to `RunSpec` keeps every earlier run's cache key and artifact fingerprint)."""
    return {k: v for k, v in asdict(spec).items() if k not in OPT_IN or v != OPT_IN[k]}


def claim_cell(recipe: str, pattern: str) -> bool:
    """Whether (recipe, pattern) is a cell the claims rest on: dense, SR-STE or a decaying
    recipe at >= 1:8 or in a split setting (these get `claim_seeds` on top of `seeds`)."""
    from ...sparsity import is_split, parse_pattern
    from .tables import DECAYING

    if recipe == "dense":
        return True
    if recipe not in ("sr_ste", *DECAYING):
        return False
    if is_split(pattern):
        return True
    n, m = parse_pattern(pattern)
    return 1 - n / m >= 1 - 1 / 8 - 1e-12


def _tuned(spec: RunSpec, chosen: dict | None) -> RunSpec:
    return replace(spec, **(chosen or {}).get(spec.recipe, {}))


def run_specs(cfg: Config, chosen: dict | None = None) -> list[RunSpec]:
    """The grid: every sparse recipe x pattern x seed, and `dense` once per seed.

    `claim_seeds` add seeds to the cells of `claim_cell` only; `chosen` ({recipe: {RunSpec
    field: value}}, from `tuning.choose`) replaces a recipe's settings at every pattern.
    """
    shared = {k: v for k, v in cfg.to_dict().items() if k not in NOT_SPEC}
    specs = []
    for seed in [*cfg.seeds, *cfg.claim_seeds]:
        extra = seed not in cfg.seeds
        for recipe in cfg.recipes:
            pats = ["1:1"] if recipe == "dense" else cfg.patterns
            specs += [_tuned(RunSpec(recipe=recipe, pattern=p, seed=int(seed),
                                     test_split=cfg.test_split, **shared), chosen)
                      for p in pats if not extra or claim_cell(recipe, p)]
    return specs


def plateau_specs(cfg: Config, chosen: dict | None = None) -> list[RunSpec]:
    """Dense runs of `steps // 2` steps (own warm-up and cosine annealed to their own end),
    one per dense run of the grid (every seed), for the plateau check (`plateau.plateau`); none
    unless `plateau_check`."""
    if not cfg.plateau_check:
        return []
    dense = [s for s in run_specs(cfg, chosen) if s.recipe == "dense"]
    return [replace(s, steps=s.steps // 2) for s in dense]


def model_config(spec: RunSpec, vocab_size: int) -> dict:
    """The resolved `LMConfig` of a run (part of its cache key, so a change to the model
    family retrains instead of reusing stale runs)."""
    from ...models.lm import CONFIGS, config_dict

    cfg = dataclasses.replace(CONFIGS.get(spec.model), vocab_size=vocab_size,
                              max_len=max(512, spec.seq_len))
    return config_dict(cfg)


def schedule_flops(spec: RunSpec) -> float:
    """Total training FLOPs of a run from its schedule alone (no training: costs do not
    depend on the weights)."""
    import torch

    from ...sparsity import nm_step_flops

    with torch.device("meta"):  # shapes only
        model, recipe = build_run_model(spec, char_vocab_size())
    tokens = spec.batch_size * spec.seq_len
    other = other_flops_per_step(model, tokens, spec.seq_len)
    total = 0.0
    for t in range(spec.steps):
        recipe.set_step(t, spec.steps)
        total += nm_step_flops(model, tokens) + other
    return total


def iso_flops_specs(cfg: Config, chosen: dict | None = None) -> list[RunSpec]:
    """SR-STE runs trained longer so their training FLOPs match MDGF-exp's (same schedule
    fractions, learning-rate schedule stretched), for each pattern in `iso_flops_patterns`
    (with `chosen`, each recipe at its own tuned settings)."""
    out = []
    for pattern in cfg.iso_flops_patterns:
        one = Config.from_overrides(**{**cfg.to_dict(), "patterns": [pattern],
                                       "recipes": ["sr_ste"]})
        for raw in run_specs(one):  # untuned: each recipe then takes its own choices
            base = _tuned(raw, chosen)
            target = schedule_flops(_tuned(replace(raw, recipe=MATCHED), chosen))
            steps = round(base.steps * target / schedule_flops(base))
            out.append(replace(base, steps=steps))
    return out


# ----- data --------------------------------------------------------------------------------
def char_vocab_size() -> int:
    """Embedding rows of the task suite's vocabulary (characters are a subset)."""
    from ...tasks.vocab import Vocab

    return Vocab().size


def char_splits(text: str, test: bool = False) -> tuple[dict[str, np.ndarray], int]:
    """({"train", "val"} int64 character ids, vocabulary size) from the task suite's char LM;
    with `test`, the held-out text is halved into "val" and "test" (`charlm.text_splits`)."""
    from ...tasks.charlm import text_splits
    from ...tasks.vocab import Vocab

    vocab = Vocab()
    return text_splits(text, vocab, test=test) if test else text_splits(text, vocab), vocab.size


def bits_per_char(model, ids: np.ndarray, seq_len: int, windows: int) -> float:
    """Validation bits per character over the first `windows` disjoint windows of `ids`."""
    from ...tasks.charlm import bits_per_char as bpc

    return bpc(model, ids, seq_len, max_windows=windows, batch_size=32)


# ----- one run -----------------------------------------------------------------------------
def _recipe(spec: RunSpec):
    """The run's recipe: one `Recipe`, or a `SplitRecipe` for a split setting."""
    from ...sparsity import is_split, make_recipe, make_split_recipe
    from ...sparsity.schedules import Phases, default_kappa

    kw = {"warmup": spec.warmup_frac, "final": spec.final_frac}
    if spec.recipe == "oneshot":
        kw["prune_at"] = spec.oneshot_prune_at
    if spec.recipe == "sr_ste":
        kw["lam"] = spec.sr_ste_lambda
    if spec.recipe.startswith("mdgf_") and spec.kappa_scale != 1.0:
        start, end = Phases(spec.warmup_frac, spec.final_frac).bounds(spec.steps)
        kind = "linear" if spec.recipe == "mdgf_linear" else "exp"
        kw["kappa"] = spec.kappa_scale * default_kappa(kind, end - start)
    if spec.recipe != "dense" and is_split(spec.pattern):
        return make_split_recipe(spec.recipe, spec.pattern, **kw)
    return make_recipe(spec.recipe, "2:4" if spec.recipe == "dense" else spec.pattern, **kw)


def build_run_model(spec: RunSpec, vocab: int):
    """(model, recipe) of a run: every projection an `NMLinear` driven by the recipe (in a
    split setting, each layer group by its own member of the `SplitRecipe`)."""
    from ...models.lm import LMConfig, build_model
    from ...sparsity import SplitRecipe, make_recipe, nm_linear_factory

    recipe = _recipe(spec)
    lm = LMConfig(**model_config(spec, vocab))
    if not isinstance(recipe, SplitRecipe):
        return build_model(lm, nm_linear_factory(recipe)), recipe
    model = build_model(lm, nm_linear_factory(make_recipe("dense")))  # same initial weights
    return recipe.apply(model), recipe


def other_flops_per_step(model, tokens: int, seq_len: int) -> float:
    """Training FLOPs (3x forward) of the dense remainder: tied head and attention scores."""
    from ...models.lm import flops_per_token
    from ...sparsity import nm_layers

    nm_fwd = sum(2 * m.in_features * m.out_features for _, m in nm_layers(model))
    per_token = flops_per_token(model.cfg, (seq_len + 1) / 2) - nm_fwd  # causal: mean context
    return 3.0 * per_token * tokens


def train_run(spec: RunSpec, progress: bool = False) -> dict:
    """Train one run and return its JSON-able record (no caching)."""
    return train_model(spec, progress)[1]


def train_model(spec: RunSpec, progress: bool = False):
    """Train one run: (the trained model in eval mode, its JSON-able record)."""
    import torch

    from ...models.trainer import TrainConfig, Trainer
    from ...sparsity import nm_inference_flops
    from ...sparsity.training import NMCallback
    from ...tasks.charlm import char_lm_batches

    torch.set_num_threads(1)
    splits, vocab = char_splits(spec.text, test=True) if spec.test_split else \
        char_splits(spec.text)
    torch.manual_seed(spec.seed)  # same initial weights for every recipe of a seed
    model, recipe = build_run_model(spec, vocab)
    tokens = spec.batch_size * spec.seq_len
    cb = NMCallback(model, recipe, spec.steps, tokens,
                    other_flops_per_step(model, tokens, spec.seq_len), spec.flip_every,
                    spec.eval_every,
                    lambda m: bits_per_char(m, splits["val"], spec.seq_len, spec.curve_windows))
    tcfg = TrainConfig(steps=spec.steps, batch_size=spec.batch_size, lr=spec.lr,
                       warmup=spec.lr_warmup, seed=spec.seed, log_every=max(1, spec.steps // 20))
    batches = char_lm_batches(splits["train"], spec.seq_len, spec.batch_size)
    trainer = Trainer(model, tcfg, batches, callbacks=[cb], progress=progress)
    t0, c0 = time.perf_counter(), time.process_time()
    history = trainer.train()
    model.eval()
    val = bits_per_char(model, splits["val"], spec.seq_len, spec.val_windows)
    test = {"test_bpc": bits_per_char(model, splits["test"], spec.seq_len, spec.val_windows)} \
        if spec.test_split else {}
    return model, {"spec": spec_dict(spec), "model_config": model_config(spec, vocab),
                   "val_bpc": val, **test, "wall_s": time.perf_counter() - t0,
                   "cpu_s": time.process_time() - c0,
                   "train_loss": [(h["step"], h["loss"]) for h in history],
                   "inference_flops_per_token": nm_inference_flops(model, 1), **cb.summary()}


TIMING = ("wall_s", "cpu_s")  # measured by the sweep: out of a cell's row and of metrics.json


def spec_cell(spec: RunSpec) -> dict:
    """A run as a sweep cell: its spec and resolved model config (so a change to the model
    family retrains instead of reusing stale runs)."""
    return {**spec_dict(spec), "model_config": model_config(spec, char_vocab_size())}


def run_cell(cell: dict) -> dict:
    """Sweep cell function: train the run `cell` describes; its record without timings."""
    spec = RunSpec(**{k: v for k, v in cell.items() if k != "model_config"})
    record = train_run(spec)
    return {k: v for k, v in record.items() if k not in TIMING}


def sweep(specs: list[RunSpec], executor: str = "local", scheduler: str = "",
          workers: int | None = None, progress: bool = True,
          desc: str = "study 04 runs") -> list[dict]:
    """Records of `specs` (trained, or read from cells/nm_training/), with the sweep's timings."""
    from ...sweeps import run_sweep

    res = run_sweep(run_cell, [spec_cell(s) for s in specs], stage=STAGE, version=VERSION,
                    executor=executor, scheduler=scheduler, threads=1, workers=workers,
                    desc=desc, progress=progress)
    return [{**row, **{k: (info or {}).get(k, float("nan")) for k in TIMING}}
            for row, info in zip(res.rows, res.infos)]


def cached_run(spec: RunSpec) -> dict:
    """One run, trained in this process or read from the cell cache."""
    return sweep([spec], executor="serial", progress=False)[0]


ARTIFACT = "04_nm_training/runs"  # every run's record, one Parquet table (artifacts/)
COMMAND = "make report NB=04 PROFILE=full"


def train_all(specs: list[RunSpec], workers: int, executor: str = "local",
              scheduler: str = "") -> list[dict]:
    """Records of `specs`, trained (or read from the cell cache), in the order given: one
    `sparselab.sweeps` sweep (`executor`: serial, local processes or Dask; one torch thread
    per run, so the numbers do not depend on the backend)."""
    return sweep(specs, executor, scheduler, workers)


def runs_table(records: list[dict]) -> pd.DataFrame:
    """The committed artifact: one row per run, its scalars as columns and the whole record
    (curves, flips, phases; timings apart) as a key-sorted JSON string."""
    rows = []
    for r in records:
        s = r["spec"]
        rest = {k: v for k, v in r.items() if k not in TIMING}
        rows.append({"recipe": s["recipe"], "pattern": s["pattern"], "seed": int(s["seed"]),
                     "steps": int(s["steps"]), "val_bpc": float(r["val_bpc"]),
                     "train_flops": float(r["train_flops"]),
                     **{k: float(r.get(k, float("nan"))) for k in TIMING},
                     "record": json.dumps(rest, sort_keys=True)})
    return pd.DataFrame(rows)


def table_records(table: pd.DataFrame) -> list[dict]:
    """Run records back from `runs_table` (timings restored from their columns)."""
    return [{**json.loads(row.record), **{k: float(getattr(row, k)) for k in TIMING}}
            for row in table.itertuples()]


def artifact_config(specs: list[RunSpec]) -> dict:
    """What fixes the runs table: every run's spec and resolved model config."""
    vocab = char_vocab_size()
    return {"runs": [{**spec_dict(s), "model_config": model_config(s, vocab)} for s in specs]}


def run(cfg: Config) -> pd.DataFrame:
    """Train (or load) every run of the grid; one row per run with its record.

    The runs table is the artifact `04_nm_training/runs` (`sparselab.artifacts`): the full
    profile reads the committed one and builds it only when it is missing.
    """
    from .checks import check_config

    check_config(cfg)  # bad parameters fail here, naming the value, before anything trains
    chosen = tuned(cfg)
    specs = run_specs(cfg, chosen) + iso_flops_specs(cfg, chosen) + plateau_specs(cfg, chosen)
    table = staged_tables([(name, part, lambda part=part: runs_table(
        train_all(part, cfg.workers, cfg.executor, cfg.scheduler)))
        for name, part in stage_specs(specs, cfg.stages)])
    return results_frame(table_records(table), cfg.steps)


def staged_tables(parts: list[tuple[str, list[RunSpec], Callable[[], pd.DataFrame]]]
                  ) -> pd.DataFrame:
    """The table artifacts `(name, runs, build)` (fingerprinted by their runs), each loaded or
    built and saved before the next starts, concatenated: the grid's and the tuning's stages."""
    from ...artifacts import get_or_build

    tables = [get_or_build(name, config=artifact_config(runs), kind="table", build_fn=build,
                           version=VERSION, command=COMMAND) for name, runs, build in parts]
    return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


STAGES = ("one", "seed", "seed_recipe")


def stage_specs(specs: list[RunSpec], stages: str = "one") -> list[tuple[str, list[RunSpec]]]:
    """(artifact name, runs) per stage of the grid, in the order the stages first appear.

    "one": every run in `04_nm_training/runs` (the earlier profiles' layout). "seed": one
    artifact per seed, `04_nm_training/runs/seed=<k>`, with every run of that seed (grid,
    matched FLOPs, S/2 dense). "seed_recipe": one per seed and recipe,
    `04_nm_training/runs/seed=<k>/<recipe>`, for designs whose seed stages outlast a session.
    Each is saved when its runs are done, so a grid of many CPU-hours resumes from the
    committed stages on another machine."""
    if stages == "one":
        return [(ARTIFACT, list(specs))]
    if stages not in STAGES:
        raise ValueError(f"stages: {stages!r} is not one of {', '.join(map(repr, STAGES))}")
    groups: dict[str, list[RunSpec]] = {}
    for s in specs:
        key = f"seed={int(s.seed)}" + (f"/{s.recipe}" if stages == "seed_recipe" else "")
        groups.setdefault(key, []).append(s)
    return [(f"{ARTIFACT}/{k}", v) for k, v in groups.items()]


def tuned(cfg: Config) -> dict | None:
    """{recipe: chosen RunSpec fields} from the tuning stage (`tuning.tune`), or None
    without tuning (`tune_budget` 0)."""
    if not cfg.tune_budget:
        return None
    from .tuning import choose, tune

    return choose(tune(cfg), cfg)


def results_frame(records: list[dict], steps: int | None = None) -> pd.DataFrame:
    """Flatten run records into a DataFrame (one row per run).

    `extended` marks runs off the grid's `steps`, which the equal-steps tables leave out;
    `role` says which: "grid", "matched" (SR-STE trained longer to matched FLOPs) or "half"
    (dense at `steps // 2` for the plateau check). A split setting ("ff=1:32,attn=1:8") has
    `split` True and no `sparsity`: it is a cell of its own, not a point on that axis.
    `test_bpc` is there when the runs held out a test split.
    """
    from ...sparsity import is_split

    rows = []
    for r in records:
        s = r["spec"]
        split = is_split(s["pattern"])
        if split:
            sparsity = float("nan")
        else:
            n, m = (int(v) for v in s["pattern"].split(":"))
            sparsity = 1 - n / m
        off = steps is not None and s["steps"] != steps
        role = "grid" if not off else ("half" if s["recipe"] == "dense" and s["steps"] < steps
                                       else "matched")
        test = {"test_bpc": r["test_bpc"]} if "test_bpc" in r else {}
        rows.append({"recipe": s["recipe"], "pattern": s["pattern"], "seed": s["seed"],
                     "steps": s["steps"], "extended": off, "role": role, "split": split,
                     "sparsity": sparsity, "val_bpc": r["val_bpc"], **test,
                     "train_flops": r["train_flops"], "wall_s": r.get("wall_s", float("nan")),
                     "cpu_s": r.get("cpu_s", float("nan")), "record": r})
    return pd.DataFrame(rows)


from .tables import (
    flip_frame,
    headline,
    metrics,
    paired_vs,
    plot_bpc_vs_sparsity,
    plot_curves,
    plot_flips,
    plot_flops,
    table_flips,
    table_iso_flops,
    table_matched_flops,
    table_summary,
    timings,
)

__all__ = [
    "Config",
    "RunSpec",
    "flip_frame",
    "headline",
    "iso_flops_specs",
    "metrics",
    "paired_vs",
    "plot_bpc_vs_sparsity",
    "plot_curves",
    "plot_flips",
    "plot_flops",
    "run",
    "run_specs",
    "schedule_flops",
    "table_flips",
    "table_iso_flops",
    "table_matched_flops",
    "table_summary",
    "timings",
    "train_run",
]
