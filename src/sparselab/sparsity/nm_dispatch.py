"""Packed or dense: pick the faster product per batch size from a per-machine calibration.

At batch 1 a linear layer is memory-bound and the packed N:M kernel wins by the bytes it does
not read. As the batch grows the product becomes compute-bound and a dense BLAS GEMM catches
up (for 2:4 first). `calibrate` times both at a ladder of batch sizes and records, per
pattern, value dtype and thread count, the crossover: the largest batch up to which packed is
faster (by `MARGIN`) at every rung. `nm_linear` runs packed up to the crossover, dense above.

Calibrations are JSON keyed by CPU model, looked up in this order:
1. `data/cache/nm_calibration/<cpu>.json` (`sparselab bench nm --calibrate` on this machine),
2. `benchmarks/results/nm_calibration.json` (committed, from `benchmarks/nm_cpu.py --final`)
   when it was measured on the same CPU model,
3. `default_crossover(m)`: packed up to batch 8 for M <= 4, up to 64 otherwise.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import atomic_write_json
from ..paths import cache_dir, repo_root
from ..reports.provenance import cpu_model
from .packed import PackedNM

LADDER = (1, 2, 4, 8, 16, 32, 64, 128)
MARGIN = 1.05  # packed must win by 5 %: a near-tie at calibration can lose to noise later


def default_crossover(m: int) -> int:
    """Crossover used without a calibration for this CPU. From this project's 2-core AMD EPYC
    (loaded, so rough): the 2:4 kernel was 1.9-2.5x dense at batch 8 and 0.8x at 64; 1:8 was
    2.8-4x dense at 64. So M <= 4 packs up to batch 8, sparser patterns up to 64."""
    return 8 if m <= 4 else 64


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower() or "unknown"


def calibration_path(cpu: str | None = None) -> Path:
    """Per-machine calibration file under the cache."""
    return cache_dir() / "nm_calibration" / f"{_slug(cpu or _this_cpu())}.json"


def committed_calibration_path() -> Path:
    return repo_root() / "benchmarks" / "results" / "nm_calibration.json"


def _key(n: int, m: int, dtype: str, threads: int) -> str:
    return f"{n}:{m}/{dtype}/threads={threads}"


@lru_cache(maxsize=4)
def _load(cpu: str) -> dict:
    for path in (calibration_path(cpu), committed_calibration_path()):
        if path.exists():
            data = json.loads(path.read_text())
            if data.get("cpu") == cpu:
                return data
    return {}


@lru_cache(maxsize=1)
def _this_cpu() -> str:
    return cpu_model()  # reads /proc/cpuinfo: once per process, not once per product


def load_calibration(cpu: str | None = None) -> dict:
    """The calibration for this CPU model ({} when none was measured)."""
    return _load(cpu or _this_cpu())


@lru_cache(maxsize=256)
def crossover(n: int, m: int, dtype: str = "float32", threads: int = 1) -> int:
    """Largest batch at which the packed kernel is used (see the module docstring).
    Cached: it is looked up on every product; `save_calibration` clears the cache."""
    entry = load_calibration().get("crossover", {}).get(_key(n, m, dtype, threads))
    return int(entry) if entry is not None else default_crossover(m)


def crossover_from_speedups(speedups: dict[int, float]) -> int:
    """Largest batch b such that packed beat dense (speed-up >= MARGIN) at every measured batch
    <= b; 0 when it already lost at the smallest."""
    best = 0
    for b in sorted(speedups):
        if speedups[b] < MARGIN:
            break
        best = b
    return best


def save_calibration(entries: dict[str, dict[int, float]], meta: dict,
                     path: Path | None = None) -> Path:
    """Write {key: {batch: speed-up}} and the crossovers they imply for this CPU."""
    data = {"cpu": _this_cpu(), **meta,
            "speedups": {k: {str(b): s for b, s in v.items()} for k, v in entries.items()},
            "crossover": {k: crossover_from_speedups(v) for k, v in entries.items()}}
    out = atomic_write_json(path or calibration_path(), data)
    clear_caches()
    return out


def clear_caches() -> None:
    """Forget loaded calibrations (after writing one, or when the cache folder changes)."""
    _load.cache_clear()
    crossover.cache_clear()


def nm_linear(x, packed: PackedNM, dense_weight=None, bias=None, threads: int | None = None):
    """`x @ W.T + bias` (torch tensors in and out): packed kernel up to the crossover batch,
    `torch.matmul` with `dense_weight` (the masked (O, K) weight) above it when given.

    Args:
        x: (..., K) float32 tensor.
        packed: the packed weight.
        dense_weight: optional (O, K) float32 tensor; without it every batch runs packed.
        threads: thread count the crossover is looked up for (default: torch's setting).
    """
    import torch

    rows = x.numel() // packed.in_features
    threads = torch.get_num_threads() if threads is None else threads
    dtype = "float32" if packed.values.dtype == np.float32 else "bfloat16"
    if dense_weight is not None and rows > crossover(packed.n, packed.m, dtype, threads):
        y = torch.matmul(x, dense_weight.T)
        return y if bias is None else y + bias
    from .packed_kernels import nm_matmul

    x2 = x.detach().reshape(rows, packed.in_features).to(torch.float32).numpy()
    y = torch.from_numpy(nm_matmul(x2, packed, threads=threads))
    y = y.reshape(*x.shape[:-1], packed.out_features)
    return y if bias is None else y + bias
