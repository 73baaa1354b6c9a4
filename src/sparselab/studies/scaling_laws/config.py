"""Parameters of notebooks/02_scaling_laws.ipynb: the study's Config (defaults = smoke profile)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import StudyConfig


@dataclass
class Config(StudyConfig):
    """Parameters of notebooks/02_scaling_laws.ipynb (defaults = smoke profile)."""

    grid: str = "smoke"  # study 01 parameter profile whose grid is fitted
    link: str = "logit"
    eps: float = 0.02
    n_boot: int = 200
    exclude_methods: list = field(default_factory=lambda: ["dense", "oracle_topk"])
    min_dense_accuracy: float = 0.0
    compression: str = "label"  # "label": the grid's levels, rows averaged over methods; "achieved": each method's measured compression, one row per method
    target_errors: list = field(default_factory=lambda: [0.1, 0.25])
    executor: str = "local"  # how sweeps run their cells: serial, local (processes) or dask
    scheduler: str = ""  # Dask scheduler (tcp://host:8786); "": $SPARSELAB_SCHEDULER or a local cluster
