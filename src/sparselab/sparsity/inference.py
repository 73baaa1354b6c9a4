"""Serve a trained N:M model through the packed kernel: `PackedLinear` and `pack_model`.

`pack_model(model)` replaces every `NMLinear` (the layer study 04 trains) by a `PackedLinear`
holding the deployable weight `W * hard_mask` in packed form. Its forward goes through
`nm_dispatch.nm_linear`: the packed kernel up to the calibrated crossover batch, dense
`torch.matmul` above it (with `keep_dense=True`, the default, the layer also keeps the masked
dense weight for that; without it every batch runs packed and the layer holds only the packed
bytes). Inference only: no gradients flow through the packed path.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import NMLinear, nm_layers
from .nm_dispatch import nm_linear
from .packed import PackedNM, pack_nm


class PackedLinear(nn.Module):
    """Inference-only linear layer with a packed N:M weight.

    Args:
        packed: the packed (out, in) weight.
        bias: optional (out,) tensor.
        dense_weight: optional masked dense (out, in) float32 weight for batches above the
            crossover (see `nm_dispatch`).
    """

    def __init__(self, packed: PackedNM, bias: torch.Tensor | None = None,
                 dense_weight: torch.Tensor | None = None):
        super().__init__()
        self.packed = packed
        self.in_features, self.out_features = packed.in_features, packed.out_features
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.register_buffer("dense_weight",
                             None if dense_weight is None else dense_weight.detach().clone())

    @classmethod
    def from_nm_linear(cls, layer: NMLinear, dtype: str = "float32",
                       keep_dense: bool = True) -> PackedLinear:
        """Pack an `NMLinear`'s deployable weight (`W * hard_mask`, what `eval()` uses)."""
        recipe = layer.recipe
        if recipe.key == "dense":
            raise ValueError("PackedLinear.from_nm_linear: the layer's recipe is 'dense' "
                             "(no N:M mask to pack)")
        with torch.no_grad():
            mask = layer.hard_mask().bool()
            weight = (layer.weight * mask).float()
        packed = pack_nm(weight, recipe.n, recipe.m, mask=mask, dtype=dtype)
        return cls(packed, layer.bias, weight if keep_dense else None)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nm_linear(x.contiguous(), self.packed, self.dense_weight, self.bias)

    def extra_repr(self) -> str:
        p = self.packed
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pattern={p.n}:{p.m}, dtype={p.dtype}, dense_copy={self.dense_weight is not None}")


def pack_model(model: nn.Module, dtype: str = "float32", keep_dense: bool = True) -> nn.Module:
    """Replace every `NMLinear` of `model` by a `PackedLinear` (in place); returns the model.

    Raises ValueError when the model has no N:M layer to pack.
    """
    found = [name for name, layer in nm_layers(model) if layer.recipe.key != "dense"]
    if not found:
        raise ValueError("pack_model: the model has no NMLinear layer with an N:M recipe")
    for name in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, PackedLinear.from_nm_linear(getattr(parent, child), dtype,
                                                           keep_dense))
    return model.eval()


def dense_twin(model: nn.Module) -> nn.Module:
    """A copy of `model` whose `NMLinear`s are plain `nn.Linear`s holding `W * hard_mask`:
    the masked dense model at dense BLAS speed (no per-forward mask recomputation)."""
    import copy

    twin = copy.deepcopy(model)
    for name, layer in list(nm_layers(twin)):
        parent_name, _, child = name.rpartition(".")
        parent = twin.get_submodule(parent_name) if parent_name else twin
        lin = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        with torch.no_grad():
            lin.weight.copy_(layer.weight * layer.hard_mask())
            if layer.bias is not None:
                lin.bias.copy_(layer.bias)
        setattr(parent, child, lin)
    return twin.eval()
