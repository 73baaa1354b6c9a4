"""Packed N:M weights and a numba CPU matmul for them (inference).

Layout of an (O, K) N:M weight: `values` float32 (O, K*N/M) holds the kept weights of each
row, group after group (kept entries of a group in increasing input order), and `indices` uint8
(O, K*N/M) their position inside the group (0..M-1). Slot p of row o is input
`(p // N) * M + indices[o, p]`. Bytes per weight: N/M * (4 + 1) against 4 dense, so a
memory-bound batch-1 product reads 6.4x less for 1:8.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .mask import check_nm


@dataclass(frozen=True)
class PackedNM:
    """An N:M weight in packed form (see module docstring for the layout)."""

    values: np.ndarray  # float32 (O, K*N/M)
    indices: np.ndarray  # uint8 (O, K*N/M)
    n: int
    m: int
    in_features: int

    @property
    def out_features(self) -> int:
        return self.values.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of the packed weight (values + indices)."""
        return self.values.nbytes + self.indices.nbytes


def _nm_mask_np(weight: np.ndarray, n: int, m: int) -> np.ndarray:
    """Boolean N:M mask (same tie rule as `nm_mask`: stable sort, lower index wins)."""
    out_f, in_f = weight.shape
    groups = np.abs(weight).reshape(out_f, in_f // m, m)  # (O, G, M)
    order = np.argsort(-groups, axis=-1, kind="stable")[..., :n]
    mask = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask.reshape(out_f, in_f)


def pack_nm(weight, n: int, m: int, mask: np.ndarray | None = None) -> PackedNM:
    """Pack an (O, K) weight into N:M form, keeping `mask` (default: magnitude N:M mask).

    Args:
        weight: (O, K) array or tensor (converted to float32 numpy).
        mask: optional (O, K) boolean with exactly N True per group of M.
    """
    if hasattr(weight, "detach"):
        weight = weight.detach().cpu().numpy()
    weight = np.asarray(weight, dtype=np.float32)
    check_nm(weight.shape, n, m)
    if m > 256:
        raise ValueError(f"pack_nm: m={m} does not fit uint8 in-group indices (max 256)")
    mask = _nm_mask_np(weight, n, m) if mask is None else np.asarray(mask, dtype=bool)
    out_f, in_f = weight.shape
    per_group = mask.reshape(out_f, in_f // m, m).sum(-1)
    if not (per_group == n).all():
        raise ValueError(f"pack_nm: mask does not keep exactly n={n} of every m={m}")
    # np.nonzero walks rows in order and columns ascending: slots come out group by group
    rows, cols = np.nonzero(mask)
    values = weight[rows, cols].reshape(out_f, -1)
    indices = (cols % m).astype(np.uint8).reshape(out_f, -1)
    return PackedNM(np.ascontiguousarray(values), np.ascontiguousarray(indices), n, m, in_f)


def unpack_nm(packed: PackedNM) -> np.ndarray:
    """Dense (O, K) float32 weight with zeros at the pruned positions."""
    out_f, slots = packed.values.shape
    dense = np.zeros((out_f, packed.in_features), dtype=np.float32)
    group = np.arange(slots) // packed.n
    cols = group[None, :] * packed.m + packed.indices.astype(np.int64)  # (O, P)
    np.put_along_axis(dense, cols, packed.values, axis=1)
    return dense


def nm_matmul_reference(x: np.ndarray, packed: PackedNM) -> np.ndarray:
    """Obvious reference: `x @ unpack(W).T` in float64, returned as float32 (B, O)."""
    return (np.asarray(x, np.float64) @ unpack_nm(packed).astype(np.float64).T).astype(np.float32)


def slot_offsets(slots: int, n: int, m: int) -> np.ndarray:
    """int32 (P,): first input of the group that slot p belongs to, `(p // n) * m`.

    Shared by every row; precomputing it keeps a division out of the inner loops.
    """
    return ((np.arange(slots, dtype=np.int64) // n) * m).astype(np.int32)


@njit(parallel=True, fastmath=True, cache=True)
def _nm_gemv(x, values, indices, offsets, out):
    """out[o] = sum_p values[o, p] * x[offsets[p] + indices[o, p]]; parallel over rows o."""
    n_rows, slots = values.shape
    for o in prange(n_rows):
        acc = np.float32(0.0)
        for p in range(slots):
            acc += values[o, p] * x[offsets[p] + np.int32(indices[o, p])]
        out[o] = acc


@njit(parallel=True, fastmath=True, cache=True)
def _nm_gemm(xt, values, indices, offsets, out_t):
    """out_t[o, b] = sum_p values[o, p] * xt[col(o, p), b]; xt (K, B) so a gathered row is
    contiguous and the inner loop over the batch vectorises."""
    n_rows, slots = values.shape
    batch = xt.shape[1]
    for o in prange(n_rows):
        acc = np.zeros(batch, dtype=np.float32)
        for p in range(slots):
            col = offsets[p] + np.int32(indices[o, p])
            v = values[o, p]
            for b in range(batch):
                acc[b] += v * xt[col, b]
        out_t[o, :] = acc


def nm_matmul(x: np.ndarray, packed: PackedNM) -> np.ndarray:
    """`x @ W.T` for a packed N:M weight W.

    Args:
        x: (B, K) float32 (a (K,) vector is treated as B = 1).
        packed: `PackedNM` with in_features K.
    Returns:
        (B, O) float32.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != packed.in_features:
        raise ValueError(f"nm_matmul: x has shape {x.shape}, expected (B, {packed.in_features})")
    offsets = slot_offsets(packed.values.shape[1], packed.n, packed.m)
    if x.shape[0] == 1:
        out = np.empty(packed.out_features, dtype=np.float32)
        _nm_gemv(np.ascontiguousarray(x[0]), packed.values, packed.indices, offsets, out)
        return out[None, :]
    xt = np.ascontiguousarray(x.T)  # (K, B)
    out_t = np.empty((packed.out_features, x.shape[0]), dtype=np.float32)
    _nm_gemm(xt, packed.values, packed.indices, offsets, out_t)
    return np.ascontiguousarray(out_t.T)
