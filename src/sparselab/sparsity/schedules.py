"""Step schedules shared by the N:M recipes: phase boundaries, mask decay, SDGF pattern lists."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Phases:
    """Dense warm-up `[0, start)`, sparse/decay phase `[start, end)`, binary-mask phase `[end, total)`.

    Args:
        warmup: fraction of the steps trained dense at the start.
        final: fraction of the steps trained with the final binary N:M mask at the end.
    """

    warmup: float = 0.1
    final: float = 0.1

    def __post_init__(self):
        if not (0 <= self.warmup and 0 <= self.final and self.warmup + self.final <= 1):
            raise ValueError(f"phases: need warmup, final >= 0 and warmup + final <= 1, "
                             f"got warmup={self.warmup}, final={self.final}")

    def bounds(self, total: int) -> tuple[int, int]:
        """(start, end) step of the sparse/decay phase for a run of `total` steps."""
        start = round(self.warmup * total)
        end = max(start, total - round(self.final * total))
        return start, end

    def name(self, t: int, total: int) -> str:
        """'dense', 'decay' or 'final' for step t."""
        start, end = self.bounds(total)
        return "dense" if t < start else ("decay" if t < end else "final")


def beta_linear(t: float, kappa: float) -> float:
    """MDGF linear decay `max(0, 1 - kappa t)`; t = steps since the end of the warm-up."""
    return max(0.0, 1.0 - kappa * t)


def beta_exp(t: float, kappa: float) -> float:
    """MDGF exponential decay `exp(-kappa t)`."""
    return math.exp(-kappa * t)


def default_kappa(kind: str, decay_steps: int, beta_end: float = 0.01) -> float:
    """Decay rate (per step) such that beta decays over the decay phase of `decay_steps` steps.

    Linear reaches 0 exactly at the end of the decay phase (1/kappa = decay_steps); exponential
    reaches `beta_end` there (it never reaches 0; the final binary-mask phase cuts it off).
    """
    steps = max(1, decay_steps)
    if kind == "linear":
        return 1.0 / steps
    if kind == "exp":
        return math.log(1.0 / beta_end) / steps
    raise ValueError(f"decay kind {kind!r}: expected 'linear' or 'exp'")


def stepwise_patterns(n: int, m: int) -> list[tuple[int, int]]:
    """SDGF stepwise: `(M-1):M -> M/2:M -> M/4:M -> ... -> N:M` (keeps only decreasing N).

    1:8 -> 7:8, 4:8, 2:8, 1:8; 1:16 -> 15:16, 8:16, 4:16, 2:16, 1:16; 2:4 -> 3:4, 2:4.
    """
    ns = [m - 1]
    k = m // 2
    while k > n:
        if k < ns[-1]:
            ns.append(k)
        k //= 2
    if ns[-1] > n:
        ns.append(n)
    return [(v, m) for v in ns if v >= n]


def max_scale_level(n: int, m: int, in_features: int, levels: int) -> int:
    """Largest j <= levels such that 2^j * M divides `in_features`."""
    j = levels
    while j > 0 and in_features % ((2**j) * m):
        j -= 1
    return j


def geometric_patterns(n: int, m: int, in_features: int | None = None,
                       levels: int = 3) -> list[tuple[int, int]]:
    """SDGF geometric: `8N:8M -> 4N:4M -> 2N:2M -> N:M` (same density, coarser groups first).

    When 2^j * M does not divide the layer's `in_features` (e.g. 8M > in_features), phase j
    uses the largest group 2^i * M with i <= j that does; a phase whose group cannot grow repeats
    the coarser one (1:32 on in=64: 2:64, 2:64, 2:64, 1:32).

    Args:
        in_features: the layer's input size, or None for the unclipped pattern list.
        levels: number of doublings before N:M (3 gives the paper's four phases).
    """
    top = levels if in_features is None else max_scale_level(n, m, in_features, levels)
    return [(n * 2 ** min(j, top), m * 2 ** min(j, top)) for j in range(levels, -1, -1)]


def phase_index(t: int, start: int, end: int, count: int) -> int:
    """Which of `count` equal phases of `[start, end)` step t falls in (clipped to the ends)."""
    if t < start:
        return 0
    if t >= end or end <= start:
        return count - 1
    return min(count - 1, (t - start) * count // (end - start))
