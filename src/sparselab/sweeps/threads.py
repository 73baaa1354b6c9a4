"""Thread hygiene: every process that runs cells uses exactly its share of the cores.

A cell's floating-point result depends on its thread count (reductions split differently), so
the count is fixed per sweep (`threads`, default 1) and applied in every backend, serial
included. Left alone, each worker process would start torch, numba and BLAS pools as wide as the
machine: 2 workers on 2 cores would run 4+ busy threads (oversubscription).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

# Read by OpenMP / BLAS / numba when their pools start (a spawned worker sets them before it
# imports torch or numpy's BLAS); pools already running are capped through the libraries below.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


def worker_env(threads: int) -> dict[str, str]:
    """Environment variables for a worker process with `threads` threads."""
    return {k: str(int(threads)) for k in THREAD_ENV}


def set_env(threads: int) -> None:
    """Set the thread variables in this process (before heavy imports, in a fresh worker)."""
    os.environ.update(worker_env(threads))


def apply(threads: int) -> dict:
    """Cap torch, numba and BLAS/OpenMP pools of this process at `threads`; returns the settings.

    Idempotent and cheap, so it runs before every cell (a Dask worker may be started by hand
    without the environment variables).
    """
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    n = int(threads)
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    # numba cannot exceed the pool size it was started with (NUMBA_NUM_THREADS)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(n)
    return current()


def current() -> dict:
    """Thread counts this process would use now: torch, numba and each BLAS/OpenMP pool."""
    import numba
    import torch
    from threadpoolctl import threadpool_info

    pools = sorted({(p.get("internal_api", "?"), int(p.get("num_threads", 0)))
                    for p in threadpool_info()})
    return {"torch": torch.get_num_threads(), "numba": numba.get_num_threads(),
            "pools": [f"{api}={n}" for api, n in pools]}


@contextlib.contextmanager
def limited(threads: int) -> Iterator[dict]:
    """`apply` for the duration of a block, restoring this process's settings afterwards.

    The serial backend runs cells in the caller's process (a notebook kernel): leave its
    settings as they were.
    """
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    before_torch, before_numba = torch.get_num_threads(), numba.get_num_threads()
    with threadpool_limits(int(threads)):
        try:
            yield apply(threads)
        finally:
            torch.set_num_threads(before_torch)
            numba.set_num_threads(before_numba)
