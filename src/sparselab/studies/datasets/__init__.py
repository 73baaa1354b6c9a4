"""Study 00: statistics of every registered collection and text corpus.

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, tables and
figures. Modules: config (parameters), pipeline (the computation; named so that `study.run`, the function, does not shadow a module), the rest by topic.
"""
from .config import Config
from .pipeline import (
    _WORD,
    Stats,
    describe_collection,
    headline,
    metrics,
    n_words,
    plot_lengths,
    run,
    table_grades,
    table_lengths,
)

__all__ = ["_WORD", "Config", "Stats", "describe_collection", "headline", "metrics", "n_words", "plot_lengths", "run", "table_grades", "table_lengths"]
