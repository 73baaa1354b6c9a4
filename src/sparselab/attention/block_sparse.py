"""`block_sparse` (MInference block-sparse; The Sparse Frontier): top-k key blocks per query block.

Q and K are mean-pooled over blocks of `block` tokens; a key block's score for a query block is the
dot product of the pooled vectors. Each query block always keeps its diagonal block, the block
just below it and the first block, and fills up to k blocks with the top-scoring causal ones.
k is the smallest value whose block count reaches 1/compression of the causal blocks (at least 3).
Default block 16 (METHODS §2); it suits our short sequences as is.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import PREFILL, repeat_kv
from .budget import check_compression, check_positive_int
from .execute import LayoutPrefill, check_backend
from .layout import SparseLayout, layout_from_block_mask

FORCED_BLOCKS = 3  # diagonal, the one below it, the first


def blocks_selected(n_blocks: int, top_k: int) -> int:
    """Causal key blocks kept over all query blocks when each keeps min(top_k, n + 1)."""
    n = np.arange(n_blocks)
    return int(np.minimum(top_k, n + 1).sum())


def top_k_for_compression(n_blocks: int, compression: float) -> int:
    """Smallest k >= 3 whose kept blocks reach (causal blocks) / compression."""
    target = blocks_selected(n_blocks, n_blocks) / compression
    for k in range(min(FORCED_BLOCKS, n_blocks), n_blocks + 1):
        if blocks_selected(n_blocks, k) >= target - 1e-9:
            return k
    return n_blocks


def pool_blocks(x: torch.Tensor, block: int) -> torch.Tensor:
    """Mean over blocks of `block` rows: (B, H, T, D) -> (B, H, ceil(T / block), D), ragged last."""
    b, h, t, d = x.shape
    n = -(-t // block)
    padded = torch.zeros(b, h, n * block, d, dtype=torch.float32, device=x.device)
    padded[:, :, :t] = x.float()
    sizes = torch.full((n,), float(block), device=x.device)
    sizes[-1] = t - (n - 1) * block
    return padded.view(b, h, n, block, d).sum(3) / sizes[:, None]


@PREFILL.register("block_sparse")
class BlockSparse(LayoutPrefill):
    """Block-sparse prefill at a target `compression`."""

    key = "block_sparse"

    def __init__(self, compression: float = 1.0, block: int = 16, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.block = check_positive_int(block, "block")
        self.backend = check_backend(backend)

    def block_scores(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """fp32 (B, H, NQ, NK) pooled-Q . pooled-K scores, -inf above the causal block diagonal,
        +inf on the forced blocks."""
        pq = pool_blocks(q, self.block)  # (B, H, NQ, D)
        pk = repeat_kv(pool_blocks(k, self.block), q.shape[1] // k.shape[1])  # (B, H, NK, D)
        scores = pq @ pk.transpose(-1, -2)
        n = scores.shape[-1]
        qi, ki = torch.arange(n)[:, None], torch.arange(n)[None, :]
        forced = (ki == qi) | (ki == qi - 1) | (ki == 0)
        scores = scores.masked_fill(forced, float("inf"))
        return scores.masked_fill(ki > qi, float("-inf"))

    def top_k(self, length: int) -> int:
        """Blocks each query block keeps at this length."""
        return top_k_for_compression(-(-length // self.block), self.compression)

    def nominal_pairs(self, length: int) -> float:
        n, k, bs = -(-length // self.block), self.top_k(length), self.block
        mask = np.zeros((n, n), dtype=bool)
        for i in range(n):  # any k causal blocks that include the diagonal one hold the same
            mask[i, max(0, i - k + 1) : i + 1] = True  # number of causal pairs: count a band
        tok = np.kron(mask, np.ones((bs, bs), dtype=bool))[:length, :length]
        return float(np.tril(tok).sum())

    def select(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        length = q.shape[2]
        scores = self.block_scores(q, k)  # (B, H, NQ, NK)
        n = scores.shape[-1]
        idx = scores.topk(min(self.top_k(length), n), dim=-1).indices  # ties: torch order
        valid = scores.gather(-1, idx) > float("-inf")  # early query blocks have < k causal ones
        # the layout lists each query block's kept key blocks ascending, -1 pads last
        blocks = torch.where(valid, idx, n).sort(-1).values
        counts = valid.sum(-1).to(torch.int32)
        blocks = blocks[..., : max(1, int(counts.max()))].to(torch.int32)
        blocks = blocks.masked_fill(blocks == n, -1).numpy()
        b, h, nq = counts.shape
        layout = SparseLayout(self.block, self.block, length, length, blocks, counts.numpy(),
                              np.full((b, h, nq, 1), -1, dtype=np.int32),
                              np.zeros((b, h, nq), dtype=np.int32))
        return layout, layout.attended_pairs()

    def select_reference(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        """Obvious version of `select`: a boolean block mask, then `layout_from_block_mask`."""
        length = q.shape[2]
        scores = self.block_scores(q, k)
        top = self.top_k(length)
        idx = scores.topk(min(top, scores.shape[-1]), dim=-1).indices
        keep = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, idx, True)
        keep &= scores > float("-inf")
        layout = layout_from_block_mask(keep.numpy(), self.block, length)
        return layout, layout.attended_pairs_reference()
