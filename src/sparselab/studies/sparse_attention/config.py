"""Parameters of notebooks/01_sparse_attention_tradeoffs.ipynb: the study's Config (defaults = smoke profile)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import StudyConfig


@dataclass
class Config(StudyConfig):
    """Parameters of notebooks/01_sparse_attention_tradeoffs.ipynb (defaults = smoke profile)."""

    models: list = field(default_factory=lambda: ["xs", "s"])
    train_steps: dict = field(default_factory=lambda: {"xs": 150, "s": 100})
    train_lr: dict = field(default_factory=lambda: {"xs": 1e-2, "s": 1e-2})
    train_batch: dict = field(default_factory=lambda: {"xs": 16, "s": 16})
    train_lengths: list = field(default_factory=lambda: [64])
    train_short_frac: float = 0.0
    lengths: list = field(default_factory=lambda: [64])
    model_lengths: dict = field(default_factory=dict)
    tasks: list = field(default_factory=lambda: ["niah_single", "mqar"])
    prefill_methods: list = field(default_factory=lambda: ["dense", "vertical_slash", "block_sparse"])
    decode_methods: list = field(default_factory=lambda: ["dense", "quest", "snapkv"])
    prefill_compressions: list = field(default_factory=lambda: [1, 4, 16])
    decode_compressions: list = field(default_factory=lambda: [1, 4, 16])
    flex_alpha: dict = field(default_factory=lambda: {1: 1.0, 2: 0.99, 4: 0.97, 8: 0.93, 16: 0.85, 32: 0.7})
    n_samples: dict = field(default_factory=lambda: {"xs": 16, "s": 16})
    noninferiority: dict = field(default_factory=lambda: {"margin": 0.05, "alpha": 0.05, "min_dense": 0.25})

    @property
    def margin(self) -> float:
        return float(self.noninferiority["margin"])

    @property
    def alpha(self) -> float:
        return float(self.noninferiority["alpha"])

    @property
    def min_dense(self) -> float:
        """Dense accuracy below which a (model, length, task) is 'not learned' for the tests."""
        return float(self.noninferiority.get("min_dense", 0.0))
