"""Parameters of notebooks/00_datasets.ipynb: the study's Config (defaults = smoke profile)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..base import StudyConfig


@dataclass
class Config(StudyConfig):
    """Parameters of notebooks/00_datasets.ipynb (defaults = smoke profile)."""

    collections: list = field(default_factory=lambda: ["adi", "cranfield"])
    texts: list = field(default_factory=lambda: ["tinystories-sample"])
    max_length: int = 600  # words; longer documents are clipped in the length histograms
