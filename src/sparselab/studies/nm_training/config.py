"""Parameters of notebooks/04_nm_training.ipynb: the study's Config (defaults = smoke profile)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import StudyConfig


@dataclass
class Config(StudyConfig):
    """Parameters of notebooks/04_nm_training.ipynb (defaults = smoke profile)."""

    patterns: list = field(default_factory=lambda: ["1:8"])
    recipes: list = field(default_factory=lambda: ["dense", "sr_ste", "mdgf_exp", "sdgf_stepwise"])
    seeds: list = field(default_factory=lambda: [0, 1])
    steps: int = 200
    model: str = "xs"
    batch_size: int = 16
    seq_len: int = 64
    lr: float = 3e-3
    warmup_frac: float = 0.1
    final_frac: float = 0.1
    oneshot_prune_at: float = 0.5
    eval_every: int = 25
    val_windows: int = 128
    flip_every: int = 5
    iso_flops_patterns: list = field(default_factory=list)
    workers: int = 2
