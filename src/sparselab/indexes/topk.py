"""Exact top-k selection kernels (numba) for score accumulators, ties broken by lower doc index.

A bounded min-heap of (score, doc) pairs whose root is the worst kept hit. `topk_dense` first
computes per-block maxima of the accumulator (a vectorisable pass), takes the k-th largest block
maximum as a lower bound on the k-th best score, and only visits blocks that can reach it.
The slow reference for all of this is `inverted.brute_force_topk`.

Helpers here mutate arrays and return nothing where they run per candidate: numba does not
inline a helper that takes arrays and returns a value, and such a call costs ~100x the
comparison it wraps (measured). Numba's on-disk cache of the callers in `inverted.py` does not
notice edits to this file: delete `__pycache__/*.nb[ci]` after changing it.
"""
from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 32  # accumulator entries per block of the block-max pass


@njit(cache=True)
def _worse(s_a, d_a, s_b, d_b):
    """True if (score s_a, doc d_a) ranks below (s_b, d_b): lower score, or equal and higher doc."""
    return s_a < s_b or (s_a == s_b and d_a > d_b)


@njit(cache=True, inline="always")
def _sift_down(hs, hd, i, size):
    """Restore the min-heap (root = worst hit) below position i."""
    s, d = hs[i], hd[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and _worse(hs[c + 1], hd[c + 1], hs[c], hd[c]):
            c += 1
        if not _worse(hs[c], hd[c], s, d):
            break
        hs[i], hd[i] = hs[c], hd[c]
        i = c
    hs[i], hd[i] = s, d


@njit(cache=True, inline="always")
def _sift_up(hs, hd, i):
    s, d = hs[i], hd[i]
    while i > 0:
        parent = (i - 1) >> 1
        if not _worse(s, d, hs[parent], hd[parent]):
            break
        hs[i], hd[i] = hs[parent], hd[parent]
        i = parent
    hs[i], hd[i] = s, d


@njit(cache=True)
def heap_sort(hs, hd, size):
    """Sort the heap in place best-first (moving the worst to the back each step)."""
    for end in range(size - 1, 0, -1):
        s, d = hs[end], hd[end]
        hs[end], hd[end] = hs[0], hd[0]
        hs[0], hd[0] = s, d
        _sift_down(hs, hd, 0, end)


@njit(cache=True)
def topk_touched(acc, seen, touched, n_touched, k, hs, hd):
    """Top-k among the touched documents, clearing their `acc` and `seen` entries.

    acc: float32 (n_docs,) scores; seen: bool (n_docs,); touched: int32 doc indices, the first
    n_touched valid; hs/hd: float32/int32 (>= k,) output, best first. Returns the hit count.
    """
    size = 0
    for j in range(n_touched):
        d = touched[j]
        s = acc[d]
        # heap offer written out: a helper with array arguments that returns a value is not
        # inlined by numba and costs ~100x the comparison (measured)
        if size < k:
            hs[size] = s
            hd[size] = d
            _sift_up(hs, hd, size)
            size += 1
        elif _worse(hs[0], hd[0], s, d):
            hs[0] = s
            hd[0] = d
            _sift_down(hs, hd, 0, size)
        acc[d] = 0.0
        seen[d] = False
    heap_sort(hs, hd, size)
    return size


@njit(cache=True)
def topk_dense(acc, bmax, k, hs, hd, hs2, hd2):
    """Top-k among documents with a positive score, then zero `acc`.

    Only valid when every weight is positive, so that a document matched iff its score is > 0,
    and positive float32 values order like their int32 bit patterns (the block max is an
    integer reduction, which vectorises). Any k blocks each hold a score >= their maximum, so
    the k-th largest block maximum bounds the k-th best score from below.
    acc: float32 (n_docs,); bmax: int32 (>= n_blocks,) scratch; hs/hd (>= k,) output best
    first; hs2/hd2 (>= k,) scratch. Returns the hit count.
    """
    n = acc.shape[0]
    bits = acc.view(np.int32)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in range(n_blocks):
        blk = bits[b * BLOCK : min(b * BLOCK + BLOCK, n)]
        m = np.int32(0)
        for j in range(blk.shape[0]):
            m = max(m, blk[j])
        bmax[b] = m
    fmax = bmax[:n_blocks].view(np.float32)
    size = 0
    for b in range(n_blocks):
        s = fmax[b]
        if s <= 0:
            continue
        if size < k:
            hs2[size] = s
            hd2[size] = b
            _sift_up(hs2, hd2, size)
            size += 1
        elif s > hs2[0]:
            hs2[0] = s
            hd2[0] = b
            _sift_down(hs2, hd2, 0, size)
    # fewer than k non-empty blocks: every positive score is a candidate
    bound = hs2[0] if size == k else np.float32(0.0)
    size = 0
    for b in range(n_blocks):
        if fmax[b] > 0 and fmax[b] >= bound:
            for d in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
                s = acc[d]
                if s <= 0 or s < bound:
                    continue
                if size < k:
                    hs[size] = s
                    hd[size] = d
                    _sift_up(hs, hd, size)
                    size += 1
                elif _worse(hs[0], hd[0], s, d):
                    hs[0] = s
                    hd[0] = d
                    _sift_down(hs, hd, 0, size)
    acc[:] = 0.0
    heap_sort(hs, hd, size)
    return size
