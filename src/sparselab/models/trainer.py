"""Deterministic, resumable training loop: AdamW, warm-up + cosine schedule, gradient clipping.

Batches come from `batch_fn(step, generator)` with a generator seeded by (seed, step), so a
resumed run sees exactly the batches an uninterrupted one would. Checkpoints hold the model,
optimizer, step, history and callback state, written atomically.
"""
from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from ..cache import atomic_write_bytes

Batch = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]
BatchFn = Callable[[int, torch.Generator], Batch]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; `steps` fixes the schedule length even when training stops early."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 0  # 0: checkpoint only at the end


class Callback(Protocol):
    """Per-step hook; both methods optional. State is checkpointed via `state_dict` if present."""

    def on_step_start(self, step: int, trainer: Trainer) -> None: ...

    def on_step_end(self, step: int, trainer: Trainer, metrics: dict[str, float]) -> None: ...


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for (0-based) `step`: linear warm-up, then cosine to `lr * min_lr_ratio`."""
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    frac = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def batch_generator(seed: int, step: int) -> torch.Generator:
    """The generator `batch_fn` receives at `step` (independent of any previous step)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def masked_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Next-token cross-entropy: mean over bool `mask` positions, all when None, or weighted.

    A float `mask` holds per-position weights: the loss is `sum(w * ce) / sum(w)`. With a bool
    mask, `model.hidden`/`model.logits` are used when available so only masked positions pay
    for the output head. `targets` (B, T, K) lists K acceptable next tokens per position
    (-1 padded; column 0 always set): the loss there is -log of their total probability.
    """
    if targets.ndim == 3:
        if mask is None or mask.is_floating_point():
            raise ValueError("targets with alternatives (B, T, K) need a bool mask")
        logits = model.logits(model.hidden(inputs)[mask]) if hasattr(model, "hidden") else model(inputs)[mask]
        return set_cross_entropy(logits, targets[mask])
    if mask is not None and mask.is_floating_point():
        ce = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), reduction="none")
        w = mask.flatten()
        return (w * ce).sum() / w.sum()
    if mask is not None and hasattr(model, "hidden"):
        h = model.hidden(inputs)[mask]  # (N, d_model)
        return F.cross_entropy(model.logits(h), targets[mask])
    logits = model(inputs)
    if mask is None:
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    return F.cross_entropy(logits[mask], targets[mask])


def set_cross_entropy(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Mean over rows of `-log sum_{y in allowed} p(y)`; logits (N, V), allowed (N, K), -1 padded.

    With one allowed token per row this is the ordinary cross-entropy.
    """
    ok = allowed >= 0
    picked = logits.gather(1, allowed.clamp(min=0)).masked_fill(~ok, float("-inf"))
    return (logits.logsumexp(1) - picked.logsumexp(1)).mean()


class Trainer:
    """Trains `model` on batches from `batch_fn`.

    Args:
        model: module mapping int64 inputs (B, T) to logits (B, T, V).
        cfg: optimisation settings.
        batch_fn: (step, generator) -> (inputs (B, T), targets (B, T), mask (B, T) bool or None).
        ckpt_path: checkpoint file; an existing one is resumed by `train`.
        callbacks: per-step hooks (study 04 updates masks/decay there).
        meta: JSON-able description stored in the checkpoint (model config, task list...).
    """

    def __init__(self, model: nn.Module, cfg: TrainConfig, batch_fn: BatchFn,
                 ckpt_path: str | Path | None = None, callbacks: Sequence[Any] = (),
                 meta: dict[str, Any] | None = None, progress: bool = True):
        self.model, self.cfg, self.batch_fn = model, cfg, batch_fn
        self.ckpt_path = Path(ckpt_path) if ckpt_path else None
        self.callbacks, self.meta, self.progress = list(callbacks), dict(meta or {}), progress
        torch.manual_seed(cfg.seed)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
        rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
        )
        self.step = 0
        self.history: list[dict[str, float]] = []

    # ----- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "history": self.history,
            "train_cfg": asdict(self.cfg),
            "meta": self.meta,
            "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else None for cb in self.callbacks],
            "torch_rng": torch.get_rng_state(),
        }

    def save(self, path: str | Path | None = None) -> Path:
        """Write a checkpoint atomically (default: `ckpt_path`)."""
        path = Path(path or self.ckpt_path)
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return atomic_write_bytes(path, buf.getvalue())

    def load(self, path: str | Path | None = None) -> None:
        """Restore everything `save` wrote."""
        ck = torch.load(Path(path or self.ckpt_path), map_location="cpu", weights_only=False)
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.step, self.history = ck["step"], ck["history"]
        for cb, st in zip(self.callbacks, ck.get("callbacks", [])):
            if st is not None and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(st)
        torch.set_rng_state(ck["torch_rng"])

    # ----- loop --------------------------------------------------------------------------
    def train(self, until: int | None = None) -> list[dict[str, float]]:
        """Train up to step `until` (default `cfg.steps`), resuming from `ckpt_path` if present."""
        from sparselab.progress import bar as progress_bar  # terminal only, never the report

        until = self.cfg.steps if until is None else min(until, self.cfg.steps)
        if self.ckpt_path and self.ckpt_path.exists() and self.step == 0:
            self.load()
        self.model.train()
        bar = progress_bar(total=until, initial=self.step, disable=not self.progress, desc="train", unit="step")
        tokens, t0 = 0, time.perf_counter()
        while self.step < until:
            metrics = self._one_step()
            tokens += metrics["tokens"]
            bar.update(1)
            if self.step % self.cfg.log_every == 0 or self.step == until:
                dt = time.perf_counter() - t0
                metrics["tokens_per_s"] = tokens / dt if dt > 0 else float("nan")
                tokens, t0 = 0, time.perf_counter()
                self.history.append(metrics)
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", tok_s=f"{metrics['tokens_per_s']:.0f}")
            if self.ckpt_path and self.cfg.ckpt_every and self.step % self.cfg.ckpt_every == 0:
                self.save()
        bar.close()
        if self.ckpt_path:
            self.save()
        return self.history

    def _one_step(self) -> dict[str, float]:
        step = self.step
        for cb in self.callbacks:
            if hasattr(cb, "on_step_start"):
                cb.on_step_start(step, self)
        inputs, targets, mask = self.batch_fn(step, batch_generator(self.cfg.seed, step))
        lr = lr_at(step, self.cfg)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        loss = masked_loss(self.model, inputs, targets, mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.step += 1
        metrics = {"step": self.step, "loss": loss.item(), "lr": lr, "grad_norm": gnorm.item(),
                   "tokens": int(inputs.numel())}
        for cb in self.callbacks:
            if hasattr(cb, "on_step_end"):
                cb.on_step_end(self.step, self, metrics)
        return metrics
