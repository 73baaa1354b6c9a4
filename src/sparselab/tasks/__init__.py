"""Seeded long-context tasks (retrieval, multi-hop, aggregation, filtering) on one vocabulary."""
from .base import (
    SCORERS,
    TASKS,
    Sample,
    Task,
    collate,
    exact_match,
    pair_accuracy,
    position_accuracy,
    set_f1,
)
from .suite import build_tasks
from .vocab import Vocab

__all__ = ["SCORERS", "TASKS", "Sample", "Task", "Vocab", "build_tasks", "collate",
           "exact_match", "pair_accuracy", "position_accuracy", "set_f1"]
