"""`flexprefill` (FlexPrefill, Sparse Frontier variant): adaptive vertical + slash lines.

From the last `window` queries' attention, keep the fewest columns, and separately the fewest
diagonals, whose cumulative attention mass reaches `alpha` (at least `min_budget` of each, the
first `sinks` columns and `local` diagonals always among them). The budget adapts per head and
input, so the sparsity is an output: read `AttentionOutput.effective_sparsity` / extra["flops"];
the analytic `flops()` counts the `min_budget` floor only (a lower bound). alpha >= 1 keeps all;
alpha = 0 keeps exactly `min_budget` lines of each kind (the paper's fixed-budget grid points).

Defaults are METHODS §2's (window 512, min_budget 256, sinks 4, local 64, block 64); for 256-2048
token sequences scale window = L/4, min_budget = L/16, local = block = L/32 (at least 8 and 16).
"""
from __future__ import annotations

import numpy as np
import torch

from .base import PREFILL
from .budget import check_positive_int
from .estimate import diagonal_scores, last_query_attention, line_scores
from .execute import LayoutPrefill, check_backend
from .layout import SparseLayout, layout_from_lines_reference, layout_from_sorted_lines
from .line_select import flex_lines_batch
from .vertical_slash import lines_coverage


def cover_count(scores: np.ndarray, alpha: float) -> int:
    """Fewest top entries of `scores` (1-D, nonnegative) whose sum reaches alpha * total."""
    if alpha >= 1.0:
        return len(scores)
    csum = np.cumsum(np.sort(scores)[::-1])
    return min(len(scores), int(np.searchsorted(csum, alpha * csum[-1], side="left")) + 1)


def select_lines(scores: np.ndarray, forced: int, alpha: float, min_budget: int) -> np.ndarray:
    """Indices of the top max(min_budget, cover_count) lines, the first `forced` always included."""
    n = max(min(min_budget, len(scores)), cover_count(scores, alpha), min(forced, len(scores)))
    boosted = scores.astype(np.float64).copy()
    boosted[:forced] = np.inf
    return np.sort(np.argsort(-boosted, kind="stable")[:n])


@PREFILL.register("flexprefill")
class FlexPrefill(LayoutPrefill):
    """FlexPrefill with coverage `alpha` (the budget adapts per head)."""

    key = "flexprefill"

    def __init__(self, alpha: float = 0.9, window: int = 512, min_budget: int = 256, sinks: int = 4,
                 local: int = 64, block: int = 64, backend: str = "torch"):
        if not 0.0 <= float(alpha) <= 1.0:  # 0: a fixed budget of min_budget lines (paper grid)
            raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)
        self.compression = 1.0 if self.alpha >= 1.0 else float("nan")
        self.window = check_positive_int(window, "window")
        self.min_budget = check_positive_int(min_budget, "min_budget", 0)
        self.sinks = check_positive_int(sinks, "sinks", 0)
        self.local = check_positive_int(local, "local")
        self.block = check_positive_int(block, "block")
        self.backend = check_backend(backend)

    def is_dense(self) -> bool:
        return self.alpha >= 1.0

    def nominal_pairs(self, length: int) -> float:
        if self.is_dense():
            return float(length * (length + 1) // 2)
        n = min(length, max(self.min_budget, self.sinks, self.local))
        return float(lines_coverage(np.arange(n), np.arange(n), length))  # floor of min_budget lines

    def line_scores(self, q: torch.Tensor, k: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Column and diagonal attention mass, float64 (B, H, S) each, of the last `window`
        queries (each row of either sums to 1)."""
        col, diag = line_scores(q, k, self.window)
        w = min(self.window, q.shape[2])
        return col / w, diag / w

    def line_scores_reference(self, q: torch.Tensor, k: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Obvious version of `line_scores`: the (B, H, window, S) attention weights, then means."""
        w = last_query_attention(q, k, self.window)
        return w.mean(-2).double().numpy(), (diagonal_scores(w) / w.shape[2]).double().numpy()

    def select(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        b, h, length, _ = q.shape
        vertical, slash = self.line_scores(q, k)
        cols, diags, n_cols, n_diags, covered = flex_lines_batch(
            vertical.reshape(b * h, length), slash.reshape(b * h, length), self.sinks, self.local,
            self.alpha, self.min_budget)
        layout = layout_from_sorted_lines(cols, n_cols, diags, n_diags, b, h, length, self.block,
                                          self.block)
        return layout, covered.reshape(b, h).astype(np.float64)

    def select_reference(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        """Obvious version of `select`: one head at a time in Python."""
        b, h, length, _ = q.shape
        vertical, slash = self.line_scores_reference(q, k)
        cols, diags, nominal = [], [], np.zeros((b, h))
        for bi in range(b):
            for hi in range(h):
                c = select_lines(vertical[bi, hi], self.sinks, self.alpha, self.min_budget)
                d = select_lines(slash[bi, hi], self.local, self.alpha, self.min_budget)
                cols.append(c), diags.append(d)
                nominal[bi, hi] = lines_coverage(c, d, length)
        return layout_from_lines_reference(cols, diags, b, h, length, self.block, self.block), nominal
