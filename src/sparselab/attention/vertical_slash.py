"""`vertical_slash` (MInference; The Sparse Frontier): keep the top key columns and diagonals.

The last `window` queries' attention scores every column (sum of their rows) and every diagonal
offset o = query - key (sum along it). The first `sinks` columns and the `local` most local
diagonals are always kept; then equal numbers of top-scoring columns and diagonals are added
(Sparse Frontier uses vertical_size == slash_size) until the token-level union covers
causal_pairs / compression. Execution: diagonals run as `block` x `block` blocks, columns as
1 x `block` strips, so the effective sparsity (what is attended) is lower than the nominal one.

Defaults are METHODS §2's (window 256, sinks 4, local 64, block 64), tuned for 16K-128K tokens.
For our 256-2048-token models scale them with L: e.g. window = L/8, local = block = L/32
(at least 8 and 16), sinks = 4, otherwise the always-kept lines alone exceed the budget.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import PREFILL
from .budget import budget_tokens, causal_pairs, check_compression, check_positive_int
from .estimate import diagonal_scores, last_query_attention, line_scores
from .execute import LayoutPrefill, check_backend
from .layout import SparseLayout, layout_from_lines_reference, layout_from_sorted_lines
from .line_select import top_lines_batch


def lines_coverage(cols: np.ndarray, diags: np.ndarray, length: int) -> int:
    """Causal (query, key) pairs covered by the union of key columns and diagonal offsets (T == S).

    Args:
        cols, diags: int arrays of distinct columns / offsets in [0, length).
    """
    cols, diags = np.sort(cols), np.sort(diags)
    inter = np.searchsorted(diags, length - 1 - cols, side="right").sum()  # column c meets o at c+o
    return int((length - cols).sum() + (length - diags).sum() - inter)


def top_lines_for_budget(col_score: np.ndarray, diag_score: np.ndarray, length: int, sinks: int,
                         local: int, budget: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Fewest n such that forced lines + top-n columns + top-n diagonals cover `budget` pairs.

    Args:
        col_score, diag_score: (S,) scores of columns / diagonal offsets of one head.
    Returns:
        (columns, offsets, covered pairs); ties broken by the lower index.
    """
    forced_c = np.arange(min(sinks, length))
    forced_d = np.arange(min(local, length))
    rank_c = np.argsort(-col_score[len(forced_c):], kind="stable") + len(forced_c)
    rank_d = np.argsort(-diag_score[len(forced_d):], kind="stable") + len(forced_d)
    lo, hi = 0, max(len(rank_c), len(rank_d))

    def pick(n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.concatenate([forced_c, rank_c[:n]]), np.concatenate([forced_d, rank_d[:n]])

    while lo < hi:  # coverage grows with n: binary search for the smallest n reaching the budget
        mid = (lo + hi) // 2
        if lines_coverage(*pick(mid), length) >= budget:
            hi = mid
        else:
            lo = mid + 1
    c, d = pick(lo)
    return c, d, lines_coverage(c, d, length)


@PREFILL.register("vertical_slash")
class VerticalSlash(LayoutPrefill):
    """Vertical-slash prefill at a target `compression` (= 1 / (1 - sparsity))."""

    key = "vertical_slash"

    def __init__(self, compression: float = 1.0, window: int = 256, sinks: int = 4, local: int = 64,
                 block: int = 64, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.window = check_positive_int(window, "window")
        self.sinks = check_positive_int(sinks, "sinks", 0)
        self.local = check_positive_int(local, "local")
        self.block = check_positive_int(block, "block")
        self.backend = check_backend(backend)

    def scores(self, q: torch.Tensor, k: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Column and diagonal scores, float64 (B, H, S) each, from the last `window` queries."""
        return line_scores(q, k, self.window)

    def scores_reference(self, q: torch.Tensor, k: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Obvious version of `scores`: the (B, H, window, S) attention weights, then sums."""
        w = last_query_attention(q, k, self.window)
        return w.sum(-2).double().numpy(), diagonal_scores(w).double().numpy()

    def select(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        b, h, length, _ = q.shape
        col_score, diag_score = self.scores(q, k)
        budget = budget_tokens(causal_pairs(length, length), self.compression)
        cols, diags, n_cols, n_diags, covered = top_lines_batch(
            col_score.reshape(b * h, length), diag_score.reshape(b * h, length), length,
            self.sinks, self.local, budget)
        layout = layout_from_sorted_lines(cols, n_cols, diags, n_diags, b, h, length, self.block,
                                          self.block)
        return layout, covered.reshape(b, h).astype(np.float64)

    def select_reference(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        """Obvious version of `select`: one head at a time in Python."""
        b, h, length, _ = q.shape
        col_score, diag_score = self.scores_reference(q, k)
        budget = budget_tokens(causal_pairs(length, length), self.compression)
        cols, diags, nominal = [], [], np.zeros((b, h))
        for bi in range(b):
            for hi in range(h):
                c, d, cov = top_lines_for_budget(col_score[bi, hi], diag_score[bi, hi], length,
                                                 self.sinks, self.local, budget)
                cols.append(c), diags.append(d)
                nominal[bi, hi] = cov
        return layout_from_lines_reference(cols, diags, b, h, length, self.block, self.block), nominal
