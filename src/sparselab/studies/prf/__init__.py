"""Study 03: dense vector PRF interpolated with BM25 / SPLADE before, after or both.

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, the claims
(`claims.py`: declared claims and the tests that decide them), tables and figures by topic.
Modules: config (parameters), pipeline (the computation; named so that `study.run`, the
function, does not shadow a module), first_round (artifacts), blocks, grid, claims, tables,
figures, latency.
"""
from .blocks import DEFAULT_PRF, FUSIONS, PLACEMENTS, Block
from .claims import Outcome, evaluate_claims
from .config import Config
from .figures import plot_alpha, plot_depth, plot_effects, plot_latency, plot_winloss
from .latency import latency_specs, measure_latency, table_latency
from .pipeline import BLOCKS, DatasetResult, Results, cv_protocol, run, split_protocol
from .report import answer, limitations, setup
from .tables import (
    headline,
    metrics,
    significance,
    system_means,
    table_block,
    table_choices,
    table_placements,
    table_protocol,
    table_reference,
    win_loss,
)

__all__ = [
    "BLOCKS", "DEFAULT_PRF", "FUSIONS", "PLACEMENTS", "Block", "Config", "DatasetResult",
    "Outcome", "Results", "answer", "cv_protocol", "evaluate_claims", "headline",
    "latency_specs", "limitations", "measure_latency", "metrics", "plot_alpha", "plot_depth",
    "plot_effects", "plot_latency", "plot_winloss", "run", "setup", "significance",
    "split_protocol", "system_means", "table_block", "table_choices", "table_latency",
    "table_placements", "table_protocol", "table_reference", "win_loss",
]
