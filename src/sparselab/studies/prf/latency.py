"""Study 03's cost: per-query latency of each tuned system's pipeline, kept as an artifact.

A timing is a measurement of one machine at one moment, so it is measured once, stored as
`03_prf_interpolation/latency` (a table), and every rebuild reads it back: the page shows
the same numbers, and nothing timed enters metrics.json.
"""
from __future__ import annotations

import os

import pandas as pd

from .first_round import STUDY, get_or_build


def latency_specs(res) -> dict:
    """System -> Spec timed: the tuned choice for `cfg.latency_dataset` (the most frequent
    across folds), else for the first dataset studied."""
    cfg = res.cfg
    ds = res.datasets.get(cfg.latency_dataset) or next(iter(res.datasets.values()))
    modes = ds.choices.groupby("system", sort=False)["label"].agg(lambda x: x.mode().iloc[0])
    return {system: ds.specs[label] for system, label in modes.items()}


def measure_latency(res) -> pd.DataFrame:
    """Per-query latency (ms) of every system on `cfg.latency_dataset` (artifact `latency`):
    rows system, query_id, encode_ms, search_ms, prf+fusion_ms, total_ms."""
    from ...retrieval.latency import pipeline_latency

    cfg = res.cfg
    specs = latency_specs(res)
    config = {"dataset": cfg.latency_dataset, "queries": cfg.latency_queries, "k": cfg.depth,
              "normalize": cfg.normalize, "specs": {s: sp.label() for s, sp in specs.items()}}

    def build():
        out = pipeline_latency(cfg.latency_dataset, specs, cfg.latency_queries, k=cfg.depth,
                               k0=cfg.depth, normalize=cfg.normalize)
        out["load_1min"] = os.getloadavg()[0]  # the machine is shared: say how busy it was
        return out

    res.latency = get_or_build(f"{STUDY}/latency", config, build, kind="table")
    return res.latency


def table_latency(res) -> pd.DataFrame:
    """Mean and median per-query latency (ms) of each system, split into its stages."""
    lat = res.latency
    cols = [c for c in lat.columns if c.endswith("_ms")]  # load_1min is shown in the limitations
    out = lat.groupby("system", sort=False)[cols].mean()
    out["median_total_ms"] = lat.groupby("system", sort=False)["total_ms"].median()
    return out.round(2)
