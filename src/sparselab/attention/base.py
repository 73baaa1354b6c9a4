"""The one attention interface every method implements (the contract the tiny LM calls).

Shapes (fixed repo-wide): B batch, H query heads, Hkv key/value heads (H % Hkv == 0, grouped-
query attention), T queries, S keys, D head dim.

Prefill: `method.prefill(q, k, v)` with q (B, H, T, D), k/v (B, Hkv, S, D), causal with the
last query aligned to the last key (T == S during prefill). Returns `AttentionOutput`.

Decode: after prefill the model calls, per layer, `state = method.compress(k, v, q_obs)` with the
full prompt cache k/v (B, Hkv, S, D) and the last prompt queries q_obs (B, H, w, D) (what SnapKV
observes); then for each generated token `state = method.append(state, k_new, v_new)` with
k_new/v_new (B, Hkv, 1, D), and `method.decode(q, state)` with q (B, H, 1, D) -> AttentionOutput.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..registry import Registry


@dataclass
class AttentionOutput:
    """Result of one attention call: `out` (B, H, T, D) and what it cost."""

    out: torch.Tensor
    nominal_sparsity: float = 0.0  # fraction of causal q-k pairs the method meant to skip
    effective_sparsity: float = 0.0  # fraction actually skipped after block/page execution
    extra: dict[str, Any] = field(default_factory=dict)


class PrefillMethod:
    """Base class of prefill-phase attention methods (`dense`, `vertical_slash`, ...)."""

    key: str = "?"

    def prefill(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionOutput:
        raise NotImplementedError

    def flops(self, length: int, head_dim: int, n_heads: int) -> float:
        """Analytic attention FLOPs for one prefill of `length` tokens (QK^T and AV)."""
        raise NotImplementedError

    def kv_bytes(self, length: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        """Bytes of K and V read during one prefill."""
        raise NotImplementedError


class DecodeMethod:
    """Base class of decode-phase methods (`dense`, `quest`, `snapkv`, ...)."""

    key: str = "?"

    def compress(self, k: torch.Tensor, v: torch.Tensor, q_obs: torch.Tensor) -> Any:
        raise NotImplementedError

    def append(self, state: Any, k_new: torch.Tensor, v_new: torch.Tensor) -> Any:
        raise NotImplementedError

    def decode(self, q: torch.Tensor, state: Any) -> AttentionOutput:
        raise NotImplementedError

    def flops(self, context: int, head_dim: int, n_heads: int) -> float:
        """Analytic attention FLOPs for one decoded token over `context` cached tokens."""
        raise NotImplementedError

    def kv_bytes(self, context: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        """Bytes of K and V read for one decoded token."""
        raise NotImplementedError


PREFILL: Registry[type[PrefillMethod]] = Registry("prefill attention method")
DECODE: Registry[type[DecodeMethod]] = Registry("decode attention method")


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, Hkv, S, D) -> (B, Hkv * n_rep, S, D) for grouped-query attention."""
    if n_rep == 1:
        return x
    b, hkv, s, d = x.shape
    return x[:, :, None].expand(b, hkv, n_rep, s, d).reshape(b, hkv * n_rep, s, d)
