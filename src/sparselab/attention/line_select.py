"""Numba selection of vertical (column) and slash (diagonal) lines for all heads at once.

The readable per-head versions are `vertical_slash.top_lines_for_budget` and
`flexprefill.select_lines` (with `vertical_slash.lines_coverage`); these batch them over the
B * H heads in parallel and return padded arrays for `layout.layout_from_sorted_lines`. They
rank with a stable sort of the negated float64 scores, as the references do, so ties break by
the lower index and the selected lines are the same.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _coverage(cols, n_cols, diags, n_diags, length, count):
    """Causal pairs covered by distinct columns cols[:n_cols] and offsets diags[:n_diags].

    count: int64 scratch (length,), overwritten. A column c meets offset o inside the causal
    triangle iff c + o <= length - 1 (the same count as `lines_coverage`).
    """
    count[:] = 0
    total = 0
    for j in range(n_diags):
        count[diags[j]] += 1
        total += length - diags[j]
    for x in range(1, length):
        count[x] += count[x - 1]  # count[x] = offsets <= x
    for j in range(n_cols):
        total += length - cols[j] - count[length - 1 - cols[j]]
    return total


@njit(cache=True)
def _sorted_prefix(forced, rank, n, length, mark, out):
    """out[:m] = sorted(range(forced) + rank[:n]) (distinct); returns m. mark: bool scratch."""
    mark[:] = False
    mark[:forced] = True
    for j in range(min(n, len(rank))):
        mark[rank[j]] = True
    m = 0
    for x in range(length):
        if mark[x]:
            out[m] = x
            m += 1
    return m


@njit(parallel=True, cache=True)
def top_lines_batch(col_score, diag_score, length, sinks, local, budget):
    """`top_lines_for_budget` for every head.

    Args:
        col_score, diag_score: float64 (G, S) with S == length, G = B * H heads.
    Returns:
        cols, diags: int64 (G, S), each row's first n_cols[g] / n_diags[g] entries ascending;
        n_cols, n_diags: int64 (G,); covered: int64 (G,) causal pairs of the selected lines.
    """
    g_count = col_score.shape[0]
    fc, fd = min(sinks, length), min(local, length)
    cols = np.zeros((g_count, length), dtype=np.int64)
    diags = np.zeros((g_count, length), dtype=np.int64)
    n_cols = np.zeros(g_count, dtype=np.int64)
    n_diags = np.zeros(g_count, dtype=np.int64)
    covered = np.zeros(g_count, dtype=np.int64)
    for g in prange(g_count):
        rank_c = np.argsort(-col_score[g, fc:], kind="mergesort") + fc  # stable: lower index first
        rank_d = np.argsort(-diag_score[g, fd:], kind="mergesort") + fd
        count = np.zeros(length, dtype=np.int64)
        mark = np.zeros(length, dtype=np.bool_)
        lo, hi = 0, max(len(rank_c), len(rank_d))
        while lo < hi:  # coverage grows with n: the smallest n reaching the budget
            mid = (lo + hi) // 2
            nc = _sorted_prefix(fc, rank_c, mid, length, mark, cols[g])
            nd = _sorted_prefix(fd, rank_d, mid, length, mark, diags[g])
            if _coverage(cols[g], nc, diags[g], nd, length, count) >= budget:
                hi = mid
            else:
                lo = mid + 1
        n_cols[g] = _sorted_prefix(fc, rank_c, lo, length, mark, cols[g])
        n_diags[g] = _sorted_prefix(fd, rank_d, lo, length, mark, diags[g])
        covered[g] = _coverage(cols[g], n_cols[g], diags[g], n_diags[g], length, count)
    return cols, diags, n_cols, n_diags, covered


@njit(cache=True)
def _select_lines(scores, forced, alpha, min_budget, mark, out):
    """`flexprefill.select_lines` of one head into out (ascending); returns the count."""
    s = len(scores)
    if alpha >= 1.0:
        cover = s
    else:
        csum = np.cumsum(np.sort(scores)[::-1])
        cover = min(s, np.searchsorted(csum, alpha * csum[-1], side="left") + 1)
    n = max(min(min_budget, s), cover, min(forced, s))
    boosted = scores.copy()
    boosted[:forced] = np.inf
    rank = np.argsort(-boosted, kind="mergesort")
    return _sorted_prefix(0, rank, n, s, mark, out)


@njit(parallel=True, cache=True)
def flex_lines_batch(vertical, slash, sinks, local, alpha, min_budget):
    """FlexPrefill's columns and diagonals for every head (see `top_lines_batch` for the shapes).

    Args:
        vertical, slash: float64 (G, S) column / diagonal attention mass per head.
    """
    g_count, length = vertical.shape
    cols = np.zeros((g_count, length), dtype=np.int64)
    diags = np.zeros((g_count, length), dtype=np.int64)
    n_cols = np.zeros(g_count, dtype=np.int64)
    n_diags = np.zeros(g_count, dtype=np.int64)
    covered = np.zeros(g_count, dtype=np.int64)
    for g in prange(g_count):
        mark = np.zeros(length, dtype=np.bool_)
        n_cols[g] = _select_lines(vertical[g], sinks, alpha, min_budget, mark, cols[g])
        n_diags[g] = _select_lines(slash[g], local, alpha, min_budget, mark, diags[g])
        count = np.zeros(length, dtype=np.int64)
        covered[g] = _coverage(cols[g], n_cols[g], diags[g], n_diags[g], length, count)
    return cols, diags, n_cols, n_diags, covered
