"""`NMLinear`: an nn.Linear whose weight passes through an N:M recipe; mask-flip tracking."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .mask import check_nm
from .recipes import Recipe


class NMLinear(nn.Module):
    """Linear layer with a dense weight parameter and an N:M mask applied by a shared recipe.

    Training: the forward uses `recipe.transform(weight)` (mask recomputed each forward, with
    the recipe's straight-through backward). Evaluation (`model.eval()`): always the deployable
    binary N:M weight `W * hard_mask`, so validation measures the sparse model one would ship.

    Args:
        in_features, out_features: sizes; the recipe's M must divide in_features.
        recipe: shared `Recipe` instance (one per model, stepped by the trainer).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 recipe: Recipe):
        super().__init__()
        if recipe.key != "dense":
            check_nm((out_features, in_features), recipe.n, recipe.m)
        self.in_features, self.out_features = in_features, out_features
        self.recipe = recipe
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.register_buffer("frozen_mask", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # same initialisation as nn.Linear so dense and sparse runs start alike
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a checkpoint taken after `oneshot` froze its mask holds a buffer this layer lacks yet
        key = prefix + "frozen_mask"
        if key in state_dict and self.frozen_mask is None:
            self.frozen_mask = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def hard_mask(self) -> torch.Tensor:
        """The binary (out, in) N:M mask of the current weights (frozen mask for oneshot)."""
        return self.recipe.hard_mask(self.weight, self.frozen_mask)

    def effective_weight(self) -> torch.Tensor:
        """(out, in) weight the forward uses in the current mode."""
        if not self.training:
            return self.weight * self.hard_mask()
        weight, frozen = self.recipe.transform(self.weight, self.frozen_mask)
        if frozen is not None and self.frozen_mask is None:
            self.frozen_mask = frozen.detach()
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def pack(self, dtype: str = "float32", keep_dense: bool = True) -> nn.Module:
        """Inference copy of this layer served by the packed N:M kernel (a `PackedLinear`;
        `sparsity.inference.pack_model` converts a whole model)."""
        from .inference import PackedLinear

        return PackedLinear.from_nm_linear(self, dtype, keep_dense)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, recipe={self.recipe.describe()}")


def nm_linear_factory(recipe: Recipe) -> Callable[[int, int, bool], nn.Module]:
    """`linear_factory(in_features, out_features, bias)` building `NMLinear`s that share `recipe`."""

    def factory(in_features: int, out_features: int, bias: bool = True) -> nn.Module:
        return NMLinear(in_features, out_features, bias, recipe=recipe)

    return factory


def nm_layers(model: nn.Module) -> Iterator[tuple[str, NMLinear]]:
    """(name, layer) for every `NMLinear` in `model`, in module order."""
    for name, mod in model.named_modules():
        if isinstance(mod, NMLinear):
            yield name, mod


class MaskFlipTracker:
    """Fraction of N:M mask entries that changed since the previous measurement.

    Tracks each layer's deployable mask (`hard_mask`: the final N:M pattern, whatever the
    recipe uses in its current phase), so flip rates compare across recipes. A swap of one kept
    and one pruned weight in a group counts as 2 changed entries.
    """

    def __init__(self, model: nn.Module):
        self.layers = list(nm_layers(model))
        self._prev: dict[str, torch.Tensor] = {}
        self.history: list[tuple[int, float]] = []

    @torch.no_grad()
    def update(self, step: int) -> float | None:
        """Measure at `step`; returns the flip fraction (None at the first measurement)."""
        changed, total, first = 0, 0, not self._prev
        for name, layer in self.layers:
            mask = layer.hard_mask().bool()
            prev = self._prev.get(name)
            if prev is not None:
                changed += int((mask != prev).sum())
                total += mask.numel()
            self._prev[name] = mask.clone()
        if first or total == 0:
            return None
        rate = changed / total
        self.history.append((int(step), rate))
        return rate
