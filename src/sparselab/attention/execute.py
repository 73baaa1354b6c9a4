"""Run attention over a layout or a token mask with a chosen backend, and the shared prefill base."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import AttentionOutput, PrefillMethod, repeat_kv
from .budget import PREFILL_QUERY_TILE, attention_flops, causal_pairs, check_qkv
from .layout import SparseLayout
from .reference import masked_attention

# "torch": SDPA with a boolean mask (autograd, any dtype); "kernel": the numba block-sparse
# kernel (fp32, CPU, no autograd, the fast path); "reference": fp64 slow reference.
BACKENDS = ("torch", "kernel", "reference")


def check_backend(backend: str) -> str:
    """Return `backend` or raise ValueError naming the known ones."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def run_mask(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
             backend: str = "torch") -> torch.Tensor:
    """Attention (B, H, T, D) of q over k/v where bool `mask` (B, H, T, S) is True."""
    if backend == "reference":
        return masked_attention(q, k, v, mask).to(q.dtype)
    rep = q.shape[1] // k.shape[1]
    outs = []
    for i in range(q.shape[0]):  # one batch row at a time bounds the mask's memory
        kk, vv = repeat_kv(k[i : i + 1], rep), repeat_kv(v[i : i + 1], rep)  # (1, H, S, D)
        outs.append(F.scaled_dot_product_attention(q[i : i + 1], kk, vv, attn_mask=mask[i : i + 1]))
    return torch.cat(outs)


def run_layout(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: SparseLayout,
               backend: str = "torch") -> torch.Tensor:
    """Attention (B, H, T, D) of q over the pairs `layout` lists (causal applied)."""
    if backend == "kernel":
        from .kernel import block_sparse_attention

        out = block_sparse_attention(q.detach().float().cpu().numpy(), k.detach().float().cpu().numpy(),
                                     v.detach().float().cpu().numpy(), layout)
        return torch.from_numpy(out).to(dtype=q.dtype, device=q.device)
    return run_mask(q, k, v, layout.to_mask().to(q.device), backend)


def dense_prefill(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Dense causal SDPA (B, H, T, D), grouped-query heads via `repeat_kv`."""
    rep = q.shape[1] // k.shape[1]
    return F.scaled_dot_product_attention(q, repeat_kv(k, rep), repeat_kv(v, rep), is_causal=True)


def prefill_kv_bytes(pairs: float, head_dim: int, n_kv_heads: int, dtype_bytes: int) -> float:
    """K and V bytes read when each attended key row is loaded once per tile of 64 queries."""
    return 2.0 * dtype_bytes * head_dim * n_kv_heads * pairs / PREFILL_QUERY_TILE


class LayoutPrefill(PrefillMethod):
    """Prefill method that selects a `SparseLayout` and runs it; subclasses implement `select`.

    `compression == 1` short-cuts to exact dense SDPA.
    """

    compression: float = 1.0
    backend: str = "torch"

    def select(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        """Return the layout and the nominal kept pairs per head, float64 (B, H)."""
        raise NotImplementedError

    def is_dense(self) -> bool:
        """True when the method keeps everything (then `prefill` runs exact dense SDPA)."""
        return self.compression == 1.0

    def nominal_pairs(self, length: int) -> float:
        """Analytic kept pairs per head for `flops` / `kv_bytes` (default: causal / C)."""
        return causal_pairs(length, length) / self.compression

    def prefill(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionOutput:
        check_qkv(q, k, v, square=True)
        total = causal_pairs(q.shape[2], k.shape[2])
        if self.is_dense():
            return AttentionOutput(dense_prefill(q, k, v), 0.0, 0.0,
                                   {"flops": attention_flops(total, q.shape[3], q.shape[1])})
        layout, nominal = self.select(q, k)
        kept = layout.attended_pairs()  # (B, H)
        out = run_layout(q, k, v, layout, self.backend)
        extra = {"layout": layout, "flops": attention_flops(kept.mean(), q.shape[3], q.shape[1]),
                 "density_per_head": kept.mean(0) / total,
                 "density_per_row": kept.mean(1) / total}  # (B,): per sample, for calibration
        return AttentionOutput(out, float(1 - nominal.mean() / total), float(1 - kept.mean() / total),
                               extra)

    def flops(self, length: int, head_dim: int, n_heads: int) -> float:
        return attention_flops(self.nominal_pairs(length), head_dim, n_heads)

    def kv_bytes(self, length: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        return prefill_kv_bytes(self.nominal_pairs(length), head_dim, n_kv_heads, dtype_bytes)
