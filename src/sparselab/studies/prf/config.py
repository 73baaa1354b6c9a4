"""Parameters of notebooks/03_prf_interpolation.ipynb: the study's Config (defaults = smoke profile)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import StudyConfig


@dataclass
class Config(StudyConfig):
    """Parameters of notebooks/03_prf_interpolation.ipynb (defaults = smoke profile)."""

    datasets: list = field(default_factory=lambda: ["cranfield"])
    partners: list = field(default_factory=lambda: ["bm25"])
    prf_methods: list = field(default_factory=lambda: ["average", "rocchio"])
    prf_depths: list = field(default_factory=lambda: [1, 3, 5])
    rocchio_weights: list = field(default_factory=lambda: [[0.4, 0.6], [0.7, 0.3]])
    alphas: list = field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0])
    normalize: bool = True
    depth: int = 1000
    measures: list = field(default_factory=lambda: ["nDCG@10", "AP@1000", "R@100", "R@1000"])
    tune_measure: str = "nDCG@10"
    tune_splits: dict = field(default_factory=lambda: {"scifact": "train", "nfcorpus": "dev"})
    cv_folds: int = 5
    seed: int = 0
    significance: float = 0.05
    latency_dataset: str = "cranfield"
    latency_queries: int = 20
