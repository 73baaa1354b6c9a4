"""numba kernels for `y = x @ W.T` with a packed N:M weight W (layout in `packed.py`).

Fast path (AVX2): eight rows per vector lane group, four groups (a 32-row block) at a time
(two blocks at a time at batch 1, where the product is bandwidth-bound).
For slot p the eight rows of a lane group all read inputs from the same group of M inputs, so
the "gather" of x is one `vpermps` of the M inputs (M <= 8; two or four of them and blends for
M = 16, 32) by the eight decoded in-group indices: no gather instruction, no scalar loads. A
block's weights are read once per call and stay in L2 while every pair of batch rows uses them.

Portable path: the same format with scalar code, for CPUs without AVX2 and M > 32.
Both are checked against `packed.nm_matmul_reference` in tests/unit/test_nm_packed.py.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .packed import LANES, PackedNM, from_bf16
from .simd import (
    HAS_AVX2,
    prefetch,
    vbits,
    vbytes,
    vfma,
    vload,
    vload4x2,
    vperm,
    vselect_bit,
    vstore,
    vzero,
)

AHEAD = 256  # prefetch distance in values (1 KiB of fp32, 8 slots): best of 0..2048 here


def candidates(m: int) -> int:
    """Inputs the fast kernel loads per group (4, 8, 16, 32), or 0 when it cannot (M > 32)."""
    return 4 if m <= 4 else 8 if m <= 8 else 16 if m <= 16 else 32 if m <= 32 else 0


@njit(fastmath=True, cache=True)
def _lanes(idx, q, bits):
    """In-group indices of eight rows whose bits start at byte q (upper bits not cleared)."""
    if bits == 8:
        return vbytes(idx, q)
    return vbits(idx, q, bits)


@njit(fastmath=True, cache=True)
def _pick(x, off, iv, cands):
    """Lane r = x[off + iv[r]]: one permute of the group's inputs (two or four for M > 8)."""
    if cands == 4:
        return vperm(vload4x2(x, off), iv)  # both halves hold the 4 inputs: bit 2 is ignored
    lo = vperm(vload(x, off), iv)
    if cands == 8:
        return lo
    v = vselect_bit(iv, 3, vperm(vload(x, off + 8), iv), lo)
    if cands == 16:
        return v
    w = vselect_bit(iv, 3, vperm(vload(x, off + 24), iv), vperm(vload(x, off + 16), iv))
    return vselect_bit(iv, 4, w, v)


@njit(fastmath=True, cache=True)
def _ahead(vals, idx, v, q):
    """Software prefetch of the weights a few slots ahead: the hardware prefetcher alone left
    ~15 % of the DRAM read bandwidth unused at batch 1 (two streams, short 128-byte strides)."""
    prefetch(vals, v + AHEAD)
    prefetch(vals, v + AHEAD + 16)
    prefetch(idx, q + AHEAD)


@njit(fastmath=True, cache=True)
def _block1(x, xo, vals, idx, offs, blk, bits, cands, out, oo):
    """out[oo:oo+32] = the 32 rows of block `blk` times x[xo:xo+K]."""
    slots = offs.shape[0]
    a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
    vb, qb, qs = blk * slots * LANES, blk * slots * 4 * bits, 4 * bits
    for p in range(slots):
        off, v, q = xo + offs[p], vb + p * LANES, qb + p * qs
        _ahead(vals, idx, v, q)
        a0 = vfma(vload(vals, v), _pick(x, off, _lanes(idx, q, bits), cands), a0)
        a1 = vfma(vload(vals, v + 8), _pick(x, off, _lanes(idx, q + bits, bits), cands), a1)
        a2 = vfma(vload(vals, v + 16), _pick(x, off, _lanes(idx, q + 2 * bits, bits), cands), a2)
        a3 = vfma(vload(vals, v + 24), _pick(x, off, _lanes(idx, q + 3 * bits, bits), cands), a3)
    vstore(out, oo, a0)
    vstore(out, oo + 8, a1)
    vstore(out, oo + 16, a2)
    vstore(out, oo + 24, a3)


@njit(fastmath=True, cache=True)
def _block_pair(x, xo, vals, idx, offs, blk, bits, cands, out, oo):
    """`_block1` for blocks `blk` and `blk + 1` at once (one batch row): four weight streams
    in flight instead of two, which the memory system serves faster at batch 1 than one
    block after another (batch 1 is bandwidth-bound)."""
    slots = offs.shape[0]
    a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
    c0, c1, c2, c3 = vzero(), vzero(), vzero(), vzero()
    vb, qb, qs = blk * slots * LANES, blk * slots * 4 * bits, 4 * bits
    vb2, qb2 = vb + slots * LANES, qb + slots * qs
    for p in range(slots):
        off, v, q, v2, q2 = xo + offs[p], vb + p * LANES, qb + p * qs, vb2 + p * LANES, qb2 + p * qs
        _ahead(vals, idx, v, q)
        _ahead(vals, idx, v2, q2)
        a0 = vfma(vload(vals, v), _pick(x, off, _lanes(idx, q, bits), cands), a0)
        a1 = vfma(vload(vals, v + 8), _pick(x, off, _lanes(idx, q + bits, bits), cands), a1)
        a2 = vfma(vload(vals, v + 16), _pick(x, off, _lanes(idx, q + 2 * bits, bits), cands), a2)
        a3 = vfma(vload(vals, v + 24), _pick(x, off, _lanes(idx, q + 3 * bits, bits), cands), a3)
        c0 = vfma(vload(vals, v2), _pick(x, off, _lanes(idx, q2, bits), cands), c0)
        c1 = vfma(vload(vals, v2 + 8), _pick(x, off, _lanes(idx, q2 + bits, bits), cands), c1)
        c2 = vfma(vload(vals, v2 + 16), _pick(x, off, _lanes(idx, q2 + 2 * bits, bits), cands), c2)
        c3 = vfma(vload(vals, v2 + 24), _pick(x, off, _lanes(idx, q2 + 3 * bits, bits), cands), c3)
    vstore(out, oo, a0)
    vstore(out, oo + 8, a1)
    vstore(out, oo + 16, a2)
    vstore(out, oo + 24, a3)
    vstore(out, oo + LANES, c0)
    vstore(out, oo + LANES + 8, c1)
    vstore(out, oo + LANES + 16, c2)
    vstore(out, oo + LANES + 24, c3)


@njit(fastmath=True, cache=True)
def _block2(x, xo, xo2, vals, idx, offs, blk, bits, cands, out, oo, oo2):
    """`_block1` for two batch rows at once: each decoded index and weight is used twice."""
    slots = offs.shape[0]
    a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
    b0, b1, b2, b3 = vzero(), vzero(), vzero(), vzero()
    vb, qb, qs = blk * slots * LANES, blk * slots * 4 * bits, 4 * bits
    for p in range(slots):
        off, v, q = offs[p], vb + p * LANES, qb + p * qs
        _ahead(vals, idx, v, q)
        i, w = _lanes(idx, q, bits), vload(vals, v)
        a0 = vfma(w, _pick(x, xo + off, i, cands), a0)
        b0 = vfma(w, _pick(x, xo2 + off, i, cands), b0)
        i, w = _lanes(idx, q + bits, bits), vload(vals, v + 8)
        a1 = vfma(w, _pick(x, xo + off, i, cands), a1)
        b1 = vfma(w, _pick(x, xo2 + off, i, cands), b1)
        i, w = _lanes(idx, q + 2 * bits, bits), vload(vals, v + 16)
        a2 = vfma(w, _pick(x, xo + off, i, cands), a2)
        b2 = vfma(w, _pick(x, xo2 + off, i, cands), b2)
        i, w = _lanes(idx, q + 3 * bits, bits), vload(vals, v + 24)
        a3 = vfma(w, _pick(x, xo + off, i, cands), a3)
        b3 = vfma(w, _pick(x, xo2 + off, i, cands), b3)
    vstore(out, oo, a0)
    vstore(out, oo + 8, a1)
    vstore(out, oo + 16, a2)
    vstore(out, oo + 24, a3)
    vstore(out, oo2, b0)
    vstore(out, oo2 + 8, b1)
    vstore(out, oo2 + 16, b2)
    vstore(out, oo2 + 24, b3)


@njit(fastmath=True, cache=True)
def _mm_blocks(x, kx, nbatch, vals, idx, offs, bits, cands, out, opad, lo, hi):
    """Blocks lo..hi-1 for every batch row: x flat (nbatch*kx,), out flat (nbatch*opad,)."""
    if nbatch == 1:  # bandwidth-bound: two blocks at a time (more streams in flight)
        blk = lo
        while blk + 1 < hi:
            _block_pair(x, 0, vals, idx, offs, blk, bits, cands, out, blk * LANES)
            blk += 2
        if blk < hi:
            _block1(x, 0, vals, idx, offs, blk, bits, cands, out, blk * LANES)
        return
    for blk in range(lo, hi):
        b = 0
        while b + 1 < nbatch:
            _block2(x, b * kx, (b + 1) * kx, vals, idx, offs, blk, bits, cands,
                    out, b * opad + blk * LANES, (b + 1) * opad + blk * LANES)
            b += 2
        if b < nbatch:
            _block1(x, b * kx, vals, idx, offs, blk, bits, cands, out, b * opad + blk * LANES)


@njit(fastmath=True, cache=True, parallel=True)
def _mm_parallel(x, kx, nbatch, vals, idx, offs, bits, cands, out, opad, chunks):
    nb = opad // LANES
    for c in prange(chunks):
        _mm_blocks(x, kx, nbatch, vals, idx, offs, bits, cands, out, opad,
                   c * nb // chunks, (c + 1) * nb // chunks)


@njit(fastmath=True, cache=True, parallel=True)
def _mm_portable(x, vals, idx, offs, bits, out):
    """Scalar kernel on the same format: x (B, K) float32, vals (nb, P, 32) float32."""
    nb, slots, _ = vals.shape
    mask = (1 << bits) - 1
    for blk in prange(nb):
        acc = np.zeros((x.shape[0], LANES), np.float32)
        for p in range(slots):
            q = (blk * slots + p) * 4 * bits
            for lane in range(LANES):
                s = lane * bits
                byte = q + (s >> 3)
                i = ((np.int64(idx[byte]) | (np.int64(idx[byte + 1]) << 8)) >> (s & 7)) & mask
                w = vals[blk, p, lane]
                for b in range(x.shape[0]):
                    acc[b, lane] += w * x[b, offs[p] + i]
        out[:, blk * LANES:(blk + 1) * LANES] = acc


def nm_matmul(x: np.ndarray, packed: PackedNM, threads: int | None = None,
              portable: bool = False) -> np.ndarray:
    """`x @ W.T` for a packed N:M weight W.

    Args:
        x: (B, K) float32 (a (K,) vector is treated as B = 1).
        packed: `PackedNM` with in_features K.
        threads: numba threads to use (default: numba's current setting).
        portable: force the scalar kernel (the fast one needs AVX2 and M <= 32).
    Returns:
        (B, O) float32.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != packed.in_features:
        raise ValueError(f"nm_matmul: x has shape {x.shape}, expected (B, {packed.in_features})")
    nbatch, k = x.shape
    opad = packed.blocks * LANES
    cands = candidates(packed.m)
    if portable or not HAS_AVX2 or cands == 0:
        vals = packed.values if packed.dtype == "float32" else from_bf16(packed.values)
        out = np.empty((nbatch, opad), np.float32)
        _mm_portable(np.ascontiguousarray(x), vals, packed.indices, packed.offsets,
                     packed.bits, out)
        return out[:, : packed.out_features]
    kx = k if packed.m == cands else k + cands  # the last group's load may run past K
    xf = np.ascontiguousarray(x) if kx == k else np.pad(x, ((0, 0), (0, cands)))
    out = np.empty(nbatch * opad, np.float32)
    threads = numba.get_num_threads() if threads is None else threads
    vals = packed.values.reshape(-1)
    if threads <= 1 or packed.blocks < 2:
        _mm_blocks(xf.reshape(-1), kx, nbatch, vals, packed.indices, packed.offsets,
                   packed.bits, cands, out, opad, 0, packed.blocks)
    else:
        _mm_parallel(xf.reshape(-1), kx, nbatch, vals, packed.indices, packed.offsets,
                     packed.bits, cands, out, opad, min(threads, packed.blocks))
    out = out.reshape(nbatch, opad)
    return out if opad == packed.out_features else out[:, : packed.out_features]
