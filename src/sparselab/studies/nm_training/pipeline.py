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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context

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

    @property
    def lr_warmup(self) -> int:
        """Learning-rate warm-up steps: the first 10 % of the run."""
        return max(1, self.steps // 10)

    def slug(self) -> str:
        return f"{self.recipe}-{self.pattern.replace(':', 'of')}-seed{self.seed}-{self.steps}steps"


def run_specs(cfg: Config) -> list[RunSpec]:
    """The grid: every sparse recipe x pattern x seed, and `dense` once per seed."""
    shared = {k: v for k, v in cfg.to_dict().items()
              if k not in ("patterns", "recipes", "seeds", "workers", "iso_flops_patterns")}
    specs = []
    for seed in cfg.seeds:
        for recipe in cfg.recipes:
            pats = ["1:1"] if recipe == "dense" else cfg.patterns
            specs += [RunSpec(recipe=recipe, pattern=p, seed=int(seed), **shared) for p in pats]
    return specs


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

    from ...models.lm import LMConfig, build_model
    from ...sparsity import nm_linear_factory, nm_step_flops

    recipe = _recipe(spec)
    with torch.device("meta"):  # shapes only
        model = build_model(LMConfig(**model_config(spec, char_vocab_size())),
                            nm_linear_factory(recipe))
    tokens = spec.batch_size * spec.seq_len
    other = other_flops_per_step(model, tokens, spec.seq_len)
    total = 0.0
    for t in range(spec.steps):
        recipe.set_step(t, spec.steps)
        total += nm_step_flops(model, tokens) + other
    return total


def iso_flops_specs(cfg: Config) -> list[RunSpec]:
    """SR-STE runs trained longer so their training FLOPs match MDGF-exp's (same schedule
    fractions, learning-rate schedule stretched), for each pattern in `iso_flops_patterns`."""
    out = []
    for pattern in cfg.iso_flops_patterns:
        for base in run_specs(Config.from_overrides(**{**cfg.to_dict(), "patterns": [pattern],
                                                       "recipes": ["sr_ste"]})):
            target = schedule_flops(replace(base, recipe=MATCHED))
            steps = round(base.steps * target / schedule_flops(base))
            out.append(replace(base, steps=steps))
    return out


# ----- data --------------------------------------------------------------------------------
def char_vocab_size() -> int:
    """Embedding rows of the task suite's vocabulary (characters are a subset)."""
    from ...tasks.vocab import Vocab

    return Vocab().size


def char_splits(text: str) -> tuple[dict[str, np.ndarray], int]:
    """({"train", "val"} int64 character ids, vocabulary size) from the task suite's char LM."""
    from ...tasks.charlm import text_splits
    from ...tasks.vocab import Vocab

    vocab = Vocab()
    return text_splits(text, vocab), vocab.size


def bits_per_char(model, ids: np.ndarray, seq_len: int, windows: int) -> float:
    """Validation bits per character over the first `windows` disjoint windows of `ids`."""
    from ...tasks.charlm import bits_per_char as bpc

    return bpc(model, ids, seq_len, max_windows=windows, batch_size=32)


# ----- one run -----------------------------------------------------------------------------
def _recipe(spec: RunSpec):
    from ...sparsity import make_recipe

    kw = {"warmup": spec.warmup_frac, "final": spec.final_frac}
    if spec.recipe == "oneshot":
        kw["prune_at"] = spec.oneshot_prune_at
    if spec.recipe == "sr_ste":
        kw["lam"] = spec.sr_ste_lambda
    return make_recipe(spec.recipe, "2:4" if spec.recipe == "dense" else spec.pattern, **kw)


def other_flops_per_step(model, tokens: int, seq_len: int) -> float:
    """Training FLOPs (3x forward) of the dense remainder: tied head and attention scores."""
    from ...models.lm import flops_per_token
    from ...sparsity import nm_layers

    nm_fwd = sum(2 * m.in_features * m.out_features for _, m in nm_layers(model))
    per_token = flops_per_token(model.cfg, (seq_len + 1) / 2) - nm_fwd  # causal: mean context
    return 3.0 * per_token * tokens


def train_run(spec: RunSpec, progress: bool = False) -> dict:
    """Train one run and return its JSON-able record (no caching)."""
    import torch

    from ...models.lm import LMConfig, build_model
    from ...models.trainer import TrainConfig, Trainer
    from ...sparsity import nm_inference_flops, nm_linear_factory
    from ...sparsity.training import NMCallback
    from ...tasks.charlm import char_lm_batches

    torch.set_num_threads(1)
    splits, vocab = char_splits(spec.text)
    recipe = _recipe(spec)
    torch.manual_seed(spec.seed)  # same initial weights for every recipe of a seed
    model = build_model(LMConfig(**model_config(spec, vocab)), nm_linear_factory(recipe))
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
    return {"spec": asdict(spec), "model_config": model_config(spec, vocab), "val_bpc": val,
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - c0,
            "train_loss": [(h["step"], h["loss"]) for h in history],
            "inference_flops_per_token": nm_inference_flops(model, 1), **cb.summary()}


def cached_run(spec: RunSpec) -> dict:
    """`train_run` cached under `cache_path(STAGE, slug, spec)`; reused when complete."""
    from ...cache import atomic_dir, cache_path, is_complete

    key = {**asdict(spec), "model_config": model_config(spec, char_vocab_size())}
    folder = cache_path(STAGE, spec.slug(), key)
    if is_complete(folder):
        return json.loads((folder / "result.json").read_text())
    record = train_run(spec)
    with atomic_dir(folder) as tmp:
        (tmp / "result.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    return record


ARTIFACT = "04_nm_training/runs"  # every run's record, one Parquet table (artifacts/)
COMMAND = "make report NB=04 PROFILE=full"
TIMING = ("wall_s", "cpu_s")  # measured, kept as columns of the table, never in metrics.json


def train_all(specs: list[RunSpec], workers: int) -> list[dict]:
    """Records of `specs`, trained (or read from the per-run cache), in the order given."""
    from ...progress import bar

    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            return list(bar(pool.map(cached_run, specs), total=len(specs), desc="study 04 runs"))
    return [cached_run(s) for s in bar(specs, desc="study 04 runs")]


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
    return {"runs": [{**asdict(s), "model_config": model_config(s, vocab)} for s in specs]}


def run(cfg: Config) -> pd.DataFrame:
    """Train (or load) every run of the grid; one row per run with its record.

    The runs table is the artifact `04_nm_training/runs` (`sparselab.artifacts`): the full
    profile reads the committed one and builds it only when it is missing.
    """
    from ...artifacts import get_or_build
    from .checks import check_config

    check_config(cfg)  # bad parameters fail here, naming the value, before anything trains
    specs = run_specs(cfg) + iso_flops_specs(cfg)
    table = get_or_build(ARTIFACT, config=artifact_config(specs), kind="table",
                         build_fn=lambda: runs_table(train_all(specs, cfg.workers)),
                         version=VERSION, command=COMMAND)
    return results_frame(table_records(table), cfg.steps)


def results_frame(records: list[dict], steps: int | None = None) -> pd.DataFrame:
    """Flatten run records into a DataFrame (one row per run).

    `extended` marks runs longer than the grid's `steps` (SR-STE at matched FLOPs); the
    equal-steps tables leave them out.
    """
    rows = []
    for r in records:
        s = r["spec"]
        n, m = (int(v) for v in s["pattern"].split(":"))
        rows.append({"recipe": s["recipe"], "pattern": s["pattern"], "seed": s["seed"],
                     "steps": s["steps"], "extended": steps is not None and s["steps"] != steps,
                     "sparsity": 1 - n / m, "val_bpc": r["val_bpc"],
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
