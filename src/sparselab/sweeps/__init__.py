"""One sweep executor for every study: cells cached one file each, serial / local / Dask.

    from sparselab.sweeps import run_sweep
    res = run_sweep(score_cell, [{"model": "xs", "length": 64, "seed": 0}, ...],
                    stage="sparse_attention", version=3, executor="dask")
    df = res.frame()          # inputs + row + error, in the cells' order

`cells` is the cell format (`<cache>/cells/<stage>/<slug>-<hash>.json`), `backends` the three
ways to run them, `threads` the per-worker thread caps.
"""
from __future__ import annotations

from .backends import EXECUTORS, SCHEDULER_ENV, SchedulerLostError, SweepTimeout, scheduler_address
from .cells import cell_key, cell_path, stage_dir
from .run import SweepError, SweepResult, load_rows, run_sweep, stage_frame

__all__ = [
    "EXECUTORS",
    "SCHEDULER_ENV",
    "SchedulerLostError",
    "SweepError",
    "SweepResult",
    "SweepTimeout",
    "cell_key",
    "cell_path",
    "load_rows",
    "run_sweep",
    "scheduler_address",
    "stage_dir",
    "stage_frame",
]
