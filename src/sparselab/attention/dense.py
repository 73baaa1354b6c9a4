"""`dense`: exact causal attention (torch SDPA) for prefill and decode; the baseline."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import DECODE, PREFILL, AttentionOutput, PrefillMethod, repeat_kv
from .budget import attention_flops, causal_pairs, check_qkv
from .execute import dense_prefill, prefill_kv_bytes
from .kvcache import CacheDecode, KVState, check_decode_query


@PREFILL.register("dense")
class DensePrefill(PrefillMethod):
    """Dense causal prefill (SDPA); grouped-query heads via `repeat_kv`."""

    key = "dense"

    def prefill(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> AttentionOutput:
        check_qkv(q, k, v)
        pairs = causal_pairs(q.shape[2], k.shape[2])
        if q.shape[2] == k.shape[2]:
            out = dense_prefill(q, k, v)
        else:  # queries aligned to the last keys: SDPA's is_causal aligns to the first ones
            from .reference import causal_mask

            rep = q.shape[1] // k.shape[1]
            out = F.scaled_dot_product_attention(q, repeat_kv(k, rep), repeat_kv(v, rep),
                                                 attn_mask=causal_mask(q.shape[2], k.shape[2], q.device))
        return AttentionOutput(out, 0.0, 0.0, {"flops": attention_flops(pairs, q.shape[3], q.shape[1])})

    def flops(self, length: int, head_dim: int, n_heads: int) -> float:
        return attention_flops(causal_pairs(length, length), head_dim, n_heads)

    def kv_bytes(self, length: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        return prefill_kv_bytes(causal_pairs(length, length), head_dim, n_kv_heads, dtype_bytes)


@DECODE.register("dense")
class DenseDecode(CacheDecode):
    """Dense decode over the full cache."""

    key = "dense"

    def decode(self, q: torch.Tensor, state: KVState) -> AttentionOutput:
        check_decode_query(q, state)
        if state.valid is not None:
            return super().decode(q, state)
        rep = q.shape[1] // state.k.shape[1]
        out = F.scaled_dot_product_attention(q, repeat_kv(state.k, rep), repeat_kv(state.v, rep))
        return AttentionOutput(out, 0.0, 0.0,
                               {"flops": attention_flops(state.k.shape[2], q.shape[3], q.shape[1])})
