"""Training-FLOPs accounting for N:M layers (so recipes compare at equal training compute).

Per linear layer (K inputs, O outputs) and T tokens in a step, with densities from
`Recipe.cost` (fwd: fraction of weights the forward touches, wgrad: fraction of the weight
gradient computed):

    forward         2 T K O * fwd
    input gradient  2 T K O * fwd      (multiplies by the same masked weight)
    weight gradient 2 T K O * wgrad    (1 for straight-through recipes: pruned weights get a
                                        gradient, a dense outer product; N/M for a frozen mask)

A dense layer costs 6 T K O. Mask computation (a sort per group, O(K O log M)) and the
elementwise mask multiply are not counted: they do not scale with T.
"""
from __future__ import annotations

from torch import nn

from .layers import nm_layers
from .recipes import Cost


def linear_step_flops(in_features: int, out_features: int, tokens: int, cost: Cost) -> float:
    """Training FLOPs of one linear layer for one step over `tokens` tokens."""
    per = 2.0 * tokens * in_features * out_features
    return per * (2.0 * cost.fwd + cost.wgrad)


def nm_step_flops(model: nn.Module, tokens: int) -> float:
    """Training FLOPs of all `NMLinear` layers of `model` at the recipe's current step."""
    total = 0.0
    for _, layer in nm_layers(model):
        cost = layer.recipe.cost(layer.in_features)
        total += linear_step_flops(layer.in_features, layer.out_features, tokens, cost)
    return total


def nm_dense_step_flops(model: nn.Module, tokens: int) -> float:
    """The same layers' training FLOPs if they were dense (6 T K O each)."""
    return sum(linear_step_flops(l.in_features, l.out_features, tokens, Cost(1.0, 1.0))
               for _, l in nm_layers(model))


def nm_inference_flops(model: nn.Module, tokens: int) -> float:
    """Forward FLOPs of the deployed N:M layers (2 T K O N/M each; dense recipe: N/M = 1)."""
    total = 0.0
    for _, layer in nm_layers(model):
        density = 1.0 if layer.recipe.key == "dense" else layer.recipe.n / layer.recipe.m
        total += 2.0 * tokens * layer.in_features * layer.out_features * density
    return total
