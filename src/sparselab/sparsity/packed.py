"""Packed N:M weights for CPU inference: the format, packing, unpacking and the reference.

Layout of an (O, K) N:M weight (rows padded with zeros to a multiple of 32, `O_pad`):

- Rows are cut into blocks of 32. Each row keeps P = K*N/M weights ("slots"); slot p of a row
  lies in input group p // N, at in-group position `idx` (0..M-1), so it multiplies input
  `(p // N) * M + idx`. Kept entries of a group appear in increasing input order.
- `values` (O_pad/32, P, 32): slot-major inside a block, so one slot of 32 rows is 128
  contiguous bytes (two cache lines) and the kernel streams the weights front to back.
  float32, or bfloat16 stored as uint16 (the top half of the float32, rounded to nearest even).
- `indices` uint8 bit stream: for each (block, slot), 32 in-group positions of `bits` bits each
  (lane l at bit l*bits, little-endian), `bits` = 2 for M <= 4, 3 for M <= 8, 4 for M <= 16,
  8 otherwise; then 8 bytes of padding (the kernel reads 4 bytes at a time).

Bytes per kept weight: 4 (or 2 for bfloat16) + bits/8, against 4 per weight dense, so a
memory-bound batch-1 product reads 1.88x fewer bytes for 2:4 and 7.3x fewer for 1:8 (fp32).
The fast kernel is in `packed_kernels.py`; `nm_matmul_reference` is the obvious slow product.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mask import check_nm

LANES = 32  # rows per block


def index_bits(m: int) -> int:
    """Bits per in-group index for group size m (2, 3, 4 or 8)."""
    if not 1 <= m <= 256:
        raise ValueError(f"pack_nm: m={m} must be in 1..256")
    return 2 if m <= 4 else 3 if m <= 8 else 4 if m <= 16 else 8


@dataclass(frozen=True)
class PackedNM:
    """An N:M weight in packed form (see the module docstring for the layout)."""

    values: np.ndarray  # (O_pad/32, P, 32) float32, or uint16 holding bfloat16
    indices: np.ndarray  # uint8 (O_pad/32 * P * 4 * bits + 8,) bit stream
    offsets: np.ndarray  # int64 (P,): first input of slot p's group, (p // n) * m
    n: int
    m: int
    in_features: int
    out_features: int
    bits: int

    @property
    def slots(self) -> int:
        return self.values.shape[1]

    @property
    def blocks(self) -> int:
        return self.values.shape[0]

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.values.dtype == np.uint16 else "float32"

    @property
    def nbytes(self) -> int:
        """Bytes a product reads for the weight: values + indices + slot offsets."""
        return self.values.nbytes + self.indices.nbytes + self.offsets.nbytes


def _nm_mask_np(weight: np.ndarray, n: int, m: int) -> np.ndarray:
    """Boolean N:M mask (same tie rule as `nm_mask`: stable sort, lower index wins)."""
    out_f, in_f = weight.shape
    groups = np.abs(weight).reshape(out_f, in_f // m, m)  # (O, G, M)
    order = np.argsort(-groups, axis=-1, kind="stable")[..., :n]
    mask = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask.reshape(out_f, in_f)


def to_bf16(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), round to nearest even."""
    u = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) -> float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def pack_nm(weight, n: int, m: int, mask: np.ndarray | None = None,
            dtype: str = "float32") -> PackedNM:
    """Pack an (O, K) weight into N:M form, keeping `mask` (default: magnitude N:M mask).

    Args:
        weight: (O, K) array or tensor (converted to float32 numpy).
        mask: optional (O, K) boolean with exactly N True per group of M.
        dtype: "float32" or "bfloat16" for the stored values.
    """
    if hasattr(weight, "detach"):
        weight = weight.detach().cpu().numpy()
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    weight = np.asarray(weight, dtype=np.float32)
    check_nm(weight.shape, n, m)
    bits = index_bits(m)
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"pack_nm: dtype must be 'float32' or 'bfloat16', got {dtype!r}")
    mask = _nm_mask_np(weight, n, m) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != weight.shape:
        raise ValueError(f"pack_nm: mask shape {mask.shape} != weight shape {weight.shape}")
    out_f, in_f = weight.shape
    if not (mask.reshape(out_f, in_f // m, m).sum(-1) == n).all():
        raise ValueError(f"pack_nm: mask does not keep exactly n={n} of every m={m}")
    o_pad = -(-out_f // LANES) * LANES
    # padding rows keep the first n of each group, with value 0
    pad = np.zeros((o_pad - out_f, in_f // m, m), dtype=bool)
    pad[..., :n] = True
    mask = np.concatenate([mask, pad.reshape(o_pad - out_f, in_f)])
    weight = np.concatenate([weight, np.zeros((o_pad - out_f, in_f), np.float32)])
    rows, cols = np.nonzero(mask)  # row-major, columns ascending: slots group by group
    slots = in_f * n // m
    vals = weight[rows, cols].reshape(o_pad, slots)
    idx = (cols % m).reshape(o_pad, slots)
    nb = o_pad // LANES
    vals = np.ascontiguousarray(vals.reshape(nb, LANES, slots).transpose(0, 2, 1))
    lanes = idx.reshape(nb, LANES, slots).transpose(0, 2, 1)  # (nb, P, 32)
    if bits == 8:
        stream = lanes.astype(np.uint8).ravel()
    else:
        planes = ((lanes[..., None] >> np.arange(bits)) & 1).astype(np.uint8)  # (nb, P, 32, bits)
        stream = np.packbits(planes.reshape(nb, slots, LANES * bits), axis=-1,
                             bitorder="little").ravel()
    indices = np.concatenate([stream, np.zeros(8, np.uint8)])
    offsets = (np.arange(slots, dtype=np.int64) // n) * m
    values = to_bf16(vals) if dtype == "bfloat16" else vals
    return PackedNM(values, indices, offsets, n, m, in_f, out_f, bits)


def decode_indices(packed: PackedNM) -> np.ndarray:
    """In-group positions (O_pad/32, P, 32) int64 from the bit stream."""
    nb, slots, bits = packed.blocks, packed.slots, packed.bits
    stream = packed.indices[: nb * slots * LANES * bits // 8]
    if bits == 8:
        return stream.reshape(nb, slots, LANES).astype(np.int64)
    planes = np.unpackbits(stream.reshape(nb, slots, -1), axis=-1, bitorder="little")
    planes = planes.reshape(nb, slots, LANES, bits).astype(np.int64)
    return (planes << np.arange(bits)).sum(-1)


def unpack_nm(packed: PackedNM) -> np.ndarray:
    """Dense (O, K) float32 weight with zeros at the pruned positions."""
    vals = packed.values if packed.dtype == "float32" else from_bf16(packed.values)
    cols = packed.offsets[None, :, None] + decode_indices(packed)  # (nb, P, 32)
    o_pad = packed.blocks * LANES
    rows = np.arange(o_pad).reshape(packed.blocks, 1, LANES)
    dense = np.zeros((o_pad, packed.in_features), dtype=np.float32)
    dense[np.broadcast_to(rows, cols.shape), cols] = vals
    return dense[: packed.out_features]


def nm_matmul_reference(x: np.ndarray, packed: PackedNM) -> np.ndarray:
    """Obvious reference: `x @ unpack(W).T` in float64, returned as float32 (B, O)."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    return (x @ unpack_nm(packed).astype(np.float64).T).astype(np.float32)
