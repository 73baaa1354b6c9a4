"""Method hyper-parameters scaled to the sequence length.

METHODS §2 gives defaults tuned for 16K-128K-token prompts (observation windows of 256-512
queries, 64 local diagonals, 64 x 64 blocks, SnapKV keeping the last 128 tokens). At our
256-2048 tokens those fixed sizes would cover most of the sequence, so every method would be
nearly dense whatever its budget. `params_for_length` shrinks each size in proportion to the
length and reaches the METHODS defaults at L = 2048 (and stays there above):

| method | parameter | rule |
|---|---|---|
| vertical_slash | window / local / block | min(256, max(32, L/8)) / min(64, max(16, L/32)) / same as local |
| flexprefill | window / min_budget / local / block | min(512, max(64, L/4)) / min(256, max(8, L/16)) / as vertical_slash |
| sliding_window (prefill) | block | min(64, max(16, L/32)) |
| block_sparse | block | 16 (METHODS; already fine-grained) |
| snapkv, ada_snapkv | window / recent / pool | min(256, max(16, L/8)) / min(128, max(8, L/16)) / odd, min(21, max(3, L/64)) |
| quest | page / group | 16 (METHODS) / "shared" across a GQA group from L = 2048 (the paper's code); below, Quest's default "per_head" (left out, so the short grids' cell keys stay) |

Sinks stay 4 and the budget (compression or alpha) is the study's sweep axis.
"""
from __future__ import annotations

from typing import Any

from .budget import check_positive_int


def _clip(value: int, lo: int, hi: int) -> int:
    return min(hi, max(lo, value))


def params_for_length(phase: str, key: str, length: int) -> dict[str, Any]:
    """Constructor keyword arguments (besides the budget) for method `key` at `length` tokens.

    Args:
        phase: "prefill" or "decode"; key: registry key; length: prompt length L.
    """
    length = check_positive_int(length, "length")
    local = _clip(length // 32, 16, 64)
    if phase == "prefill":
        table = {
            "dense": {}, "oracle_topk": {}, "block_sparse": {"block": 16},
            "vertical_slash": {"window": _clip(length // 8, 32, 256), "local": local, "block": local},
            "flexprefill": {"window": _clip(length // 4, 64, 512),
                            "min_budget": _clip(length // 16, 8, 256), "local": local, "block": local},
            "sliding_window": {"block": local},
        }
    elif phase == "decode":
        snap = {"window": _clip(length // 8, 16, 256), "recent": _clip(length // 16, 8, 128),
                "pool": _clip(length // 64, 3, 21) | 1}
        table = {"dense": {}, "oracle_topk": {}, "sliding_window": {}, "quest": {"page": 16, **({"group": "shared"} if length >= 2048 else {})},
                 "snapkv": snap, "ada_snapkv": dict(snap)}
    else:
        raise ValueError(f"phase must be 'prefill' or 'decode', got {phase!r}")
    if key not in table:
        raise KeyError(f"no {phase} method {key!r}; known: {', '.join(sorted(table))}")
    return dict(table[key])
