"""CPU block-sparse causal attention forward (numba), executing a `SparseLayout`.

Parallel over (batch, head, query block). For each query block the selected key columns are
gathered into a buffer and the selected key blocks, grouped into runs of consecutive blocks,
are used in place; chunks of up to `chunk` keys get their scores from one sgemm per run into a
contiguous score buffer, an online softmax folds the chunks together (running max and
denominator per row), and sgemm accumulates P @ V. exp is a vectorisable polynomial
(round-to-nearest range reduction, degree-6 Taylor of 2^f on |f| <= 1/2, exponent via integer
bits; relative error ~1e-7) because numba has no vector exp without Intel SVML.
BLAS runs single-threaded inside the numba threads (`threadpoolctl`), so `n_threads` is the
whole thread count. Obvious reference: `block_sparse_attention_reference` (the layout's token
mask through the fp64 reference).
"""
from __future__ import annotations

import ctypes
import math
from pathlib import Path

import numba
import numpy as np
import torch
from numba import cfunc, njit, prange

from .layout import SparseLayout
from .reference import masked_attention

# fast-math without 'nnan'/'ninf': the kernel relies on -inf for masked scores
FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
LOG2E = np.float32(1.4426950408889634)
# Taylor coefficients of 2^f = exp(f ln 2): (ln 2)^i / i!
C1, C2, C3 = np.float32(0.6931471805599453), np.float32(0.2402265069591007), np.float32(0.05550410866482158)
C4, C5, C6 = np.float32(0.009618129107628477), np.float32(0.0013333558146428443), np.float32(0.00015403530393381606)


@njit(cache=True, fastmath=FAST)
def _exp_shifted(row, shift, bits):
    """row[j] = exp(row[j] - shift) in place (exactly 0 for -inf); returns the row sum.

    row: float32 (n,) contiguous; bits: int32 scratch of at least n entries.
    """
    n = row.shape[0]
    for j in range(n):
        t = (row[j] - shift) * LOG2E
        t = max(t, np.float32(-126.0))
        e = np.floor(t + np.float32(0.5))
        f = t - e
        p = np.float32(1.0) + f * (C1 + f * (C2 + f * (C3 + f * (C4 + f * (C5 + f * C6)))))
        bits[j] = (np.int32(e) + np.int32(127)) << np.int32(23)
        row[j] = p
    scale = bits[:n].view(np.float32)
    total = np.float32(0.0)
    for j in range(n):
        x = row[j] * scale[j] if scale[j] > np.float32(1.2e-38) else np.float32(0.0)
        row[j] = x
        total += x
    return total


@njit(cache=True, fastmath=FAST)
def _row_max(row, lanes):
    """Max of float32 `row`; 16 independent lanes (float32 (16,) scratch) let LLVM vectorise
    what a single running max would leave scalar."""
    n = row.shape[0]
    lanes[:] = -np.inf
    for j0 in range(0, n - 15, 16):
        for u in range(16):
            x = row[j0 + u]
            lanes[u] = x if x > lanes[u] else lanes[u]  # noqa: FURB136 (max() stays scalar)
    best = lanes.max()
    for j in range(n - n % 16, n):
        best = max(best, row[j])
    return best


@njit(cache=True, fastmath=FAST)
def _fold_chunk(sgemm, qs, seg_k, seg_v, seg_len, nseg, kpos, cnt, first_pos, acc, mx, den, s_buf,
                bits, args):
    """Online-softmax update of one query block with a chunk of `cnt` keys at positions `kpos`.

    The chunk is `nseg` segments of consecutive rows (seg_len[i] rows of D floats starting at
    addresses seg_k[i] / seg_v[i], straight in the cache or in a gather buffer), so key blocks
    are never copied. Row-major C = A @ B is column-major C^T = B^T @ A^T: per segment, sgemm
    writes S^T = K^T' Q^T into its columns of the score buffer, then accumulates
    acc^T += V^T P^T (beta = 1).
    """
    m, d = qs.shape
    ints, fl, ch, lanes = args
    ints[1], ints[2], ints[3] = m, d, cnt
    pi, pf, pc = ints.ctypes.data, fl.ctypes.data, ch.ctypes.data
    s = s_buf[: m * cnt].reshape((m, cnt))
    sp, col = s.ctypes.data, 0
    for x in range(nseg):
        ints[0] = seg_len[x]
        sgemm(pc, pc + 1, pi, pi + 4, pi + 8, pf, seg_k[x], pi + 8, qs.ctypes.data, pi + 8,
              pf + 4, sp + 4 * col, pi + 12)
        col += seg_len[x]
    if kpos[:cnt].max() > first_pos:  # some key lies after some query: causal mask
        for j in range(cnt):
            if kpos[j] > first_pos:
                for i in range(min(m, kpos[j] - first_pos)):
                    s[i, j] = -np.inf
    for i in range(m):
        row = s[i]
        mnew = max(mx[i], _row_max(row, lanes))
        if mnew == -np.inf:  # nothing visible yet for this row
            row[:] = 0.0
            continue
        corr = np.float32(math.exp(mx[i] - mnew)) if mx[i] > -np.inf else np.float32(0.0)
        den[i] = den[i] * corr + _exp_shifted(row, mnew, bits)
        for dd in range(d):
            acc[i, dd] *= corr
        mx[i] = mnew
    col = 0
    for x in range(nseg):  # acc^T (D x m) += V^T (D x len) @ P^T (len x m)
        ints[0] = seg_len[x]
        sgemm(pc + 1, pc + 1, pi + 8, pi + 4, pi, pf + 8, seg_v[x], pi + 8, sp + 4 * col,
              pi + 12, pf + 8, acc.ctypes.data, pi + 8)
        col += seg_len[x]


@njit(parallel=True, cache=True, fastmath=FAST)
def _forward(q, k, v, blocks, block_counts, columns, column_counts, block_q, block_k, chunk, out,
             sgemm, blas_threads):
    """Numba body of `block_sparse_attention`; arrays as documented there, chunk >= block_k.

    sgemm: Fortran-interface sgemm (first-class function of 13 pointers); blas_threads: sets
    the calling thread's BLAS thread count, returns the previous one (MKL's local setting).
    """
    nb, h, t, d = q.shape
    rep = h // k.shape[1]
    s_len = k.shape[2]
    off = s_len - t
    nq = blocks.shape[2]
    scale = np.float32(1.0 / math.sqrt(d))
    row_bytes = d * 4
    max_seg = chunk // block_k + 1
    for task in prange(nb * h * nq):
        previous = blas_threads(np.int32(1))  # one BLAS thread per numba thread
        b = task // (h * nq)
        hh = (task // nq) % h
        n = nq - 1 - task % nq  # heavy (late) query blocks first
        g = hh // rep
        r0 = n * block_q
        m = min(t, r0 + block_q) - r0
        first = r0 + off  # position of the block's first query
        qs = q[b, hh, r0 : r0 + m] * scale
        acc = np.zeros((m, d), dtype=np.float32)
        mx = np.full(m, -np.inf, dtype=np.float32)
        den = np.zeros(m, dtype=np.float32)
        kb = np.empty((chunk, d), dtype=np.float32)  # gathered key columns
        vb = np.empty((chunk, d), dtype=np.float32)
        s_buf = np.empty(block_q * chunk, dtype=np.float32)
        bits = np.empty(chunk, dtype=np.int32)
        kpos = np.empty(chunk, dtype=np.int64)
        seg_k = np.empty(max_seg, dtype=np.int64)
        seg_v = np.empty(max_seg, dtype=np.int64)
        seg_len = np.empty(max_seg, dtype=np.int32)
        args = (np.zeros(4, dtype=np.int32), np.array([1.0, 0.0, 1.0], dtype=np.float32),
                np.array([ord("T"), ord("N")], dtype=np.uint8), np.empty(16, dtype=np.float32))
        kbase, vbase = k[b, g].ctypes.data, v[b, g].ctypes.data
        seg_k[0], seg_v[0] = kb.ctypes.data, vb.ctypes.data
        cnt = 0
        for j in range(column_counts[b, hh, n]):  # columns: gathered, first segment of the chunk
            if cnt == chunk:
                seg_len[0] = cnt
                _fold_chunk(sgemm, qs, seg_k, seg_v, seg_len, 1, kpos, cnt, first, acc, mx, den,
                            s_buf, bits, args)
                cnt = 0
            c = columns[b, hh, n, j]
            kb[cnt] = k[b, g, c]
            vb[cnt] = v[b, g, c]
            kpos[cnt] = c
            cnt += 1
        nseg = 0
        if cnt > 0:
            seg_len[0] = cnt
            nseg = 1
        nbk = block_counts[b, hh, n]
        j = 0
        while j < nbk:
            e = j + 1  # extend a run of consecutive key blocks, at most `chunk` keys long
            while e < nbk and blocks[b, hh, n, e] == blocks[b, hh, n, e - 1] + 1 \
                    and (e + 1 - j) * block_k <= chunk:
                e += 1
            k0 = blocks[b, hh, n, j] * block_k
            k1 = min(s_len, blocks[b, hh, n, e - 1] * block_k + block_k)
            j = e
            if cnt + k1 - k0 > chunk:
                _fold_chunk(sgemm, qs, seg_k, seg_v, seg_len, nseg, kpos, cnt, first, acc, mx,
                            den, s_buf, bits, args)
                nseg, cnt = 0, 0
            seg_k[nseg], seg_v[nseg] = kbase + k0 * row_bytes, vbase + k0 * row_bytes
            seg_len[nseg] = k1 - k0
            for x in range(k1 - k0):
                kpos[cnt + x] = k0 + x
            nseg += 1
            cnt += k1 - k0
        if cnt > 0:
            _fold_chunk(sgemm, qs, seg_k, seg_v, seg_len, nseg, kpos, cnt, first, acc, mx, den,
                        s_buf, bits, args)
        for i in range(m):
            inv = np.float32(1.0) / den[i] if den[i] > 0 else np.float32(0.0)
            for dd in range(d):
                out[b, hh, r0 + i, dd] = acc[i, dd] * inv
        blas_threads(previous)


def _no_blas_threads_py(n):
    return 0


_SGEMM = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * 13))  # Fortran sgemm: every argument by address
_SET_THREADS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)
_no_blas_threads = cfunc("int32(int32)", cache=True)(_no_blas_threads_py)


def blas(backend: str = "auto") -> tuple[str, object, object]:
    """(name, sgemm, set_local_threads) used by the kernel.

    "mkl": the MKL sgemm that torch's CPU build exports (about twice OpenBLAS's speed on these
    64-row products, the same BLAS SDPA uses); "openblas": scipy's (numba's own np.dot BLAS);
    "auto": mkl when torch exports it.
    """
    if backend not in ("auto", "mkl", "openblas"):
        raise ValueError(f"blas backend must be auto, mkl or openblas, got {backend!r}")
    if backend in ("auto", "mkl"):
        try:
            lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
            sgemm = ctypes.cast(lib.sgemm_, _SGEMM)
            threads = ctypes.cast(lib.MKL_Set_Num_Threads_Local, _SET_THREADS)
            return "mkl", sgemm, threads
        except (OSError, AttributeError):
            if backend == "mkl":
                raise ValueError("this torch build exports no MKL sgemm; use blas='openblas'") from None
    from numba.extending import get_cython_function_address

    addr = get_cython_function_address("scipy.linalg.cython_blas", "sgemm")
    return "openblas", _SGEMM(addr), _no_blas_threads


def block_sparse_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, layout: SparseLayout,
                           chunk: int = 1024, n_threads: int | None = None,
                           blas_backend: str = "auto") -> np.ndarray:
    """Causal attention over the pairs `layout` lists, fp32.

    Args:
        q: float32 (B, H, T, D); k, v: float32 (B, Hkv, S, D), H % Hkv == 0, T <= S (last query
            aligned with the last key).
        layout: block/column layout with layout.n_queries == T and layout.n_keys == S.
        chunk: keys per sgemm (rounded up to a multiple of layout.block_k).
        n_threads: numba threads (default: numba's current setting).
        blas_backend: "auto", "mkl" or "openblas" (see `blas`).
    Returns:
        float32 (B, H, T, D); a row with no visible key is 0.
    """
    from threadpoolctl import threadpool_limits

    if q.ndim != 4 or k.shape != v.shape or q.shape[3] != k.shape[3] or q.shape[1] % k.shape[1]:
        raise ValueError(f"bad shapes q {q.shape}, k {k.shape}, v {v.shape}")
    if (layout.n_queries, layout.n_keys) != (q.shape[2], k.shape[2]) or \
            layout.blocks.shape[:2] != q.shape[:2]:
        raise ValueError(f"layout for (B, H, T, S) = {layout.blocks.shape[:2]}, {layout.n_queries}, "
                         f"{layout.n_keys} does not fit q {q.shape}, k {k.shape}")
    chunk = max(layout.block_k, -(-chunk // layout.block_k) * layout.block_k)
    q, k, v = (np.ascontiguousarray(x, dtype=np.float32) for x in (q, k, v))
    out = np.empty_like(q)
    _, sgemm, set_threads = blas(blas_backend)
    previous = numba.get_num_threads()
    if n_threads is not None:
        numba.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=1, user_api="blas"):  # scipy's OpenBLAS, if used
            _forward(q, k, v, layout.blocks, layout.block_counts, layout.columns,
                     layout.column_counts, layout.block_q, layout.block_k, chunk, out, sgemm,
                     set_threads)
    finally:
        numba.set_num_threads(previous)
    return out


def block_sparse_attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                     layout: SparseLayout) -> np.ndarray:
    """Obvious version of `block_sparse_attention`: token mask + fp64 reference, float32 out."""
    mask = layout.to_mask()
    out = masked_attention(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), mask)
    return out.float().numpy()
