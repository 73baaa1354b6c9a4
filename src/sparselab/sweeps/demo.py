"""Small cell functions for checking a backend or a cluster (and for the tests).

They live in the package, not in tests, because a `dask worker` started from the command line
imports a cell function by its module name.
"""
from __future__ import annotations

import os
import time
from pathlib import Path


def demo_cell(cell: dict) -> dict:
    """A deterministic cell: a seeded torch matmul chain and a numpy BLAS product.

    Cell keys: `seed` (int), `n` (matrix side, default 64); for tests: `sleep` (seconds before
    computing), `marker_dir` (writes `<seed>-<pid>.started` there first, so a test can find the
    process running the cell), `fail` (raise ValueError).
    """
    import numpy as np
    import torch

    seed, n = int(cell["seed"]), int(cell.get("n", 64))
    if cell.get("marker_dir"):
        Path(cell["marker_dir"], f"{seed}-{os.getpid()}.started").write_text("")
    if cell.get("sleep"):
        time.sleep(float(cell["sleep"]))
    if cell.get("fail"):
        raise ValueError(f"demo cell seed={seed} was asked to fail")
    gen = torch.Generator().manual_seed(seed)
    x, w = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen) / n**0.5
    for _ in range(4):
        x = torch.tanh(x @ w)  # (n, n)
    a = np.random.default_rng(seed).standard_normal((n, n))
    return {"torch_sum": float(x.sum()), "blas_norm": float(np.linalg.norm(a @ a.T)),
            "torch_threads": torch.get_num_threads()}


def busy_cell(cell: dict) -> dict:
    """Keeps torch and BLAS busy for `seconds` (large matmuls); for the thread measurement."""
    import numpy as np
    import torch

    n, until, k = int(cell.get("n", 384)), time.perf_counter() + float(cell["seconds"]), 0
    a = torch.randn(n, n, generator=torch.Generator().manual_seed(int(cell.get("seed", 0))))
    b = np.random.default_rng(int(cell.get("seed", 0))).standard_normal((n, n))
    while time.perf_counter() < until:
        a = torch.tanh(a @ a / n)
        b = np.tanh(b @ b / n)
        k += 1
    return {"iterations": k, "torch_threads": torch.get_num_threads()}
