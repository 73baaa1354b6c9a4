"""Serve study 04's trained N:M models through the packed CPU kernel (issue 15, after issue 19).

Which models: for the first seed, the dense run and, at every pattern of the grid (the split
setting included), the sparse recipe with the lowest mean **validation** bpc there (chosen
without the test split). Each is trained again from its spec (`pipeline.train_model`: same
seed, same data order, one torch thread, so the retrained model's validation bpc equals the
grid's) and kept as an fp32 checkpoint artifact, `04_nm_training/serve/<run>`: what a reader
would deploy, and what the report serves.

`measure(models, ...)` then, per sparse model and in one process:
- scores the deployable masked model (`NMLinear` in eval mode: `W * hard_mask` through dense
  BLAS) and the same model packed (`inference.pack_model`, every batch through the packed
  kernel) on the same windows: both bpc, and the largest logit difference;
- decodes greedily at batch 1 with the packed model and with its dense twin (the masked
  weights in plain `nn.Linear`s), alternating (`bench_lm.compare_decoding`): tokens/s of each
  and whether they emit the same ids;
- times one 4096 x 4096 layer with the model's pattern at batch 1 (`bench.time_nm`, cold):
  these models are small enough for their layers to stay in cache, a 4096-wide layer is not.

The measurement is the artifact `04_nm_training/serve/measured` (a table), so the report
rebuilds from artifacts with the numbers of the run that measured them, and names that run's
machine and load.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .config import Config

ARTIFACT = "04_nm_training/serve"
WIDE = 4096  # the realistic layer width of the layer timing
PROMPT, NEW_TOKENS = 64, 64  # decode: prompt characters, tokens generated
VERSION = 1  # bump when the measurement protocol changes


def served_specs(df: pd.DataFrame, cfg: Config) -> list:
    """RunSpecs to serve: the dense run and the best sparse recipe (lowest mean validation
    bpc over `cfg.seeds`, which every cell has; `claim_seeds` only some) at each pattern, all
    at the first seed."""
    from .pipeline import RunSpec

    grid = df[df.role == "grid"] if "role" in df else df
    seed = int(cfg.seeds[0])
    picks = []
    dense = grid[(grid.recipe == "dense") & (grid.seed == seed)]
    if len(dense):
        picks.append(dense.iloc[0])
    sparse = grid[(grid.recipe != "dense") & grid.seed.isin([int(k) for k in cfg.seeds])]
    for pattern in cfg.patterns:
        at = sparse[sparse.pattern == pattern]
        if not len(at):
            continue
        best = at.groupby("recipe").val_bpc.mean().sort_values(kind="stable").index[0]
        row = at[(at.recipe == best) & (at.seed == seed)]
        if len(row):
            picks.append(row.iloc[0])
    return [RunSpec(**r.record["spec"]) for r in picks]


def artifact_name(spec) -> str:
    """`04_nm_training/serve/<recipe>-<pattern>-seed<k>-<steps>steps` (artifact-safe)."""
    return f"{ARTIFACT}/{spec.slug().replace(',', '+')}"


def checkpoint(spec):
    """(trained model in eval mode, meta {val_bpc, test_bpc?}) of `spec`, from its checkpoint
    artifact or trained now (and saved, in the modes that save)."""
    import torch

    from ...artifacts import get_or_build
    from .pipeline import COMMAND, build_run_model, char_splits, spec_cell, train_model

    def build():
        model, rec = train_model(spec)
        meta = {"val_bpc": rec["val_bpc"], **({"test_bpc": rec["test_bpc"]}
                                              if "test_bpc" in rec else {})}
        return model.state_dict(), meta

    state, meta = get_or_build(artifact_name(spec), config=spec_cell(spec), kind="checkpoint",
                               build_fn=build, version=VERSION, command=COMMAND, dtype="fp32")
    torch.manual_seed(0)
    model, _ = build_run_model(spec, char_splits(spec.text, test=spec.test_split)[1])
    model.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return model.eval(), meta


def _patterns(spec) -> list[str]:
    """Distinct N:M patterns of a run (two for a split setting)."""
    from ...sparsity import is_split

    if not is_split(spec.pattern):
        return [spec.pattern]
    return sorted({p.split("=")[1] for p in spec.pattern.split(",")}, key=spec.pattern.index)


def measure_one(spec, model, ids: np.ndarray, windows: int, threads: int = 1,
                repeats: int = 3, layer_repeats: int = 7) -> dict:
    """The serving row of one sparse model (see the module docstring)."""
    import copy

    import numba
    import torch

    from ...sparsity.bench import time_nm
    from ...sparsity.bench_lm import compare_decoding
    from ...sparsity.inference import dense_twin, pack_model
    from .pipeline import bits_per_char

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    packed = pack_model(copy.deepcopy(model), keep_dense=False)  # every batch packed
    twin = dense_twin(model)
    with torch.no_grad():
        x = torch.from_numpy(ids[:spec.seq_len * 4].reshape(4, spec.seq_len))
        logit_diff = float((packed(x) - model(x)).abs().max())
    masked_bpc = bits_per_char(model, ids, spec.seq_len, windows)
    packed_bpc = bits_per_char(packed, ids, spec.seq_len, windows)
    prompt = torch.from_numpy(ids[:PROMPT].copy())[None]
    dec = compare_decoding(packed, twin, prompt, NEW_TOKENS, repeats)
    row = {"recipe": spec.recipe, "pattern": spec.pattern, "seed": spec.seed,
           "masked_bpc": masked_bpc, "packed_bpc": packed_bpc,
           "bpc_diff": packed_bpc - masked_bpc, "max_logit_diff": logit_diff,
           "packed_tok_s": dec["packed_tok_s"], "dense_twin_tok_s": dec["dense_tok_s"],
           "generation_speedup": dec["speedup"], "same_ids": dec["same_ids"]}
    for i, pattern in enumerate(_patterns(spec)):
        t = time_nm(pattern, batch=1, size=WIDE, threads=threads, repeats=layer_repeats)
        tag = "" if i == 0 else f"_{i + 1}"
        row |= {f"layer_pattern{tag}": pattern, f"layer_{WIDE}_speedup{tag}": t["speedup"],
                f"layer_{WIDE}_packed_ms{tag}": 1e3 * t["packed_s"],
                f"layer_{WIDE}_dense_ms{tag}": 1e3 * t["dense_s"]}
    return row


def measure(df: pd.DataFrame, cfg: Config, threads: int = 1) -> pd.DataFrame:
    """The serving table (artifact `04_nm_training/serve/measured`): one row per served model;
    dense: its bpc only. Scored on the test split when the grid holds one out, else on val."""
    from ...artifacts import get_or_build
    from ...reports.provenance import cpu_model
    from .pipeline import COMMAND, TEXT, bits_per_char, char_splits, spec_cell

    specs = served_specs(df, cfg)

    def build() -> pd.DataFrame:
        splits = char_splits(TEXT, test=True)[0] if cfg.test_split else char_splits(TEXT)[0]
        split = "test" if cfg.test_split else "val"
        load = os.getloadavg()[0]
        rows = []
        for spec in specs:
            model, meta = checkpoint(spec)
            base = {"split": split, "retrained_val_bpc": meta["val_bpc"]}
            if spec.recipe == "dense":
                rows.append({"recipe": "dense", "pattern": "1:1", "seed": spec.seed, **base,
                             "masked_bpc": bits_per_char(model, splits[split], spec.seq_len,
                                                         cfg.val_windows)})
                continue
            rows.append({**measure_one(spec, model, splits[split], cfg.val_windows, threads),
                         **base})
        out = pd.DataFrame(rows)
        out["threads"] = threads
        out["cpu"] = cpu_model()
        out["load_1min_start"], out["load_1min_end"] = load, os.getloadavg()[0]
        return out

    config = {"runs": [spec_cell(s) for s in specs], "threads": threads, "wide": WIDE,
              "prompt": PROMPT, "new_tokens": NEW_TOKENS, "windows": cfg.val_windows,
              "test_split": cfg.test_split}
    table = get_or_build(f"{ARTIFACT}/measured", config=config, kind="table", build_fn=build,
                         version=VERSION, command=COMMAND)
    grid = {(r.recipe, r.pattern, r.seed): r.val_bpc for r in df.itertuples()}
    table["grid_val_bpc"] = [grid.get((r.recipe, r.pattern, r.seed), np.nan)
                             for r in table.itertuples()]
    return table


def table_serving(table: pd.DataFrame) -> pd.DataFrame:
    """The report's packed-kernel table (one row per served model): bpc masked vs packed,
    greedy ids equal, generation tokens/s packed vs dense twin, the 4096-wide layer's speed-up
    with the model's pattern(s). The split, the logit difference and the reproduction of the
    grid's bpc are in `describe`; every column is in the artifact."""
    names = {"masked_bpc": "masked_bpc", "packed_bpc": "packed_bpc", "same_ids": "same_ids",
             "packed_tok_s": "packed_tok_s", "dense_twin_tok_s": "twin_tok_s",
             "generation_speedup": "gen_speedup", "layer_pattern": "layer",
             f"layer_{WIDE}_speedup": f"layer_{WIDE}_speedup", "layer_pattern_2": "layer_2",
             f"layer_{WIDE}_speedup_2": f"layer_{WIDE}_speedup_2"}
    out = table.set_index(["recipe", "pattern"])[[c for c in names if c in table]]
    out = out.rename(columns=names)
    for c in out.columns:
        if c.endswith("_tok_s"):
            out[c] = out[c].round(1)
        elif out[c].dtype.kind == "f":
            out[c] = out[c].round(4)
    return out


def serving_metrics(table: pd.DataFrame) -> dict:
    """Deterministic serving numbers for metrics.json (bpc; not the speeds, which are
    measurements of one machine and live in the table and its artifact)."""
    out = {}
    for r in table.itertuples():
        key = f"{r.recipe}@{r.pattern}"
        out[f"{key}/masked_bpc"] = float(r.masked_bpc)
        if r.recipe != "dense":
            out[f"{key}/packed_bpc"] = float(r.packed_bpc)
            out[f"{key}/same_ids"] = bool(r.same_ids)
    return out


def describe(table: pd.DataFrame) -> str:
    """Markdown summary of the serving table, every number read from it."""
    sparse = table[table.recipe != "dense"]
    if not len(sparse):
        return "No sparse model to serve in this profile."
    worst = float(sparse.bpc_diff.abs().max())
    lines = [
        (f"Served {len(sparse)} sparse model(s) through the packed kernel on the "
        f"{sparse.split.iloc[0]} split. Packed bpc equals the masked model's to within "
        f"{worst:.1e} bpc (largest logit difference {float(sparse.max_logit_diff.max()):.1e}); "
        f"greedy decoding emitted the same ids in {int(sparse.same_ids.sum())} of "
        f"{len(sparse)} models. Retrained from their specs, the served models reproduce the "
        f"grid's validation bpc to within "
        f"{float((table.retrained_val_bpc - table.grid_val_bpc).abs().max()):.1e}."),
        (f"Generation at batch 1 ({int(sparse.threads.iloc[0])} thread, {NEW_TOKENS} tokens): "
        f"packed / dense twin {sparse.generation_speedup.min():.2f}x to "
        f"{sparse.generation_speedup.max():.2f}x. These models are small (their weights "
        f"stay in cache), so the {WIDE} x {WIDE} layer with each model's pattern shows the "
        f"speed at a realistic width: {sparse[f'layer_{WIDE}_speedup'].min():.2f}x to "
        f"{sparse[f'layer_{WIDE}_speedup'].max():.2f}x."),
        (f"Measured with 1-minute load average {float(sparse.load_1min_start.iloc[0]):.1f} at "
        f"the start and {float(sparse.load_1min_end.iloc[0]):.1f} at the end, on "
        f"{sparse.cpu.iloc[0]}."),
    ]
    return "\n\n".join(lines)
