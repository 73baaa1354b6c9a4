"""Tiny causal LMs whose attention runs through `sparselab.attention` methods, and their trainer."""
from .lm import (
           CONFIGS,
           LMConfig,
           PrefillResult,
           TinyLM,
           build_model,
           flops_per_token,
           prefill_flops,
)
from .trainer import TrainConfig, Trainer, lr_at

__all__ = ["CONFIGS", "LMConfig", "PrefillResult", "TinyLM", "TrainConfig", "Trainer", "build_model",
           "flops_per_token", "lr_at", "prefill_flops"]
