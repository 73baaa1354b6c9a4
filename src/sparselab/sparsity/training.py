"""Drive an N:M recipe inside a training loop: schedule, FLOPs, mask flips, periodic evaluation.

`NMCallback` plugs into `sparselab.models.trainer.Trainer` (`on_step_start`/`on_step_end`) but
only needs those two calls, so any loop can use it.
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .flops import nm_step_flops
from .layers import MaskFlipTracker
from .recipes import Recipe


class NMCallback:
    """Steps `recipe` before every optimiser step and records what the study plots.

    Args:
        model: the model whose `NMLinear` layers share `recipe`.
        recipe: the N:M recipe (its schedule spans `total_steps`).
        total_steps: length of the run (the recipe's phases are fractions of it).
        tokens_per_step: tokens in one training batch (B * T).
        other_flops_per_step: training FLOPs of everything that is not an N:M layer (embedding,
            head, attention scores), added every step.
        flip_every: measure mask flips every this many steps (0: never).
        eval_every: call `eval_fn(model)` every this many steps in eval mode (0: never).
        eval_fn: model -> float (e.g. validation bits per character of the hard N:M model).
    """

    def __init__(self, model: nn.Module, recipe: Recipe, total_steps: int, tokens_per_step: int,
                 other_flops_per_step: float = 0.0, flip_every: int = 10, eval_every: int = 0,
                 eval_fn: Callable[[nn.Module], float] | None = None):
        self.model, self.recipe, self.total = model, recipe, int(total_steps)
        self.tokens, self.other = int(tokens_per_step), float(other_flops_per_step)
        self.flip_every, self.eval_every, self.eval_fn = flip_every, eval_every, eval_fn
        self.flips = MaskFlipTracker(model)
        self.flops = 0.0
        self.evals: list[tuple[int, float, float]] = []  # (step, cumulative FLOPs, value)
        self.phases: list[tuple[int, str]] = []  # (first step, phase name)

    def on_step_start(self, step: int, trainer=None) -> None:
        self.recipe.set_step(step, self.total)
        if not self.phases or self.phases[-1][1] != self.recipe.phase:
            self.phases.append((step, self.recipe.phase))
        if step == 0 and self.flip_every:
            self.flips.update(0)
        self.flops += nm_step_flops(self.model, self.tokens) + self.other

    def on_step_end(self, step: int, trainer=None, metrics: dict | None = None) -> None:
        """`step` counts completed steps (1 after the first)."""
        if self.flip_every and step % self.flip_every == 0:
            self.flips.update(step)
        if self.eval_every and self.eval_fn is not None and step % self.eval_every == 0:
            self.evaluate(step)

    def evaluate(self, step: int) -> float:
        """Run `eval_fn` in eval mode at `step`, record (step, FLOPs so far, value)."""
        was_training = self.model.training
        self.model.eval()
        try:
            value = float(self.eval_fn(self.model))
        finally:
            self.model.train(was_training)
        self.evals.append((int(step), self.flops, value))
        return value

    def summary(self) -> dict:
        """JSON-able record: FLOPs, flip history, evaluation curve, phase starts."""
        return {"train_flops": self.flops, "flips": self.flips.history, "evals": self.evals,
                "phases": self.phases}
