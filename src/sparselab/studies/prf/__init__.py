"""Study 03: dense vector PRF interpolated with BM25 / SPLADE before, after or both.

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, tables and
figures. Modules: config (parameters), pipeline (the computation; named so that `study.run`, the function, does not shadow a module), the rest by topic.
"""
from .config import Config
from .pipeline import (
    DatasetResult,
    Results,
    Sweep,
    cv_protocol,
    findings,
    headline,
    latency_specs,
    measure_latency,
    metrics,
    per_query_diff,
    plot_alpha,
    plot_depth,
    plot_latency,
    plot_winloss,
    prf_settings,
    run,
    run_cv_protocol,
    run_split_protocol,
    select,
    significance,
    split_protocol,
    system_means,
    systems,
    table_choices,
    table_latency,
    table_main,
    table_protocol,
    win_loss,
)

__all__ = ["Config", "DatasetResult", "Results", "Sweep", "cv_protocol", "findings", "headline", "latency_specs", "measure_latency", "metrics", "per_query_diff", "plot_alpha", "plot_depth", "plot_latency", "plot_winloss", "prf_settings", "run", "run_cv_protocol", "run_split_protocol", "select", "significance", "split_protocol", "system_means", "systems", "table_choices", "table_latency", "table_main", "table_protocol", "win_loss"]
