"""N:M masks: in every group of M consecutive weights along the input dimension keep N."""
from __future__ import annotations

import torch


def parse_pattern(pattern: str | tuple[int, int]) -> tuple[int, int]:
    """`"1:8"` or `(1, 8)` -> `(1, 8)`; raises `ValueError` naming the pattern when malformed.

    Args:
        pattern: "N:M" string or (N, M) pair with 0 < N <= M.
    """
    if isinstance(pattern, str):
        parts = pattern.split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"pattern {pattern!r} is not of the form 'N:M' (e.g. '1:8')")
        n, m = int(parts[0]), int(parts[1])
    else:
        n, m = (int(v) for v in pattern)
    if not 0 < n <= m:
        raise ValueError(f"pattern {n}:{m}: need 0 < N <= M")
    return n, m


def format_pattern(n: int, m: int) -> str:
    """`(1, 8)` -> `"1:8"` (the spelling used in params, metric keys and plot legends)."""
    return f"{n}:{m}"


def check_nm(shape: tuple[int, ...], n: int, m: int, *, allow_dense: bool = False) -> None:
    """Raise `ValueError` naming n, m and the shape unless an N:M mask fits a (out, in) weight."""
    if len(shape) != 2:
        raise ValueError(f"N:M mask needs a 2-D (out, in) weight; got shape {tuple(shape)}")
    if m <= 0 or n <= 0:
        raise ValueError(f"N:M mask: n={n}, m={m} must be positive (weight shape {tuple(shape)})")
    if n > m or (n == m and not allow_dense):
        raise ValueError(f"N:M mask: need n < m, got n={n}, m={m} (weight shape {tuple(shape)})")
    if shape[1] % m:
        raise ValueError(
            f"N:M mask: m={m} does not divide in_features={shape[1]} "
            f"(weight shape {tuple(shape)}, n={n})"
        )


def nm_mask(weight: torch.Tensor, n: int, m: int, *, allow_dense: bool = False) -> torch.Tensor:
    """Binary N:M mask of `weight`: per group of M inputs keep the N largest |w|.

    Ties go to the lower input index (stable sort), so the mask is deterministic.

    Args:
        weight: (out, in) float tensor; `m` must divide `in`.
        n, m: keep n of every m (n < m; n == m only with `allow_dense`).
    Returns:
        (out, in) tensor of the weight's dtype with values in {0, 1}.
    """
    check_nm(tuple(weight.shape), n, m, allow_dense=allow_dense)
    out_f, in_f = weight.shape
    if n == m:
        return torch.ones_like(weight)
    groups = weight.detach().abs().reshape(out_f, in_f // m, m)  # (out, G, M)
    order = torch.argsort(groups, dim=-1, descending=True, stable=True)
    mask = torch.zeros_like(groups)
    mask.scatter_(-1, order[..., :n], 1.0)
    return mask.reshape(out_f, in_f)


def nm_mask_reference(weight: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Slow, obvious loop version of `nm_mask` (for tests)."""
    check_nm(tuple(weight.shape), n, m)
    mask = torch.zeros_like(weight)
    w = weight.detach().abs().tolist()
    for r, row in enumerate(w):
        for g0 in range(0, len(row), m):
            group = row[g0 : g0 + m]
            # sort by (-|w|, index): largest first, ties to the lower index
            keep = sorted(range(m), key=lambda j: (-group[j], j))[:n]
            for j in keep:
                mask[r, g0 + j] = 1.0
    return mask


def mask_density(mask: torch.Tensor) -> float:
    """Fraction of non-zero entries of a mask."""
    return float((mask != 0).float().mean())
