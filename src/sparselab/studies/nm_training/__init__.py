"""Study 04: N:M sparse training at high sparsity (SR-STE vs decaying gradient flow).

The notebook imports this package as `study`: `study.Config`, `study.run(cfg)`, tables and
figures. Modules: config (parameters), pipeline (the computation; named so that `study.run`, the function, does not shadow a module), the rest by topic.
"""
from . import claims, serve, tuning
from .config import Config
from .design import design, design_frame, limitations, ngram_bpc, save_design
from .pipeline import (
    CURVE_WINDOWS,
    MATCHED,
    SR_STE_LAMBDA,
    STAGE,
    TEXT,
    VERSION,
    RunSpec,
    bits_per_char,
    build_run_model,
    cached_run,
    char_splits,
    char_vocab_size,
    claim_cell,
    flip_frame,
    headline,
    iso_flops_specs,
    metrics,
    model_config,
    other_flops_per_step,
    paired_vs,
    plateau_specs,
    plot_bpc_vs_sparsity,
    plot_curves,
    plot_flips,
    plot_flops,
    results_frame,
    run,
    run_cell,
    run_specs,
    schedule_flops,
    spec_cell,
    spec_dict,
    sweep,
    table_flips,
    table_iso_flops,
    table_matched_flops,
    table_summary,
    timings,
    train_run,
    tuned,
)
from .plateau import NO_PLATEAU_CHECK, plateau, plot_plateau

__all__ = ["CURVE_WINDOWS", "MATCHED", "NO_PLATEAU_CHECK", "SR_STE_LAMBDA", "STAGE", "TEXT", "VERSION", "Config", "RunSpec", "bits_per_char", "build_run_model", "cached_run", "char_splits", "char_vocab_size", "claim_cell", "claims", "design", "design_frame", "flip_frame", "headline", "iso_flops_specs", "limitations", "metrics", "model_config", "ngram_bpc", "other_flops_per_step", "paired_vs", "plateau", "plateau_specs", "plot_bpc_vs_sparsity", "plot_curves", "plot_flips", "plot_flops", "plot_plateau", "results_frame", "run", "run_cell", "run_specs", "save_design", "schedule_flops", "serve", "spec_cell", "spec_dict", "sweep", "table_flips", "table_iso_flops", "table_matched_flops", "table_summary", "timings", "train_run", "tuned", "tuning"]
