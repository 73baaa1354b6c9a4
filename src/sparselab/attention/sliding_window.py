"""`sliding_window`: attend the first `sinks` tokens plus the last `window` tokens (StreamingLLM).

Prefill executes the window's diagonals as `block` x `block` blocks (like vertical-slash);
decode keeps `sinks` + the most recent tokens, ceil(context / compression) in all. With
`window=None` the window is derived from `compression` at each length; an explicit `window`
fixes it (then `compression` is ignored for prefill).
"""
from __future__ import annotations

import numpy as np
import torch

from .base import DECODE, PREFILL
from .budget import budget_tokens, causal_pairs, check_compression, check_positive_int
from .execute import LayoutPrefill, check_backend
from .kvcache import CacheDecode, KVState
from .layout import SparseLayout, layout_from_lines
from .vertical_slash import lines_coverage


def window_for_budget(length: int, sinks: int, budget: int) -> int:
    """Smallest window w whose sinks + diagonals 0..w-1 cover `budget` causal pairs (T == S)."""
    cols = np.arange(min(sinks, length))
    lo, hi = 1, length
    while lo < hi:
        mid = (lo + hi) // 2
        if lines_coverage(cols, np.arange(mid), length) >= budget:
            hi = mid
        else:
            lo = mid + 1
    return lo


@PREFILL.register("sliding_window")
class SlidingWindowPrefill(LayoutPrefill):
    """Local window + sink tokens prefill."""

    key = "sliding_window"

    def __init__(self, compression: float = 1.0, window: int | None = None, sinks: int = 4,
                 block: int = 64, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.window = None if window is None else check_positive_int(window, "window")
        self.sinks = check_positive_int(sinks, "sinks", 0)
        self.block = check_positive_int(block, "block")
        self.backend = check_backend(backend)

    def is_dense(self) -> bool:
        return self.window is None and self.compression == 1.0

    def window_at(self, length: int) -> int:
        """Window used for a prefill of `length` tokens."""
        if self.window is not None:
            return min(self.window, length)
        budget = budget_tokens(causal_pairs(length, length), self.compression)
        return window_for_budget(length, self.sinks, budget)

    def nominal_pairs(self, length: int) -> float:
        return float(lines_coverage(np.arange(min(self.sinks, length)),
                                    np.arange(self.window_at(length)), length))

    def select(self, q: torch.Tensor, k: torch.Tensor) -> tuple[SparseLayout, np.ndarray]:
        b, h, length, _ = q.shape
        w = self.window_at(length)
        cols = [np.arange(min(self.sinks, length))] * (b * h)
        diags = [np.arange(w)] * (b * h)
        nominal = np.full((b, h), self.nominal_pairs(length))
        return layout_from_lines(cols, diags, b, h, length, self.block, self.block), nominal


@DECODE.register("sliding_window")
class SlidingWindowDecode(CacheDecode):
    """Decode attending `sinks` + the most recent tokens, ceil(context / compression) in all."""

    key = "sliding_window"

    def __init__(self, compression: float = 1.0, sinks: int = 4, backend: str = "torch"):
        self.compression = check_compression(compression)
        self.sinks = check_positive_int(sinks, "sinks", 0)
        self.backend = check_backend(backend)

    def nominal_kept(self, context: int) -> float:
        return float(budget_tokens(context, self.compression))

    def select(self, q: torch.Tensor, state: KVState) -> torch.Tensor:
        s = state.k.shape[2]
        keep = budget_tokens(s, self.compression)
        pos = torch.arange(s)
        row = (pos < min(self.sinks, keep)) | (pos >= s - (keep - min(self.sinks, keep)))
        return row.expand(q.shape[0], q.shape[1], 1, s).clone()
