"""Cheap attention estimates from the last queries (what vertical-slash, FlexPrefill and SnapKV
observe before choosing what to keep)."""
from __future__ import annotations

import math

import torch

from .base import repeat_kv


def last_query_attention(q: torch.Tensor, k: torch.Tensor, window: int) -> torch.Tensor:
    """fp32 causal attention weights of the last `window` queries over all keys.

    Args:
        q: (B, H, T, D) queries (only the last `window` rows are used); k: (B, Hkv, S, D).
    Returns:
        (B, H, w, S) with w = min(window, T); query row i sits at position S - w + i.
    """
    w = min(window, q.shape[2])
    s = k.shape[2]
    qw = q[:, :, -w:].float()
    kk = repeat_kv(k.float(), q.shape[1] // k.shape[1])  # (B, H, S, D)
    scores = qw @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, w, S)
    pos = torch.arange(s - w, s, device=q.device)[:, None]
    visible = torch.arange(s, device=q.device)[None, :] <= pos
    return torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)


def diagonal_scores(weights: torch.Tensor) -> torch.Tensor:
    """Sum of attention weights along each diagonal offset o = query position - key.

    Args:
        weights: (B, H, w, S) from `last_query_attention` (row i at position S - w + i).
    Returns:
        (B, H, S) fp32, entry o = sum over rows of weights[..., i, pos_i - o].
    """
    b, h, w, s = weights.shape
    pos = torch.arange(s - w, s, device=weights.device)[:, None]
    offset = (pos - torch.arange(s, device=weights.device)[None, :]).clamp(min=0)  # (w, S)
    # masked (future) entries have weight 0, so clamping their offset to 0 adds nothing
    out = torch.zeros(b, h, s, dtype=weights.dtype, device=weights.device)
    return out.scatter_add_(-1, offset.reshape(1, 1, -1).expand(b, h, -1), weights.reshape(b, h, -1))
