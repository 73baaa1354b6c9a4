"""`quest` (Quest, Tang et al. 2024): query-aware page selection; the full cache is kept.

Keys are cut into pages of `page` (16) tokens from position 0; per page and channel the min m
and max M are kept. For a query q the page score sum_d max(q_d m_d, q_d M_d) upper-bounds q.k for
every key of the page. Each query head attends the top floor(budget / page) pages plus the
current (last, possibly partial) page, budget = ceil(context / compression) tokens.
Grouped-query heads: with `group="shared"` (the paper's code) the query heads of a KV group
sum their page scores and attend the same pages, so one page set is read per KV head; with
`group="per_head"` (this project's earlier default, kept so committed grids reproduce) each
query head selects its own pages from its KV head. The two agree without GQA.
"""
from __future__ import annotations

import math

import torch

from .base import DECODE, repeat_kv
from .budget import attention_flops, check_compression, check_positive_int
from .execute import check_backend
from .kvcache import CacheDecode, KVState


def page_bounds(k: torch.Tensor, page: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-page channel min and max of keys (B, Hkv, S, D) -> two (B, Hkv, P, D), P = ceil(S/page)."""
    b, h, s, d = k.shape
    n = -(-s // page)
    pad = n * page - s
    lo = torch.cat([k, k[:, :, -1:].expand(b, h, pad, d)], 2) if pad else k  # repeat last key
    return lo.view(b, h, n, page, d).amin(3), lo.view(b, h, n, page, d).amax(3)


def page_scores(q: torch.Tensor, kmin: torch.Tensor, kmax: torch.Tensor) -> torch.Tensor:
    """Quest upper bounds (B, H, P) = sum_d max(q_d m_d, q_d M_d) for q (B, H, 1, D)."""
    rep = q.shape[1] // kmin.shape[1]
    lo, hi = repeat_kv(kmin, rep), repeat_kv(kmax, rep)  # (B, H, P, D)
    return torch.maximum(q * lo, q * hi).sum(-1)


@DECODE.register("quest")
class Quest(CacheDecode):
    """Quest decode at a target `compression`."""

    key = "quest"

    GROUPS = ("per_head", "shared")

    def __init__(self, compression: float = 1.0, page: int = 16, backend: str = "torch",
                 group: str = "per_head"):
        self.compression = check_compression(compression)
        self.page = check_positive_int(page, "page")
        self.backend = check_backend(backend)
        if group not in self.GROUPS:
            raise ValueError(f"quest: group {group!r} is not one of {', '.join(self.GROUPS)}")
        self.group = group

    def pages_kept(self, context: int) -> int:
        """Pages attended at `context`: top budget // page plus the current one (at most all)."""
        budget = math.ceil(context / self.compression - 1e-9)
        n_pages = -(-context // self.page)
        return min(n_pages, budget // self.page + 1)

    def nominal_kept(self, context: int) -> float:
        return float(min(context, math.ceil(context / self.compression - 1e-9)))

    def select_pages(self, q: torch.Tensor, state: KVState) -> torch.Tensor:
        """Bool (B, H, P) of pages each query head attends."""
        kmin, kmax = page_bounds(state.k, self.page)
        scores = page_scores(q.float(), kmin.float(), kmax.float())  # (B, H, P)
        rep = q.shape[1] // kmin.shape[1]
        if self.group == "shared" and rep > 1:  # one page set per KV group: summed scores
            b, h, p = scores.shape
            scores = scores.view(b, h // rep, rep, p).sum(2, keepdim=True).expand(
                b, h // rep, rep, p).reshape(b, h, p).clone()
        scores[..., -1] = float("inf")  # the current page is always attended
        n = self.pages_kept(state.k.shape[2])
        idx = torch.sort(scores, dim=-1, descending=True, stable=True).indices[..., :n]
        return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, True)

    def select(self, q: torch.Tensor, state: KVState) -> torch.Tensor:
        if state.valid is not None:
            raise ValueError("quest needs the full cache (state.valid must be None)")
        pages = self.select_pages(q, state)
        s = state.k.shape[2]
        return pages.repeat_interleave(self.page, dim=-1)[..., None, :s]  # (B, H, 1, S)

    def flops(self, context: int, head_dim: int, n_heads: int) -> float:
        """Attention over the kept tokens + scoring every page (2 products, max, add per channel)."""
        return attention_flops(self.nominal_kept(context), head_dim, n_heads) + \
            4.0 * head_dim * n_heads * -(-context // self.page)

    def kv_bytes(self, context: int, head_dim: int, n_kv_heads: int, dtype_bytes: int = 4) -> float:
        """Kept K/V rows + the per-page min/max metadata (grouped heads assumed to agree)."""
        pages = -(-context // self.page)
        return 2.0 * dtype_bytes * head_dim * n_kv_heads * (self.nominal_kept(context) + pages)
