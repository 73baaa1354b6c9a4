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
    # issue 15's design (opt-in: these defaults reproduce the earlier grid run for run)
    claim_seeds: list = field(default_factory=list)  # extra seeds on the cells claims rest on
    test_split: bool = False  # halve the held-out text into val and test; report on test
    plateau_check: bool = False  # also train dense for steps // 2 to check the plateau
    tune_budget: int = 0  # configurations tuned per recipe on validation (0: no tuning)
    tune_pattern: str = "1:16"  # the pattern sparse recipes are tuned on, carried to all
    tune_seeds: list = field(default_factory=lambda: [0])  # seeds of the tuning runs
    stages: str = "one"  # artifacts: "one" runs table (and one tuning table); "seed" or "seed_recipe": one per seed (and recipe), tuning one per recipe, each saved as it completes
    workers: int = 2
    executor: str = "local"  # how sweeps run their cells: serial, local (processes) or dask
    scheduler: str = ""  # Dask scheduler (tcp://host:8786); "": $SPARSELAB_SCHEDULER or a local cluster
