"""sparselab.eval: tidy runs, TREC run files, ir-measures metrics, paired significance tests."""
from .metrics import DEFAULT_MEASURES, evaluate, per_query
from .runs import RUN_COLUMNS, make_run, rank_run, read_trec_run, run_from_topk, write_trec_run
from .stats import compare_runs, holm, paired_ttest

__all__ = [
    "DEFAULT_MEASURES",
    "RUN_COLUMNS",
    "compare_runs",
    "evaluate",
    "holm",
    "make_run",
    "paired_ttest",
    "per_query",
    "rank_run",
    "read_trec_run",
    "run_from_topk",
    "write_trec_run",
]
