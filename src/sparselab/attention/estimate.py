"""Cheap attention estimates from the last queries (what vertical-slash, FlexPrefill and SnapKV
observe before choosing what to keep)."""
from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

from .base import repeat_kv
from .kernel import C1, C2, C3, C4, C5, C6, FAST, LOG2E


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


def line_scores(q: torch.Tensor, k: torch.Tensor, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Column sums and diagonal sums of the last `window` queries' attention weights, fused.

    The same quantities as `last_query_attention(q, k, window).sum(-2)` and
    `diagonal_scores(last_query_attention(q, k, window))` (their obvious reference), without
    materialising the masked and normalised weights: one matmul for the raw scores, then one
    numba pass per row (max, exp, normalise, add to the column and the diagonal sums). exp is
    the kernel's polynomial (relative error ~1e-6).

    Args:
        q: (B, H, T, D); k: (B, Hkv, S, D), H % Hkv == 0.
    Returns:
        float64 (B, H, S) column sums and (B, H, S) diagonal sums (entry o: offset query - key).
    """
    b, h, _, d = q.shape
    hkv, s = k.shape[1], k.shape[2]
    w = min(window, q.shape[2])
    qw = q[:, :, -w:].float().reshape(b, hkv, (h // hkv) * w, d)  # grouped heads share their K
    raw = (qw @ k.float().transpose(-1, -2)).reshape(b * h, w, s)  # (B * H, w, S)
    col = np.zeros((b * h, s))
    diag = np.zeros((b * h, s))
    _line_sums(raw.numpy(), np.float32(1.0 / math.sqrt(d)), col, diag)
    return col.reshape(b, h, s), diag.reshape(b, h, s)


@njit(parallel=True, cache=True, fastmath=FAST)
def _line_sums(raw, scale, col, diag):
    """Numba body of `line_scores`: raw float32 (G, w, S) scores, overwritten; col, diag float64
    (G, S) out. Row i is the query at position S - w + i. Sums run in float32, as the reference's."""
    g_count, w, s = raw.shape
    for g in prange(g_count):
        c32 = np.zeros(s, dtype=np.float32)
        d32 = np.zeros(s, dtype=np.float32)
        for i in range(w):
            p = s - w + i
            row = raw[g, i, : p + 1]
            mx = np.float32(-np.inf)
            for j in range(p + 1):
                mx = max(mx, row[j])
            tot = np.float32(0.0)
            for j in range(p + 1):  # exp((x - max) * scale) by the kernel's 2^t polynomial
                t = (row[j] - mx) * scale * LOG2E
                keep = t > np.float32(-126.0)
                t = max(t, np.float32(-126.0))
                e = np.floor(t + np.float32(0.5))
                f = t - e
                pw = np.float32(1.0) + f * (C1 + f * (C2 + f * (C3 + f * (C4 + f * (C5 + f * C6)))))
                x = pw * np.int32((np.int32(e) + np.int32(127)) << np.int32(23)).view(np.float32)
                x = x if keep else np.float32(0.0)
                row[j] = x
                tot += x
            inv = np.float32(1.0) / tot
            for j in range(p + 1):
                row[j] *= inv
                c32[j] += row[j]
            for o in range(p + 1):  # offset o = p - key
                d32[o] += row[p - o]
        for j in range(s):
            col[g, j] = c32[j]
            diag[g, j] = d32[j]
