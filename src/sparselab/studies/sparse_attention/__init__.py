"""Study 01: training-free sparse attention trade-offs (The Sparse Frontier).

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, tables and
figures. Modules: config (parameters), pipeline (the computation; named so that `study.run`, the function, does not shadow a module), the rest by topic.
"""
from . import calibrate, checks, claims, text
from .config import Config
from .design import design_record, long_family_table, save_design, table_calibration, table_design
from .pipeline import (
    PREFILL_BACKEND,
    REAL_METHODS_EXCLUDE,
    Cell,
    Results,
    evaluate_unit,
    grid_cells,
    headline,
    learned,
    max_compression,
    mean_ci,
    metrics,
    plot_accuracy_vs_compression,
    plot_isoflops,
    plot_max_compression,
    plot_sparsity,
    pooled_cells,
    recipe_for,
    run,
    summarise_row,
    table_accuracy,
    table_accuracy_grid,
    table_dense,
    table_isoflops,
    table_isoflops_wins,
    table_max_compression,
    table_max_compression_methods,
    table_ranking,
    table_relative_error,
    table_sparsity,
    train_models,
)

__all__ = ["PREFILL_BACKEND", "REAL_METHODS_EXCLUDE", "Cell", "Config", "Results", "calibrate",
           "checks", "claims", "design_record", "long_family_table", "save_design", "table_calibration",
           "table_design", "evaluate_unit", "grid_cells", "headline", "learned", "max_compression", "mean_ci", "metrics", "plot_accuracy_vs_compression", "plot_isoflops", "plot_max_compression", "plot_sparsity", "pooled_cells", "recipe_for", "run", "summarise_row", "table_accuracy", "table_accuracy_grid", "table_dense", "table_isoflops", "table_isoflops_wins", "table_max_compression", "table_max_compression_methods", "table_ranking", "table_relative_error", "table_sparsity", "text", "train_models"]
