"""Shared parameter checks and budget arithmetic (compression C = 1 / (1 - sparsity))."""
from __future__ import annotations

import math

import torch

# K and V rows are read once per tile of this many queries in the analytic prefill `kv_bytes`
# (the kernel's query block); decode reads each kept row once.
PREFILL_QUERY_TILE = 64


def check_compression(compression: float, name: str = "compression") -> float:
    """Return `compression` as float; raise ValueError unless it is finite and >= 1."""
    c = float(compression)
    if not math.isfinite(c) or c < 1.0:
        raise ValueError(f"{name} must be a finite number >= 1 (1 = dense), got {compression!r}")
    return c


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Return `value` as int; raise ValueError if it is not an integer >= `minimum`."""
    if isinstance(value, bool) or int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def budget_tokens(n: int, compression: float) -> int:
    """Number of items kept out of `n` at `compression`: ceil(n / C), clipped to [min(n, 1), n]."""
    if n <= 0:
        return 0
    return max(1, min(n, math.ceil(n / compression - 1e-9)))


def causal_pairs(n_queries: int, n_keys: int) -> int:
    """Number of (query, key) pairs a causal attention of T queries over S keys computes."""
    t, s = n_queries, n_keys
    return t * (s - t) + t * (t + 1) // 2


def attention_flops(pairs: float, head_dim: int, n_heads: int) -> float:
    """FLOPs of QK^T plus AV over `pairs` (query, key) pairs per head: 4 * D per pair."""
    return 4.0 * head_dim * n_heads * pairs


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, square: bool = False) -> None:
    """Raise ValueError unless q (B, H, T, D), k/v (B, Hkv, S, D), H % Hkv == 0, T <= S."""
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(f"q, k, v must be 4-D (B, H, T, D); got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if k.shape != v.shape:
        raise ValueError(f"k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape")
    b, h, t, d = q.shape
    if k.shape[0] != b or k.shape[3] != d:
        raise ValueError(f"k/v {tuple(k.shape)} must share batch and head dim with q {tuple(q.shape)}")
    if h % k.shape[1]:
        raise ValueError(f"query heads H={h} must be a multiple of key/value heads Hkv={k.shape[1]}")
    if t > k.shape[2]:
        raise ValueError(f"T={t} queries but only S={k.shape[2]} keys")
    if square and t != k.shape[2]:
        raise ValueError(f"prefill needs T == S, got T={t}, S={k.shape[2]}")
