"""`oracle_topk`: every query attends exactly its top-k keys by q.k score (an upper bound for
selection methods, not a practical one: it needs all scores first).

Prefill: query i (with n_i = i + 1 causal keys) keeps ceil(n_i / compression) keys.
Decode: the query keeps ceil(context / compression) keys of the full cache.
"""
from __future__ import annotations

import math

import torch

from .base import DECODE, PREFILL, AttentionOutput, PrefillMethod, repeat_kv
from .budget import attention_flops, causal_pairs, check_compression, check_qkv
from .execute import check_backend, dense_prefill, prefill_kv_bytes, run_mask
from .kvcache import CacheDecode, KVState
from .reference import causal_mask


def topk_mask(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Bool mask of the `keep[..., i]` highest entries of each row of `scores` (..., T, S).

    -inf entries rank last; ties go to the lower key index (stable sort).
    """
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    ranks_kept = (torch.arange(scores.shape[-1]) < keep[..., None]).expand_as(scores)  # sorted order
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, order, ranks_kept)


def qk_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """fp32 q.k / sqrt(D) scores (B, H, T, S), grouped heads expanded."""
    kk = repeat_kv(k.float(), q.shape[1] // k.shape[1])
    return q.float() @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1])


def row_budgets(n_queries: int, n_keys: int, compression: float) -> torch.Tensor:
    """Long (T,) keys each causal query row keeps: ceil(n_i / compression)."""
    n = torch.arange(n_queries) + (n_keys - n_queries) + 1
    return torch.ceil(n.double() / compression - 1e-9).long().clamp(min=1)


@PREFILL.register("oracle_topk")
class OracleTopKPrefill(PrefillMethod):
    """Exact per-query top-k prefill at a target `compression`."""

    key = "oracle_topk"

    def __init__(self, compression: float = 1.0, backend: str = "torch"):
        self.compression = check_compression(compression)
        if backend == "kernel":
            raise ValueError("backend 'kernel' runs block layouts; oracle_topk is token-level: "
                             "use 'torch' or 'reference'")
        self.backend = check_backend(backend)

    def mask(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Bool (B, H, T, S) of each query's top keys among its causal ones."""
        t, s = q.shape[2], k.shape[2]
        scores = qk_scores(q, k).masked_fill(~causal_mask(t, s), float("-inf"))
        return topk_mask(scores, row_budgets(t, s, self.compression))

    def prefill(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionOutput:
        check_qkv(q, k, v, square=True)
        pairs = self.nominal_pairs(q.shape[2])
        sparsity = 1.0 - pairs / causal_pairs(q.shape[2], q.shape[2])
        if self.compression == 1.0:
            out = dense_prefill(q, k, v)
        else:
            out = run_mask(q, k, v, self.mask(q, k), self.backend)
        return AttentionOutput(out, sparsity, sparsity,
                               {"flops": attention_flops(pairs, q.shape[3], q.shape[1])})

    def nominal_pairs(self, length: int) -> float:
        return float(row_budgets(length, length, self.compression).sum())

    def flops(self, length: int, head_dim: int, n_heads: int) -> float:
        return attention_flops(self.nominal_pairs(length), head_dim, n_heads)

    def kv_bytes(self, length: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        return prefill_kv_bytes(self.nominal_pairs(length), head_dim, n_kv_heads, dtype_bytes)


@DECODE.register("oracle_topk")
class OracleTopKDecode(CacheDecode):
    """Exact top-k decode over the full cache, k = ceil(context / compression) per query head."""

    key = "oracle_topk"

    def __init__(self, compression: float = 1.0, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.backend = check_backend(backend)

    def nominal_kept(self, context: int) -> float:
        return float(math.ceil(context / self.compression - 1e-9))

    def select(self, q: torch.Tensor, state: KVState) -> torch.Tensor:
        s = state.k.shape[2]
        keep = torch.full((1,), int(self.nominal_kept(s)))
        return topk_mask(qk_scores(q, state.k), keep)


