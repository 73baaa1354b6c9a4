"""The block/column layout prefill methods produce and the CPU kernel executes.

Queries are cut into blocks of `block_q` rows (the last one may be ragged). For every
(batch b, head h, query block n) the layout lists
  * `blocks[b, h, n, :block_counts[b, h, n]]`: key blocks (of `block_k` keys) attended in full,
    ascending;
  * `columns[b, h, n, :column_counts[b, h, n]]`: single key columns attended by every row of the
    block (the 1 x block_q "vertical" lines), ascending and never inside a listed key block.
Padding entries are -1. Causality is always applied on top (key j is visible to query i iff
j <= i + S - T), so a layout may list blocks that straddle the diagonal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numba import njit, prange

from .reference import causal_mask


@dataclass(frozen=True)
class SparseLayout:
    """Per (B, H, query block) key blocks + key columns; see the module docstring."""

    block_q: int
    block_k: int
    n_queries: int  # T
    n_keys: int  # S
    blocks: np.ndarray  # int32 (B, H, NQ, KBmax)
    block_counts: np.ndarray  # int32 (B, H, NQ)
    columns: np.ndarray  # int32 (B, H, NQ, Cmax)
    column_counts: np.ndarray  # int32 (B, H, NQ)

    @property
    def n_query_blocks(self) -> int:
        return -(-self.n_queries // self.block_q)

    @property
    def n_key_blocks(self) -> int:
        return -(-self.n_keys // self.block_k)

    def to_mask(self) -> torch.Tensor:
        """Boolean (B, H, T, S) token mask of the pairs the layout attends (causal applied)."""
        b, h, nq, _ = self.blocks.shape
        t, s = self.n_queries, self.n_keys
        blk = np.zeros((b, h, nq, self.n_key_blocks + 1), dtype=bool)  # last slot absorbs -1 pads
        bi, hi, ni, ji = np.nonzero(self.blocks >= 0)
        blk[bi, hi, ni, self.blocks[bi, hi, ni, ji]] = True
        blk = blk[..., :-1]
        mask = torch.from_numpy(blk).repeat_interleave(self.block_k, dim=3)[..., :s]  # (B,H,NQ,S)
        cols = np.zeros((b, h, nq, s + 1), dtype=bool)
        bi, hi, ni, ji = np.nonzero(self.columns >= 0)
        cols[bi, hi, ni, self.columns[bi, hi, ni, ji]] = True
        mask = mask | torch.from_numpy(cols[..., :-1])
        mask = mask.repeat_interleave(self.block_q, dim=2)[:, :, :t]  # (B, H, T, S)
        return mask & causal_mask(t, s)

    def attended_pairs(self) -> np.ndarray:
        """float64 (B, H): causal (query, key) pairs each head attends (counted per block, no
        token mask: the mask is B * H * T * S booleans, 64 MB per layer at 4K tokens)."""
        return _attended_pairs(self.blocks, self.block_counts, self.columns, self.column_counts,
                               self.block_q, self.block_k, self.n_queries, self.n_keys)

    def attended_pairs_reference(self) -> np.ndarray:
        """Obvious version of `attended_pairs`: the token mask's sum."""
        return self.to_mask().sum(dim=(2, 3)).double().numpy()


@njit(cache=True)
def _attended_pairs(blocks, block_counts, columns, column_counts, block_q, block_k, t, s):
    """Numba body of `SparseLayout.attended_pairs` (listed blocks and columns never overlap)."""
    b_count, h_count, nq = block_counts.shape
    out = np.zeros((b_count, h_count))
    for b in range(b_count):
        for h in range(h_count):
            total = 0
            for n in range(nq):
                p0 = n * block_q + s - t  # positions of the block's first and last query
                p1 = min(t, n * block_q + block_q) - 1 + s - t
                for j in range(block_counts[b, h, n]):
                    k0 = blocks[b, h, n, j] * block_k
                    k1 = min(s, k0 + block_k)
                    for p in range(max(p0, k0), p1 + 1):  # query p sees keys k0 .. min(p, k1 - 1)
                        total += min(p + 1, k1) - k0
                for j in range(column_counts[b, h, n]):
                    c = columns[b, h, n, j]
                    if c <= p1:
                        total += p1 - max(p0, c) + 1
            out[b, h] = total
    return out


def dense_layout(batch: int, heads: int, length: int, block: int = 64) -> SparseLayout:
    """Causal dense layout: query block n attends key blocks 0..n (T == S, block_q == block_k)."""
    nq = -(-length // block)
    blocks = np.tile(np.arange(nq, dtype=np.int32), (batch, heads, nq, 1))
    blocks[blocks > np.arange(nq, dtype=np.int32)[:, None]] = -1
    counts = np.tile(np.arange(1, nq + 1, dtype=np.int32), (batch, heads, 1))
    empty = np.full((batch, heads, nq, 1), -1, dtype=np.int32)
    return SparseLayout(block, block, length, length, blocks, counts, empty,
                        np.zeros((batch, heads, nq), dtype=np.int32))


def layout_from_block_mask(block_mask: np.ndarray, block: int, length: int) -> SparseLayout:
    """Layout attending the key blocks where `block_mask` (B, H, NQ, NK) bool is True (T == S)."""
    b, h, nq, _nk = block_mask.shape
    counts = block_mask.sum(-1).astype(np.int32)
    width = max(1, int(counts.max(initial=0)))
    order = np.argsort(~block_mask, axis=-1, kind="stable")[..., :width].astype(np.int32)
    blocks = np.where(np.arange(width)[None, None, None, :] < counts[..., None], order, -1)
    empty = np.full((b, h, nq, 1), -1, dtype=np.int32)
    return SparseLayout(block, block, length, length, blocks.astype(np.int32), counts, empty,
                        np.zeros((b, h, nq), dtype=np.int32))


@njit(cache=True)
def _lines_to_layout(cols, n_cols, diags, n_diags, length, block_q, block_k):
    """Numba: vertical columns + slash diagonals per head -> block lists + residual columns.

    cols/diags: int64 (G, M) sorted ascending per row (G = B * H), first n_cols[g]/n_diags[g]
    valid. A diagonal at offset o covers keys p - o for the query positions p of a block, executed
    as the key blocks it crosses; a column not inside those blocks stays a column.
    """
    g_count = cols.shape[0]
    nq = (length + block_q - 1) // block_q
    nk = (length + block_k - 1) // block_k
    blk = np.zeros((g_count, nq, nk), dtype=np.bool_)
    col_keep = np.zeros((g_count, nq, cols.shape[1]), dtype=np.bool_)
    for g in range(g_count):
        for n in range(nq):
            p0 = n * block_q
            p1 = min(length, p0 + block_q) - 1
            for j in range(n_diags[g]):
                o = diags[g, j]
                if p1 - o < 0:
                    break  # diagonals are ascending: the rest lie above this block too
                lo = max(0, p0 - o) // block_k
                hi = (p1 - o) // block_k
                for kb in range(lo, hi + 1):
                    blk[g, n, kb] = True
            for j in range(n_cols[g]):
                c = cols[g, j]
                if c > p1:
                    break
                if not blk[g, n, c // block_k]:
                    col_keep[g, n, j] = True
    return blk, col_keep


def layout_from_lines_reference(cols: list[np.ndarray], diags: list[np.ndarray], batch: int,
                                heads: int, length: int, block_q: int, block_k: int) -> SparseLayout:
    """Obvious version of `layout_from_lines` (a block mask, then Python loops over heads).

    Args:
        cols, diags: B * H integer arrays (row-major over (b, h)) of key columns and diagonal
            offsets (0 = main diagonal); any order, duplicates allowed.
    """
    g_count = batch * heads
    width = max(1, max(len(c) for c in cols), max(len(d) for d in diags))
    cpad = np.full((g_count, width), length, dtype=np.int64)
    dpad = np.full((g_count, width), length, dtype=np.int64)
    ncol = np.zeros(g_count, dtype=np.int64)
    ndia = np.zeros(g_count, dtype=np.int64)
    for g in range(g_count):
        c, d = np.unique(cols[g]), np.unique(diags[g])
        cpad[g, : len(c)], ncol[g] = c, len(c)
        dpad[g, : len(d)], ndia[g] = d, len(d)
    blk, col_keep = _lines_to_layout(cpad, ncol, dpad, ndia, length, block_q, block_k)
    nq = blk.shape[1]
    lay = layout_from_block_mask(blk.reshape(batch, heads, nq, -1), block_k, length)
    counts = col_keep.sum(-1).astype(np.int32)
    cw = max(1, int(counts.max(initial=0)))
    columns = np.full((g_count, nq, cw), -1, dtype=np.int32)
    for g in range(g_count):
        for n in range(nq):
            kept = cpad[g][col_keep[g, n]]
            columns[g, n, : len(kept)] = kept
    return SparseLayout(block_q, block_k, length, length, lay.blocks, lay.block_counts,
                        columns.reshape(batch, heads, nq, cw), counts.reshape(batch, heads, nq))


def layout_from_lines(cols: list[np.ndarray], diags: list[np.ndarray], batch: int, heads: int,
                      length: int, block_q: int, block_k: int) -> SparseLayout:
    """Build the executed layout from per-head column and diagonal index arrays (T == S).

    A diagonal at offset o is executed as the key blocks it crosses in each query block; a
    column not inside those blocks stays a column.

    Args:
        cols, diags: B * H integer arrays (row-major over (b, h)) of key columns and diagonal
            offsets (0 = main diagonal); any order, duplicates allowed.
    """
    g_count = batch * heads
    width = max(1, max(len(c) for c in cols), max(len(d) for d in diags))
    cpad = np.zeros((g_count, width), dtype=np.int64)
    dpad = np.zeros((g_count, width), dtype=np.int64)
    ncol = np.zeros(g_count, dtype=np.int64)
    ndia = np.zeros(g_count, dtype=np.int64)
    for g in range(g_count):
        c, d = np.unique(cols[g]), np.unique(diags[g])
        cpad[g, : len(c)], ncol[g] = c, len(c)
        dpad[g, : len(d)], ndia[g] = d, len(d)
    return layout_from_sorted_lines(cpad, ncol, dpad, ndia, batch, heads, length, block_q, block_k)


def layout_from_sorted_lines(cols: np.ndarray, n_cols: np.ndarray, diags: np.ndarray,
                             n_diags: np.ndarray, batch: int, heads: int, length: int,
                             block_q: int, block_k: int) -> SparseLayout:
    """`layout_from_lines` from padded arrays, all in numba.

    Args:
        cols, diags: int64 (B * H, M), each row's first n_cols[g] / n_diags[g] entries distinct
            and ascending, in [0, length); n_cols, n_diags: int64 (B * H,).
    """
    blocks, bcnt, columns, ccnt = _lines_layout(cols, n_cols, diags, n_diags, length, block_q,
                                                block_k)
    nq = blocks.shape[1]
    return SparseLayout(block_q, block_k, length, length,
                        blocks.reshape(batch, heads, nq, -1), bcnt.reshape(batch, heads, nq),
                        columns.reshape(batch, heads, nq, -1), ccnt.reshape(batch, heads, nq))


@njit(parallel=True, cache=True)
def _lines_layout(cols, n_cols, diags, n_diags, length, block_q, block_k):
    """Numba body of `layout_from_sorted_lines`: int32 blocks (G, NQ, KBmax), counts (G, NQ),
    columns (G, NQ, Cmax), counts (G, NQ); -1 pads."""
    g_count = cols.shape[0]
    nq = (length + block_q - 1) // block_q
    nk = (length + block_k - 1) // block_k
    blk = np.zeros((g_count, nq, nk), dtype=np.bool_)
    bcnt = np.zeros((g_count, nq), dtype=np.int32)
    ccnt = np.zeros((g_count, nq), dtype=np.int32)
    for g in prange(g_count):
        for n in range(nq):
            p0 = n * block_q
            p1 = min(length, p0 + block_q) - 1
            for j in range(n_diags[g]):
                o = diags[g, j]
                if p1 - o < 0:
                    break  # diagonals are ascending: the rest lie above this block too
                for kb in range(max(0, p0 - o) // block_k, (p1 - o) // block_k + 1):
                    blk[g, n, kb] = True
            bcnt[g, n] = blk[g, n].sum()
            for j in range(n_cols[g]):
                c = cols[g, j]
                if c > p1:
                    break
                if not blk[g, n, c // block_k]:
                    ccnt[g, n] += 1
    blocks = np.full((g_count, nq, max(1, bcnt.max())), -1, dtype=np.int32)
    columns = np.full((g_count, nq, max(1, ccnt.max())), -1, dtype=np.int32)
    for g in prange(g_count):
        for n in range(nq):
            x = 0
            for kb in range(nk):
                if blk[g, n, kb]:
                    blocks[g, n, x] = kb
                    x += 1
            p1 = min(length, n * block_q + block_q) - 1
            x = 0
            for j in range(n_cols[g]):
                c = cols[g, j]
                if c > p1:
                    break
                if not blk[g, n, c // block_k]:
                    columns[g, n, x] = c
                    x += 1
    return blocks, bcnt, columns, ccnt
