"""Study 02: scaling law for sparse attention fitted on study 01's grid.

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, tables and
figures. Modules: config (parameters), pipeline (the computation; named so that `study.run`, the function, does not shadow a module), the rest by topic.
"""
from . import claims, text
from .config import Config
from .pipeline import (
    PAPER_SIGNS,
    Results,
    grid_config,
    headline,
    law_data,
    metrics,
    plot_holdout,
    plot_iso_error,
    run,
    table_coefficients,
    table_holdout,
    table_iso_error,
    table_iso_error_fit,
    table_spearman,
)

__all__ = ["PAPER_SIGNS", "Config", "Results", "claims", "grid_config", "headline", "law_data", "metrics", "plot_holdout", "plot_iso_error", "run", "table_coefficients", "table_holdout", "table_iso_error", "table_iso_error_fit", "table_spearman", "text"]
