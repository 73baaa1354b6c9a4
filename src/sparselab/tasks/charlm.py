"""Character-level language modelling on a text (tinyshakespeare) with the suite's vocabulary.

The text is split by position: the first 90 % trains, the last 10 % validates (as `Haystack`).
With `test=True` that held-out 10 % is halved: its first half validates (tuning, learning
curves), its second half is a test split that neither training nor tuning sees. The training
part and the start of the validation text are unchanged, and so are the haystack samples of
study 01 (`Haystack` keeps its own 90/10 split).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .haystack import HELD_OUT, read_text
from .vocab import Vocab

TEST_SHARE = 0.5  # share of the held-out text kept as test when a test split is asked for


def text_splits(name: str = "tinyshakespeare", vocab: Vocab | None = None,
                test: bool = False) -> dict[str, np.ndarray]:
    """{"train", "val"} int64 character ids of the named text; with `test`, also "test".

    The first 90 % trains. Without `test` the rest validates; with it, the rest's first
    `1 - TEST_SHARE` validates and its end is the test split (val is a prefix of the default
    val, so the first validation windows are the same).
    """
    ids = (vocab or Vocab()).encode_text(read_text(name))
    cut = int(len(ids) * (1 - HELD_OUT))
    if not test:
        return {"train": ids[:cut], "val": ids[cut:]}
    mid = cut + int((len(ids) - cut) * (1 - TEST_SHARE))
    return {"train": ids[:cut], "val": ids[cut:mid], "test": ids[mid:]}


def char_lm_batches(ids: np.ndarray, seq_len: int, batch_size: int):
    """A trainer `batch_fn`: random windows of `ids`; loss on every position (mask None)."""
    data = torch.from_numpy(ids)
    if len(data) <= seq_len + 1:
        raise ValueError(f"text of {len(data)} tokens is too short for seq_len={seq_len}")

    def fn(step: int, gen: torch.Generator):
        starts = torch.randint(len(data) - seq_len - 1, (batch_size,), generator=gen)
        win = torch.stack([data[s : s + seq_len + 1] for s in starts.tolist()])  # (B, L + 1)
        return win[:, :-1], win[:, 1:], None

    return fn


@torch.no_grad()
def bits_per_char(model: torch.nn.Module, ids: np.ndarray, seq_len: int, max_windows: int = 64,
                  batch_size: int = 16) -> float:
    """Mean next-character loss in bits over up to `max_windows` consecutive windows of `ids`."""
    n_win = min(max_windows, (len(ids) - 1) // seq_len)
    if n_win < 1:
        raise ValueError(f"text of {len(ids)} tokens is too short for seq_len={seq_len}")
    data = torch.from_numpy(ids[: n_win * seq_len + 1])
    model.eval()
    total, count = 0.0, 0
    for lo in range(0, n_win, batch_size):
        rows = range(lo, min(lo + batch_size, n_win))
        x = torch.stack([data[r * seq_len : (r + 1) * seq_len] for r in rows])  # (B, L)
        y = torch.stack([data[r * seq_len + 1 : (r + 1) * seq_len + 1] for r in rows])
        logits = model(x)
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum"))
        count += y.numel()
    return total / count / math.log(2)
