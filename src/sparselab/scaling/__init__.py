"""Scaling-law fits for sparse attention."""
from .fit import ScalingFit, bootstrap, budget_for_error, fit_power, fit_scaling_law, holdout, r2

__all__ = ["ScalingFit", "bootstrap", "budget_for_error", "fit_power", "fit_scaling_law",
           "holdout", "r2"]
