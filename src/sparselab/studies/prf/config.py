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
    alphas: list = field(default_factory=lambda: [0.1, 0.5, 1.0, 2.0])
    normalize: bool = True
    depth: int = 1000
    measures: list = field(default_factory=lambda: ["nDCG@10", "AP@1000", "R@100", "R@1000"])
    tune_measure: str = "nDCG@10"
    tune_splits: dict = field(default_factory=lambda: {"scifact": "train", "nfcorpus": "dev"})
    cv_folds: int = 5
    seed: int = 0
    significance: float = 0.05
    default_alpha: float = 0.1
    min_prf_depth: int = 2
    equiv_margin: float = 0.01
    coincide_share: float = 0.99
    coincide_depth: int = 10
    latency_dataset: str = "cranfield"
    latency_queries: int = 20

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:  # the shared type checks, where the base class has them
            parent()
        where = f"{type(self).__module__}.Config"
        bad = [a for a in self.alphas if not float(a) > 0]
        if bad or not self.alphas:
            # alpha = 0 turns a placement into another one (post into dense+prf, both into
            # pre), so the tuned comparison would contain its competitors
            raise ValueError(f"{where}: parameter 'alphas' must be non-empty and every value "
                             f"> 0, got {self.alphas!r}")
        if not self.default_alpha > 0:
            raise ValueError(f"{where}: parameter 'default_alpha' must be > 0, got "
                             f"{self.default_alpha!r}")
        if not any(int(k) >= self.min_prf_depth for k in self.prf_depths):
            raise ValueError(f"{where}: parameter 'prf_depths' {self.prf_depths!r} has no depth "
                             f">= min_prf_depth = {self.min_prf_depth}")
        if not self.equiv_margin > 0:
            raise ValueError(f"{where}: parameter 'equiv_margin' must be > 0, got "
                             f"{self.equiv_margin!r}")
        if not 0 < self.coincide_share <= 1:
            raise ValueError(f"{where}: parameter 'coincide_share' must lie in (0, 1], got "
                             f"{self.coincide_share!r}")
        if self.coincide_depth < 1:
            raise ValueError(f"{where}: parameter 'coincide_depth' must be >= 1, got "
                             f"{self.coincide_depth!r}")
        if self.tune_measure not in self.measures:
            raise ValueError(f"{where}: parameter 'tune_measure' {self.tune_measure!r} is not "
                             f"in measures {self.measures!r}")
