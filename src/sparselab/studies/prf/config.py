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
    latency_dataset: str = "cranfield"
    latency_queries: int = 20

    # The study's design, fixed by the paper or by issue 16 (class constants, not parameters):
    default_alpha = 0.1  # paper-default fusion 0.1 * s_sparse + s_dense (Pyserini's default)
    min_prf_depth = 2  # the tuned_k2 block keeps PRF depths >= this, so that PRF acts
    equiv_margin = 0.01  # "Post = Both" within +-this on the claims measure (the paper: none)
    coincide_share = 0.99  # placements ranking alike on this share of queries coincide ...
    coincide_depth = 10  # ... compared on their top this many documents

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
        if not any(int(k) >= self.min_prf_depth for k in self.prf_depths):
            raise ValueError(f"{where}: parameter 'prf_depths' {self.prf_depths!r} has no depth "
                             f">= min_prf_depth = {self.min_prf_depth}")
        if self.tune_measure not in self.measures:
            raise ValueError(f"{where}: parameter 'tune_measure' {self.tune_measure!r} is not "
                             f"in measures {self.measures!r}")
