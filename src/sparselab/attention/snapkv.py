"""`snapkv` and `ada_snapkv` (SnapKV, Li et al. 2024; Ada-KV, Feng et al. 2024): KV eviction.

From the last `window` prompt queries, token importance per KV head = attention summed over the
window (SnapKV: mean over the grouped query heads; Ada-SnapKV: max), smoothed by 1-D average
pooling (kernel `pool`, zero padding counted). The first `sinks` and last `recent` tokens are
always kept; the rest of the capacity ceil(S / compression) per head goes to the top tokens; the
others are evicted. Ada-SnapKV: each head keeps its top max(min_share * capacity, sinks + recent)
tokens, the remaining H_kv * capacity budget goes to one global top-k across heads (ragged heads,
padded with `KVState.valid`). Tokens generated after the prompt are always kept.

When the capacity is smaller than sinks + recent, `recent` shrinks first, then `sinks`. METHODS §2
defaults: window 256, pool 21, sinks 4, recent 128; for 256-2048 token prompts scale window =
L/8 and recent = L/16.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import DECODE
from .budget import budget_tokens, check_compression, check_positive_int
from .estimate import last_query_attention
from .execute import check_backend
from .kvcache import CacheDecode, KVState


def token_importance(k: torch.Tensor, q_obs: torch.Tensor, window: int, pool: int,
                     reduce: str) -> torch.Tensor:
    """Pooled attention mass (B, Hkv, S) fp32 each prompt token gets from the observation window.

    Args:
        k: (B, Hkv, S, D) prompt keys; q_obs: (B, H, w', D) last prompt queries (aligned to the
            last keys); reduce: "mean" or "max" over the grouped query heads.
    """
    weights = last_query_attention(q_obs, k, window).sum(2)  # (B, H, S)
    b, h, s = weights.shape
    grouped = weights.view(b, k.shape[1], h // k.shape[1], s)
    score = grouped.mean(2) if reduce == "mean" else grouped.amax(2)  # (B, Hkv, S)
    if pool > 1:
        score = F.avg_pool1d(score.reshape(-1, 1, s), pool, stride=1, padding=pool // 2)
        score = score.reshape(b, k.shape[1], -1)[..., :s]
    return score


def forced_rows(s: int, capacity: int, sinks: int, recent: int) -> torch.Tensor:
    """Bool (S,) of always-kept rows: first sinks and last recent, shrunk to fit `capacity`."""
    recent = min(recent, max(0, capacity - sinks))
    sinks = min(sinks, capacity)
    pos = torch.arange(s)
    return (pos < sinks) | (pos >= s - recent)


def gather_kept(k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor) -> KVState:
    """Pack rows where `keep` (B, Hkv, S) is True into a left-aligned state (ragged -> valid)."""
    counts = keep.sum(-1)  # (B, Hkv)
    width = int(counts.max())
    # stable sort puts kept rows first, in their original order
    order = torch.sort((~keep).to(torch.int8), dim=-1, stable=True).indices[..., :width]
    idx = order[..., None].expand(-1, -1, -1, k.shape[-1])
    valid = torch.arange(width)[None, None, :] < counts[..., None]
    uniform = bool((counts == width).all())
    return KVState(k.gather(2, idx), v.gather(2, idx), None if uniform else valid, k.shape[2])


class _SnapBase(CacheDecode):
    reduce = "mean"

    def __init__(self, compression: float = 1.0, window: int = 256, pool: int = 21, sinks: int = 4,
                 recent: int = 128, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.window = check_positive_int(window, "window")
        self.pool = check_positive_int(pool, "pool")
        if self.pool % 2 == 0:
            raise ValueError(f"pool must be odd so the smoothing is centred, got {pool}")
        self.sinks = check_positive_int(sinks, "sinks", 0)
        self.recent = check_positive_int(recent, "recent", 0)
        self.backend = check_backend(backend)

    def nominal_kept(self, context: int) -> float:
        return float(budget_tokens(context, self.compression))

    def compress(self, k: torch.Tensor, v: torch.Tensor, q_obs: torch.Tensor) -> KVState:
        state = super().compress(k, v, q_obs)
        if self.compression == 1.0:
            return state
        if q_obs.dim() != 4 or q_obs.shape[0] != k.shape[0] or q_obs.shape[1] % k.shape[1]:
            raise ValueError(f"q_obs must be (B, H, w, D) with H % Hkv == 0, got {tuple(q_obs.shape)}")
        s = k.shape[2]
        capacity = budget_tokens(s, self.compression)
        score = token_importance(k, q_obs, self.window, self.pool, self.reduce)
        keep = self.keep_mask(score, capacity)
        return gather_kept(k, v, keep)

    def keep_mask(self, score: torch.Tensor, capacity: int) -> torch.Tensor:
        """Bool (B, Hkv, S): forced rows + each head's top tokens up to `capacity`."""
        forced = forced_rows(score.shape[-1], capacity, self.sinks, self.recent)
        boosted = score.masked_fill(forced, float("inf"))
        idx = torch.sort(boosted, dim=-1, descending=True, stable=True).indices[..., :capacity]
        return torch.zeros_like(score, dtype=torch.bool).scatter_(-1, idx, True)


@DECODE.register("snapkv")
class SnapKV(_SnapBase):
    """SnapKV eviction at a target `compression` (same capacity for every KV head)."""

    key = "snapkv"


@DECODE.register("ada_snapkv")
class AdaSnapKV(_SnapBase):
    """Ada-SnapKV: per-head floor of `min_share` of the capacity, the rest shared across heads."""

    key = "ada_snapkv"
    reduce = "max"

    def __init__(self, compression: float = 1.0, window: int = 256, pool: int = 21, sinks: int = 4,
                 recent: int = 128, min_share: float = 0.2, backend: str = "torch"):
        super().__init__(compression, window, pool, sinks, recent, backend)
        if not 0.0 <= float(min_share) <= 1.0:
            raise ValueError(f"min_share must be in [0, 1], got {min_share!r}")
        self.min_share = float(min_share)

    def keep_mask(self, score: torch.Tensor, capacity: int) -> torch.Tensor:
        b, hkv, s = score.shape
        forced = forced_rows(s, capacity, self.sinks, self.recent)
        floor = min(capacity, max(math.floor(self.min_share * capacity), int(forced.sum())))
        boosted = score.masked_fill(forced, float("inf"))
        order = torch.sort(boosted, dim=-1, descending=True, stable=True).indices
        keep = torch.zeros_like(score, dtype=torch.bool).scatter_(-1, order[..., :floor], True)
        rest = hkv * (capacity - floor)
        flat = score.masked_fill(keep, float("-inf")).reshape(b, hkv * s)
        # stable global order: ties go to the lower (head, token) index
        top = torch.sort(flat, dim=-1, descending=True, stable=True).indices[:, :rest]
        return keep.reshape(b, -1).scatter_(-1, top, True).reshape(b, hkv, s)
