"""The decode-time KV state and the base class of decode methods that attend a subset of it."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import AttentionOutput, DecodeMethod
from .budget import attention_flops
from .execute import check_backend, run_mask


@dataclass
class KVState:
    """Kept keys/values of one layer during decoding.

    k, v: (B, Hkv, S', D) kept rows (S' <= `seen` once something was evicted).
    valid: optional bool (B, Hkv, S'); False marks padding when heads keep different counts.
    seen: tokens produced so far (prompt + generated), evicted ones included.
    """

    k: torch.Tensor
    v: torch.Tensor
    valid: torch.Tensor | None
    seen: int

    def appended(self, k_new: torch.Tensor, v_new: torch.Tensor) -> KVState:
        """New state with k_new/v_new (B, Hkv, 1, D) appended as valid rows."""
        if k_new.shape[:2] != self.k.shape[:2] or k_new.shape[3] != self.k.shape[3] \
                or k_new.shape != v_new.shape:
            raise ValueError(f"k_new/v_new {tuple(k_new.shape)}/{tuple(v_new.shape)} do not match "
                             f"the cache {tuple(self.k.shape)}")
        valid = self.valid
        if valid is not None:
            ones = torch.ones(*valid.shape[:2], k_new.shape[2], dtype=torch.bool, device=valid.device)
            valid = torch.cat([valid, ones], dim=2)
        return KVState(torch.cat([self.k, k_new], 2), torch.cat([self.v, v_new], 2), valid,
                       self.seen + k_new.shape[2])

    def kept_per_head(self) -> torch.Tensor:
        """Kept (valid) rows per (B, Hkv), long."""
        if self.valid is None:
            return torch.full(self.k.shape[:2], self.k.shape[2], dtype=torch.long)
        return self.valid.sum(-1)


def check_decode_query(q: torch.Tensor, state: KVState) -> None:
    """Raise ValueError unless q is (B, H, 1, D) matching the cache with H % Hkv == 0."""
    if q.dim() != 4 or q.shape[2] != 1:
        raise ValueError(f"decode query must be (B, H, 1, D), got {tuple(q.shape)}")
    if q.shape[0] != state.k.shape[0] or q.shape[3] != state.k.shape[3] or q.shape[1] % state.k.shape[1]:
        raise ValueError(f"query {tuple(q.shape)} does not match the cache {tuple(state.k.shape)}")


class CacheDecode(DecodeMethod):
    """Decode method over a `KVState`: keeps the full prompt cache unless `compress` is overridden;
    `select` returns the (B, H, 1, S') bool mask of attended rows."""

    backend: str = "torch"

    def compress(self, k: torch.Tensor, v: torch.Tensor, q_obs: torch.Tensor) -> KVState:
        if k.dim() != 4 or k.shape != v.shape:
            raise ValueError(f"k/v must be (B, Hkv, S, D) of one shape, got {tuple(k.shape)}, "
                             f"{tuple(v.shape)}")
        return KVState(k, v, None, k.shape[2])

    def append(self, state: KVState, k_new: torch.Tensor, v_new: torch.Tensor) -> KVState:
        return state.appended(k_new, v_new)

    def select(self, q: torch.Tensor, state: KVState) -> torch.Tensor:
        """Bool (B, H, 1, S') of cache rows the query attends; default: every valid row."""
        rep = q.shape[1] // state.k.shape[1]
        if state.valid is None:
            return torch.ones(q.shape[0], q.shape[1], 1, state.k.shape[2], dtype=torch.bool)
        return state.valid.repeat_interleave(rep, dim=1)[:, :, None, :]

    def decode(self, q: torch.Tensor, state: KVState) -> AttentionOutput:
        check_decode_query(q, state)
        mask = self.select(q, state)
        out = run_mask(q, state.k, state.v, mask, check_backend(self.backend))
        attended = mask.sum(-1).double()  # (B, H, 1)
        nominal = self.nominal_kept(state.seen)
        eff = 1.0 - float(attended.mean()) / state.seen
        per_row = (attended.mean((1, 2)) / state.seen).numpy()  # (B,): per sample, for calibration
        return AttentionOutput(out, 1.0 - nominal / state.seen, eff,
                               {"flops": attention_flops(float(attended.mean()), q.shape[3], q.shape[1]),
                                "density_per_row": per_row})

    def nominal_kept(self, context: int) -> float:
        """Rows the method means to attend at `context` (analytic; default all)."""
        return float(context)

    def flops(self, context: int, head_dim: int, n_heads: int) -> float:
        return attention_flops(self.nominal_kept(context), head_dim, n_heads)

    def kv_bytes(self, context: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        return 2.0 * dtype_bytes * head_dim * n_kv_heads * self.nominal_kept(context)
