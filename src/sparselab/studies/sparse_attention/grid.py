"""Study 01's sweep engine: one grid cell = (model, length, task, phase, method, level).

A cell scores `n` held-out samples of one task with one sparse method in one phase:

* prefill phase: the method runs the prompt prefill in every layer (its first answer token
  comes from those logits); the rest of the answer is decoded densely over the cache it built;
* decode phase: dense prefill, then the method compresses / selects the cache for every
  generated answer token (the first answer token is the dense prefill's, as in the paper).

Level 1 (no compression) is dense for every method (the attention library tests that full
budget equals dense), so one dense run per (model, length, task) serves every level-1 cell.
Each cell's per-sample scores are cached under `cache_path("sparse_attention", ...)`, so an
interrupted sweep resumes and a rerun is instant. All samples of a cell go through one batch.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...attention import DECODE, PREFILL, params_for_length
from ...models.lm import TinyLM, flops_per_token, prefill_flops

VERSION = 3  # bump when the scoring protocol changes (invalidates cached cells); 3: sweep cells


@dataclass(frozen=True)
class Cell:
    """One grid point; `level` is the compression ratio C (flexprefill: mapped to its alpha)."""

    phase: str  # "prefill" or "decode"
    method: str
    level: float


def method_kwargs(phase: str, method: str, level: float, length: int,
                  flex_alpha: dict) -> dict[str, Any]:
    """Constructor arguments: windows scaled to `length` plus the budget for `level`.

    Args:
        flex_alpha: compression level -> FlexPrefill coverage alpha (its budget adapts, so the
            grid's C is only a label for it; the achieved sparsity is measured).
    """
    kw = params_for_length(phase, method, length)
    kw.update(short_length_overrides(phase, method, length))
    if method == "dense":
        return kw
    if phase == "prefill" and method == "flexprefill":
        alpha = {float(k): float(v) for k, v in flex_alpha.items()}
        if float(level) not in alpha:
            raise ValueError(f"flex_alpha has no entry for compression level {level}")
        kw["alpha"] = alpha[float(level)]
    else:
        kw["compression"] = float(level)
    return kw


def short_length_overrides(phase: str, method: str, length: int) -> dict[str, Any]:
    """Window sizes below `params_for_length`'s floors, for our 64-256-token prompts.

    `params_for_length` never goes below 16 local diagonals / 16-token blocks, which at L = 64
    is a quarter of the prompt: every budget would then be nearly dense. Here the local band
    and block size are L / 16 (4, 8, 16 tokens at L = 64, 128, 256), i.e. 1/16 of the prompt,
    still 16x more (relative to L) than the paper's 64 diagonals at 16K tokens. Quest's page is
    L / 16 tokens too (16 pages at every length; its default 16-token page would leave 4 pages
    at L = 64, too coarse for any budget between dense and one page).

    From L = 2048 on (`PAPER_GRANULARITY_LENGTH`) nothing is overridden: `params_for_length`
    has reached METHODS §2's sizes (64-token blocks and local band, 16-token Quest pages and
    Block-Sparse blocks, SnapKV pooling 21), as issue 14 asks of the long design.
    """
    if length >= PAPER_GRANULARITY_LENGTH:  # long prompts: the paper's granularity as is
        return {}
    local = max(4, min(64, length // 16))
    if phase == "prefill" and method in ("vertical_slash", "flexprefill"):
        return {"local": local, "block": local}
    if phase == "prefill" and method in ("block_sparse", "sliding_window"):
        return {"block": local}
    if phase == "decode" and method == "quest":
        return {"page": local}
    return {}


PAPER_GRANULARITY_LENGTH = 2048
LAYOUT_METHODS = ("vertical_slash", "block_sparse", "flexprefill", "sliding_window")


def base_kwargs(phase: str, method: str, length: int) -> dict[str, Any]:
    """Constructor arguments of `method` at `length` without its budget (compression / alpha)."""
    kw = method_kwargs(phase, method, 1.0, length, {1: 1.0})
    kw.pop("compression", None)
    kw.pop("alpha", None)
    return kw


def build_method(phase: str, method: str, level: float, length: int, flex_alpha: dict,
                 backend: str = "torch"):
    """Instantiated prefill or decode method for one cell.

    `backend` applies to the block-layout prefill methods only ("kernel": the numba CPU
    kernel, equal to torch within fp32 tolerance and faster here; oracle_topk is token-level).
    """
    reg = PREFILL if phase == "prefill" else DECODE
    kw = method_kwargs(phase, method, level, length, flex_alpha)
    if phase == "prefill" and method in LAYOUT_METHODS:
        kw["backend"] = backend
    return reg.get(method)(**kw)


@torch.no_grad()
def decode_after_prefill(model: TinyLM, pre, length: int, n_new: int, decode):
    """Greedy answer ids (B, <= n_new) continuing a `TinyLM.prefill` result with `decode`.

    Reuses one prefill for many decode methods (`TinyLM.continue_decoding`).
    Returns ids and the mean nominal/effective decode sparsity over steps and layers.
    """
    # No early stop at <eos>: every cell then measures sparsity over the same decode steps
    # (the scorer cuts each answer at its first <eos>).
    ids, stats = model.continue_decoding(pre, length, n_new, decode, eos=None)
    nom = np.mean([s["nominal_sparsity"] for s in stats]) if stats else 0.0
    eff = np.mean([s["effective_sparsity"] for s in stats]) if stats else 0.0
    return ids, {"nominal_sparsity": float(nom), "effective_sparsity": float(eff)}


def cell_flops(cfg, length: int, n_new: int, prefill_density: float, decode_density: float) -> float:
    """Forward FLOPs of one sample: prefill of `length` tokens plus `n_new - 1` decoded tokens."""
    steps = max(n_new - 1, 0)
    decode = sum(flops_per_token(cfg, length + t + 1, decode_density) for t in range(steps))
    return prefill_flops(cfg, length, prefill_density) + decode


STAGE = "sparse_attention"  # cells live under <cache>/cells/sparse_attention/


def sweep_cell(model_name: str, model_key: dict, weights: str, length: int, task: str,
               cell: Cell, n: int, flex_alpha: dict, backend: str = "torch",
               budget: dict | None = None, protocol: str = "answer") -> dict:
    """One grid point as a `sparselab.sweeps` cell: everything its scores depend on.

    `weights` is the sha of the exact weights scored (`workers.weights_sha`). `backend` is
    part of the cell only where it is used (block-layout prefill methods): the numba kernel
    equals torch within fp32 tolerance, not bit for bit. `budget`: the calibrated budget
    arguments (`calibrate`) replacing the level's label; `protocol`: the decode protocol
    (`protocol.PROTOCOLS`). Both enter the cell only when given / not "answer", so the cells of
    the original design keep their keys.
    """
    uses_backend = cell.phase == "prefill" and cell.method in LAYOUT_METHODS
    kwargs = (method_kwargs(cell.phase, cell.method, cell.level, length, flex_alpha)
              if budget is None or cell.method == "dense"
              else base_kwargs(cell.phase, cell.method, length) | dict(budget))
    out = {"model": model_name, "length": int(length), "task": task, "phase": cell.phase,
           "method": cell.method, "level": float(cell.level), "n": int(n), "kwargs": kwargs,
           "backend": backend if uses_backend else None, "weights": weights,
           "model_key": model_key}
    if protocol != "answer" and cell.phase == "decode" and cell.method != "dense":
        out["protocol"] = protocol
    return out


def unit_cells(model_name: str, model_key: dict, weights: str, task, n: int, cells: list[Cell],
               flex_alpha: dict, backend: str = "torch", budgets: dict | None = None,
               protocol: str = "answer") -> list[dict]:
    """The sweep cells one (model, length, task) needs: dense once, then every sparse level
    (level 1 is dense for every method, so those rows are served by the dense cell).

    `budgets`: {Cell: budget arguments} of a calibrated design (None: the levels' labels)."""
    todo = [DENSE] + [c for c in cells if c.level != 1 and c != DENSE]
    return [sweep_cell(model_name, model_key, weights, task.length, task.key, c, n, flex_alpha,
                       backend, None if budgets is None else budgets.get(c), protocol)
            for c in todo]


def unit_rows(cells: list[Cell], records: list[dict]) -> list[dict]:
    """Rows in `cells`' order from the records of `unit_cells` (same order)."""
    todo = [DENSE] + [c for c in cells if c.level != 1 and c != DENSE]
    by_cell = dict(zip(todo, records))
    return [{"phase": c.phase, "method": c.method, "level": float(c.level),
             **(by_cell[DENSE] if c.level == 1 else by_cell[c])} for c in cells]


DENSE = Cell("prefill", "dense", 1.0)


def _record(scores, pre_stats: dict, dec_stats: dict) -> dict:
    return {"scores": [float(s) for s in scores],
            "prefill_nominal": pre_stats.get("nominal_sparsity", 0.0),
            "prefill_effective": pre_stats.get("effective_sparsity", 0.0),
            "decode_nominal": dec_stats.get("nominal_sparsity", 0.0),
            "decode_effective": dec_stats.get("effective_sparsity", 0.0)}


@torch.no_grad()
def batch_size(length: int) -> int:
    """Prompts per forward batch at long lengths: 2**24 / L^2 (one prompt at L = 4096, 64 at
    L = 512); token-level methods hold (B, H, L, L) score matrices."""
    return max(1, (1 << 24) // (int(length) ** 2))


def score(model: TinyLM, task, cell: dict) -> dict:
    """Score one sweep cell's `n` held-out samples with `model` (one batch below
    PAPER_GRANULARITY_LENGTH, as the original design always did; batches of `batch_size(L)`
    from there on, the sparsities averaged over prompts).

    Prefill cells run the method in the prefill and decode densely; decode cells prefill
    densely and run the method at every generated token.
    """
    samples = [task.sample(i, "test") for i in range(cell["n"])]
    step = len(samples) if cell["length"] < PAPER_GRANULARITY_LENGTH else batch_size(cell["length"])
    parts = [_score_batch(model, task, cell, samples[i:i + step])
             for i in range(0, len(samples), max(1, step))]
    if len(parts) == 1:
        return parts[0]
    sizes = np.array([len(p["scores"]) for p in parts], float)
    out = {"scores": [x for p in parts for x in p["scores"]]}
    for k in parts[0]:
        if k != "scores":
            out[k] = float(np.dot([p[k] for p in parts], sizes) / sizes.sum())
    return out


def _score_batch(model: TinyLM, task, cell: dict, samples: list) -> dict:
    length, kw = cell["length"], dict(cell["kwargs"])
    x = torch.from_numpy(np.stack([s.prompt for s in samples]))  # (B, T)
    n_new, eos = task.max_answer_len(), task.vocab.eos
    if cell["backend"] is not None:
        kw["backend"] = cell["backend"]
    if cell.get("protocol", "answer") != "answer":  # decode on equal footing (`protocol`)
        from .protocol import question_len, run_decode

        ids, dec_stats = run_decode(model, x, DECODE.get(cell["method"])(**kw), n_new,
                                    cell["protocol"], question_len(samples))
        dec_stats.pop("density_per_sample")
        return _record([task.score(r, s) for r, s in zip(ids.numpy(), samples)], {}, dec_stats)
    if cell["phase"] == "prefill":
        pm = PREFILL.get(cell["method"])(**kw)
        ids, info = model.generate(x, n_new, prefill=pm, decode=DECODE.get("dense")(), eos=eos)
        pre_stats, dec_stats = info["prefill"], {}
    else:
        pre = model.prefill(x, PREFILL.get("dense")(), obs_window=length)
        ids, dec_stats = decode_after_prefill(model, pre, length, n_new, DECODE.get(cell["method"])(**kw))
        pre_stats = {}
    return _record([task.score(r, s) for r, s in zip(ids.numpy(), samples)], pre_stats, dec_stats)


def evaluate_unit(model: TinyLM, model_name: str, model_key: dict, task, n: int, cells: list[Cell],
                  flex_alpha: dict, backend: str = "torch") -> list[dict]:
    """Rows (one per cell) for one (model, length, task) scored in this process with `model`
    (cached as sweep cells; the study sweeps every unit at once with `workers.score_cell`)."""
    from ...sweeps import run_sweep
    from .workers import weights_sha

    todo = unit_cells(model_name, model_key, weights_sha(model), task, n, cells, flex_alpha,
                      backend)
    res = run_sweep(functools.partial(score, model, task), todo, stage=STAGE, version=VERSION,
                    executor="serial", progress=False)
    return unit_rows(cells, res.rows)


def summarise_row(row: dict, cfg, length: int, n_new: int) -> dict:
    """Add mean score and per-sample FLOPs (densities from the measured effective sparsity)."""
    pd_, dd = 1.0 - row["prefill_effective"], 1.0 - row["decode_effective"]
    c_nom = row["prefill_nominal"] if row["phase"] == "prefill" else row["decode_nominal"]
    c_eff = row["prefill_effective"] if row["phase"] == "prefill" else row["decode_effective"]
    return {**row, "accuracy": float(np.mean(row["scores"])),
            "nominal_sparsity": c_nom, "effective_sparsity": c_eff,
            "nominal_compression": 1.0 / max(1e-9, 1.0 - c_nom),
            "effective_compression": 1.0 / max(1e-9, 1.0 - c_eff),
            "flops": cell_flops(cfg, length, n_new, pd_, dd),
            "attention_share": _attention_share(cfg, length)}


def _attention_share(cfg, length: int) -> float:
    """Fraction of a dense prefill's FLOPs spent in attention (the Amdahl bound's f_att)."""
    total = prefill_flops(cfg, length, 1.0)
    return float((total - prefill_flops(cfg, length, 0.0)) / total) if total else math.nan
