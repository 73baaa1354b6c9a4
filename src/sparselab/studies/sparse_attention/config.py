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
    train_task_weights: dict = field(default_factory=dict)  # task sampling weights ({}: uniform)
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
    budgets: str = "labels"  # "labels": levels are budget arguments; "calibrated": target achieved C
    calibration_samples: int = 8  # prompts per task the calibration measures compression on
    decode_protocol: str = "answer"  # "answer": first answer token from dense prefill; "question": all by the method
    seeds: dict = field(default_factory=dict)  # training seeds per model (absent: [0]), e.g. {"xs": [0, 1]}
    search: str = "grid"  # "grid": every level scored; "adaptive": bisect levels per task for the largest non-inferior
    stages: str = "one"  # "one": one calibration and one grid artifact; "model": one of each per model instance
    timing_repeats: int = 0  # prefill wall-time repeats per (model, length, method, C) for design.json (0: none)
    executor: str = "local"  # how sweeps run their cells: serial, local (processes) or dask
    scheduler: str = ""  # Dask scheduler (tcp://host:8786); "": $SPARSELAB_SCHEDULER or a local cluster

    def model_seeds(self, name: str) -> list[int]:
        """Training seeds of family member `name` (seed 0 alone unless `seeds` says more)."""
        return [int(k) for k in self.seeds.get(name, [0])]

    def instances(self) -> list[tuple[str, str, int]]:
        """(instance, family member, seed) of every trained model; seed 0 keeps the member's
        name, seed k > 0 is `<name>-seed<k>`."""
        return [(name if k == 0 else f"{name}-seed{k}", name, k) for name in self.models
                for k in self.model_seeds(name)]

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
