"""Slow, obvious fp64 attention: the ground truth every method and kernel is tested against.

Shapes: q (B, H, T, D), k/v (B, Hkv, S, D) with H % Hkv == 0; the last query is aligned with the
last key, so query i sits at position i + S - T and sees keys j <= i + S - T.
"""
from __future__ import annotations

import math

import torch

from .base import repeat_kv


def causal_mask(n_queries: int, n_keys: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Boolean (T, S) mask, True where key j <= query position i + S - T."""
    if n_queries > n_keys:
        raise ValueError(f"n_queries={n_queries} must be <= n_keys={n_keys}")
    pos = torch.arange(n_queries, device=device)[:, None] + (n_keys - n_queries)
    return torch.arange(n_keys, device=device)[None, :] <= pos


def masked_attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """fp64 attention weights (B, H, T, S) with exactly zero weight where `mask` is False.

    Args:
        q: (B, H, T, D); k: (B, Hkv, S, D); mask: bool, broadcastable to (B, H, T, S).
    A row with no allowed key gets all-zero weights (and so a zero output).
    """
    h, hkv = q.shape[1], k.shape[1]
    if h % hkv:
        raise ValueError(f"query heads H={h} must be a multiple of key/value heads Hkv={hkv}")
    kk = repeat_kv(k.double(), h // hkv)  # (B, H, S, D)
    scores = q.double() @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    mask = mask.to(torch.bool).expand_as(scores)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.where(mask, weights, torch.zeros_like(weights))  # also turns all-masked NaN rows to 0


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """fp64 attention output (B, H, T, D) attending only where `mask` (B, H, T, S) is True."""
    weights = masked_attention_weights(q, k, mask)
    return weights @ repeat_kv(v.double(), q.shape[1] // k.shape[1])


def dense_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """fp64 dense causal attention output (B, H, T, D)."""
    return masked_attention(q, k, v, causal_mask(q.shape[2], k.shape[2], q.device))
