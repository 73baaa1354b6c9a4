"""Straight-through weight transforms for N:M training (forward masks, backward passes through)."""
from __future__ import annotations

import torch


class ScaleSTE(torch.autograd.Function):
    """Forward `W * s`; backward hands the gradient of the product to W unchanged (STE).

    `s` is the binary mask (STE, SDGF) or the decayed mask `m + (1 - m) * beta` (MDGF).
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return weight * scale

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad, None


class SRSTE(torch.autograd.Function):
    """Forward `W * m`; backward `g + lam * (1 - m) * W` (sparse-refined STE, Zhou et al. 2021)."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, mask: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.save_for_backward(weight, mask)
        ctx.lam = lam
        return weight * mask

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        weight, mask = ctx.saved_tensors
        return grad + ctx.lam * (1.0 - mask) * weight, None, None


def scale_ste(weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """`W * scale` with a straight-through gradient (see `ScaleSTE`)."""
    return ScaleSTE.apply(weight, scale)


def sr_ste(weight: torch.Tensor, mask: torch.Tensor, lam: float) -> torch.Tensor:
    """`W * mask` with the SR-STE gradient `g + lam * (1 - mask) * W`."""
    return SRSTE.apply(weight, mask, lam)
