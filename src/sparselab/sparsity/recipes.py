"""N:M sparse-training recipes behind one interface, registered under short keys.

A recipe is shared by every N:M layer of a model and driven by `set_step(t, total)` before
each optimiser step. `transform(weight, frozen)` returns the weight the forward pass uses
(with the recipe's straight-through backward) and the layer's frozen mask (only `oneshot`
freezes one). `cost(in_features)` gives the densities that the FLOPs accounting needs.

Schedule (all sparse recipes but `oneshot`): dense warm-up (`warmup` fraction of the steps),
the recipe's own sparse/decay phase, then a final phase with the binary N:M mask and the
plain STE gradient (the MDGF/SDGF recipes; STE and SR-STE keep their own rule throughout, as in
the paper's reference code). Masks are recomputed from the dense weights at every forward.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..registry import Registry
from .autograd import scale_ste, sr_ste
from .mask import check_nm, format_pattern, nm_mask, parse_pattern
from .schedules import (
    Phases,
    beta_exp,
    beta_linear,
    default_kappa,
    geometric_patterns,
    phase_index,
    stepwise_patterns,
)

RECIPES: Registry[type[Recipe]] = Registry("N:M recipe")


@dataclass(frozen=True)
class Cost:
    """Densities that set a linear layer's training FLOPs at one step.

    fwd: fraction of weights the forward (and input-gradient) matmul touches (1 = dense).
    wgrad: fraction of weight-gradient entries computed (1 for every straight-through recipe:
        the pruned weights receive a gradient, so the weight gradient is a dense matmul).
    """

    fwd: float
    wgrad: float


class Recipe:
    """Base class: dense warm-up, a recipe-specific middle phase, final binary N:M phase."""

    key = "base"

    def __init__(self, pattern: str | tuple[int, int] = "2:4", *, warmup: float = 0.1,
                 final: float = 0.1):
        self.n, self.m = parse_pattern(pattern)
        if self.n >= self.m and self.key != "dense":
            raise ValueError(f"recipe {self.key!r}: pattern {self.pattern} needs N < M")
        self.phases = Phases(warmup, final)
        self.t, self.total = 0, 1

    @property
    def pattern(self) -> str:
        return format_pattern(self.n, self.m)

    def set_step(self, t: int, total: int) -> None:
        """Move the schedule to step t of `total` (0-based; call before each step)."""
        if total <= 0 or not 0 <= t <= total:
            raise ValueError(f"set_step: need 0 <= t <= total and total > 0, got t={t}, "
                             f"total={total}")
        self.t, self.total = int(t), int(total)

    @property
    def phase(self) -> str:
        """'dense', 'decay' or 'final' at the current step."""
        return self.phases.name(self.t, self.total)

    def hard_mask(self, weight: torch.Tensor, frozen: torch.Tensor | None = None) -> torch.Tensor:
        """The deployable binary N:M mask for this weight (used at evaluation and for flips)."""
        return frozen if frozen is not None else nm_mask(weight, self.n, self.m)

    def transform(self, weight: torch.Tensor, frozen: torch.Tensor | None = None):
        """(weight used by the forward pass, frozen mask or None) at the current step."""
        if self.phase == "dense":
            return weight, None
        if self.phase == "final":
            return scale_ste(weight, nm_mask(weight, self.n, self.m)), None
        return self.middle(weight), None

    def middle(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def cost(self, in_features: int) -> Cost:
        """FLOPs densities of a layer with `in_features` inputs at the current step."""
        if self.phase == "dense":
            return Cost(1.0, 1.0)
        if self.phase == "final":
            return Cost(self.n / self.m, 1.0)
        return self.middle_cost(in_features)

    def middle_cost(self, in_features: int) -> Cost:
        return Cost(self.n / self.m, 1.0)

    def describe(self) -> str:
        return f"{self.key}[{self.pattern}]"


@RECIPES.register("dense")
class Dense(Recipe):
    """No sparsity (the pattern is ignored): the reference every gap is measured against."""

    key = "dense"

    def hard_mask(self, weight, frozen=None):
        return torch.ones_like(weight)

    def transform(self, weight, frozen=None):
        return weight, None

    def cost(self, in_features):
        return Cost(1.0, 1.0)


@RECIPES.register("oneshot")
class OneShot(Recipe):
    """Dense training, one magnitude N:M prune at `prune_at`, then fine-tune the kept weights.

    The mask is frozen at the prune step; pruned weights get no gradient, so the backward is
    sparse too (weight gradient only for the kept N/M).
    """

    key = "oneshot"

    def __init__(self, pattern="2:4", *, prune_at: float = 0.5, **kw):
        super().__init__(pattern, **kw)
        if not 0 <= prune_at <= 1:
            raise ValueError(f"oneshot: prune_at={prune_at} must be in [0, 1]")
        self.prune_at = prune_at

    @property
    def pruned(self) -> bool:
        return self.t >= round(self.prune_at * self.total)

    @property
    def phase(self) -> str:
        return "final" if self.pruned else "dense"

    def transform(self, weight, frozen=None):
        if not self.pruned:
            return weight, None
        if frozen is None:
            frozen = nm_mask(weight, self.n, self.m)
        return weight * frozen, frozen

    def cost(self, in_features):
        if not self.pruned:
            return Cost(1.0, 1.0)
        return Cost(self.n / self.m, self.n / self.m)


@RECIPES.register("ste")
class STE(Recipe):
    """Binary N:M mask recomputed each forward; the gradient passes to all weights unchanged."""

    key = "ste"

    def middle(self, weight):
        return scale_ste(weight, nm_mask(weight, self.n, self.m))


@RECIPES.register("sr_ste")
class SRSTE(Recipe):
    """STE plus the sparse-refined term `lambda_W * (1 - m) * W` on the gradient (also in the
    final phase, as in the reference implementation)."""

    key = "sr_ste"

    def __init__(self, pattern="2:4", *, lam: float = 2e-4, **kw):
        super().__init__(pattern, **kw)
        self.lam = lam

    def transform(self, weight, frozen=None):
        if self.phase == "dense":
            return weight, None
        return sr_ste(weight, nm_mask(weight, self.n, self.m), self.lam), None

    def middle(self, weight):  # pragma: no cover - transform handles every phase
        return sr_ste(weight, nm_mask(weight, self.n, self.m), self.lam)


class _MaskDecay(Recipe):
    """MDGF: forward `W * (m + (1 - m) * beta(t))`, straight-through backward."""

    kind = "linear"

    def __init__(self, pattern="2:4", *, kappa: float | None = None, **kw):
        super().__init__(pattern, **kw)
        self.kappa = kappa

    def rate(self) -> float:
        """kappa per step (derived from the decay-phase length when not given)."""
        start, end = self.phases.bounds(self.total)
        return self.kappa if self.kappa is not None else default_kappa(self.kind, end - start)

    def beta(self) -> float:
        """Decay factor at the current step (1 during warm-up, 0 in the final phase)."""
        if self.phase == "dense":
            return 1.0
        if self.phase == "final":
            return 0.0
        t = self.t - self.phases.bounds(self.total)[0]
        fn = beta_linear if self.kind == "linear" else beta_exp
        return fn(t, self.rate())

    def middle(self, weight):
        mask = nm_mask(weight, self.n, self.m)
        beta = self.beta()
        return scale_ste(weight, mask + (1.0 - mask) * beta)

    def middle_cost(self, in_features):
        # dense matmul while pruned weights still carry a non-zero scale
        return Cost(1.0 if self.beta() > 0 else self.n / self.m, 1.0)


@RECIPES.register("mdgf_linear")
class MDGFLinear(_MaskDecay):
    key, kind = "mdgf_linear", "linear"


@RECIPES.register("mdgf_exp")
class MDGFExp(_MaskDecay):
    key, kind = "mdgf_exp", "exp"


class _StructureDecay(Recipe):
    """SDGF: binary masks whose pattern tightens over equal phases of the decay period."""

    def patterns(self, in_features: int) -> list[tuple[int, int]]:
        raise NotImplementedError

    def current(self, in_features: int) -> tuple[int, int]:
        """(n, m) used at the current step by a layer with `in_features` inputs."""
        if self.phase == "final":
            return self.n, self.m
        pats = self.patterns(in_features)
        start, end = self.phases.bounds(self.total)
        return pats[phase_index(self.t, start, end, len(pats))]

    def middle(self, weight):
        n, m = self.current(weight.shape[1])
        check_nm(tuple(weight.shape), self.n, self.m)
        return scale_ste(weight, nm_mask(weight, n, m))

    def middle_cost(self, in_features):
        n, m = self.current(in_features)
        return Cost(n / m, 1.0)


@RECIPES.register("sdgf_stepwise")
class SDGFStepwise(_StructureDecay):
    """`(M-1):M -> M/2:M -> ... -> N:M` in equal phases (1:8: 7:8, 4:8, 2:8, 1:8)."""

    key = "sdgf_stepwise"

    def patterns(self, in_features):
        return stepwise_patterns(self.n, self.m)


@RECIPES.register("sdgf_geometric")
class SDGFGeometric(_StructureDecay):
    """`8N:8M -> 4N:4M -> 2N:2M -> N:M` in equal phases (group clipped to the layer width)."""

    key = "sdgf_geometric"

    def patterns(self, in_features):
        return geometric_patterns(self.n, self.m, in_features)


def make_recipe(key: str, pattern: str | tuple[int, int] = "2:4", **kwargs) -> Recipe:
    """Build the recipe registered under `key` for an N:M `pattern` (e.g. `"1:8"`)."""
    return RECIPES.get(key)(pattern, **kwargs)
