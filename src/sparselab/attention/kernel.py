"""CPU block-sparse causal attention forward (numba), executing a `SparseLayout`.

Parallel over (batch, head, query block). For each query block the selected key columns are
gathered into a buffer and the selected key blocks, grouped into runs of consecutive blocks,
are used in place; chunks of up to `chunk` keys get their scores from one sgemm per run into a
key-major score buffer, an online softmax folds the chunks together (running max and
denominator per query), and sgemm accumulates P @ V. exp is a vectorisable polynomial
(round-to-nearest range reduction, degree-6 Taylor of 2^f on |f| <= 1/2, 2^e from the integer
exponent bits; relative error ~1e-6) because numba has no vector exp without Intel SVML.
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
def _exp_inplace(s, shift, den):
    """s[j, i] = exp(s[j, i] - shift[i]) in place (exactly 0 for -inf); den[i] += column sums.

    s: float32 (n, m) C-contiguous; shift, den: float32 (m,).
    """
    n, m = s.shape
    for j in range(n):
        for i in range(m):
            t = (s[j, i] - shift[i]) * LOG2E
            keep = t > np.float32(-126.0)
            t = max(t, np.float32(-126.0))
            e = np.floor(t + np.float32(0.5))
            f = t - e
            p = np.float32(1.0) + f * (C1 + f * (C2 + f * (C3 + f * (C4 + f * (C5 + f * C6)))))
            x = p * np.int32((np.int32(e) + np.int32(127)) << np.int32(23)).view(np.float32)
            x = x if keep else np.float32(0.0)
            s[j, i] = x
            den[i] += x


@njit(cache=True, fastmath=FAST)
def _fold_chunk(sgemm, qs, seg_k, seg_v, seg_len, nseg, kpos, cnt, first_pos, acc, mx, den, s_buf,
                args):
    """Online-softmax update of one query block with a chunk of `cnt` keys at positions `kpos`.

    The chunk is `nseg` segments of consecutive rows (seg_len[x] rows of D floats starting at
    addresses seg_k[x] / seg_v[x], straight in the cache or in a gather buffer), so key blocks
    are never copied. Scores are kept key-major, s[j, i] (cnt, m), so every softmax loop runs
    over the m contiguous queries. In column-major BLAS terms, per segment: S = Q K^T into its
    columns of the score buffer, then acc^T += V^T P^T (beta = 1).
    """
    m, d = qs.shape
    ints, fl, ch, vecs = args
    ints[1], ints[2] = m, d
    pi, pf, pc = ints.ctypes.data, fl.ctypes.data, ch.ctypes.data
    s = s_buf[: m * cnt].reshape((cnt, m))
    sp, col = s.ctypes.data, 0
    for x in range(nseg):
        ints[0] = seg_len[x]
        sgemm(pc, pc + 1, pi + 4, pi, pi + 8, pf, qs.ctypes.data, pi + 8, seg_k[x], pi + 8,
              pf + 4, sp + 4 * col * m, pi + 4)
        col += seg_len[x]
    for j in range(cnt):  # causal mask: key j is hidden from queries before it
        if kpos[j] > first_pos:
            for i in range(min(m, kpos[j] - first_pos)):
                s[j, i] = -np.inf
    cmax, shift = vecs[0, :m], vecs[1, :m]
    cmax[:] = -np.inf
    for j in range(cnt):
        for i in range(m):
            x = s[j, i]
            cmax[i] = x if x > cmax[i] else cmax[i]  # noqa: FURB136 (max() stays scalar)
    for i in range(m):
        mnew = max(mx[i], cmax[i])
        corr = np.float32(math.exp(mx[i] - mnew)) if mx[i] > -np.inf else np.float32(0.0)
        shift[i] = mnew if mnew > -np.inf else np.float32(0.0)  # all hidden: exp(-inf) = 0
        mx[i] = mnew
        den[i] *= corr
        for dd in range(d):
            acc[i, dd] *= corr
    _exp_inplace(s, shift, den)
    col = 0
    for x in range(nseg):  # acc^T (D x m) += V^T (D x len) @ P^T (len x m)
        ints[0] = seg_len[x]
        sgemm(pc + 1, pc, pi + 8, pi + 4, pi, pf + 8, seg_v[x], pi + 8, sp + 4 * col * m,
              pi + 4, pf + 8, acc.ctypes.data, pi + 8)
        col += seg_len[x]


@njit(parallel=True, cache=True, fastmath=FAST)
def _forward(q, k, v, blocks, block_counts, columns, column_counts, block_q, block_k, chunk, out,
             sgemm, blas_threads, n_threads, inplace_min):
    """Numba body of `block_sparse_attention`; arrays as documented there, chunk >= block_k.

    sgemm: Fortran-interface sgemm (first-class function of 13 pointers); blas_threads: sets
    the calling thread's BLAS thread count, returns the previous one (MKL's local setting).
    """
    nb, h, _, d = q.shape
    nq = blocks.shape[2]
    max_seg = chunk // block_k + 2
    n_tasks = nb * h * nq
    # tasks are dealt round-robin to `workers` lanes (handed out dynamically to the threads);
    # each lane allocates its scratch once instead of once per task
    workers = min(n_tasks, 8 * n_threads)
    for w in prange(workers):
        previous = blas_threads(np.int32(1))  # one BLAS thread per numba thread
        scratch = (
            np.empty((chunk, d), dtype=np.float32),  # gathered keys
            np.empty((chunk, d), dtype=np.float32),  # gathered values
            np.empty(block_q * chunk, dtype=np.float32),  # scores
            np.empty((block_q, d), dtype=np.float32),  # output accumulator
            np.empty((block_q, d), dtype=np.float32),  # scaled queries
            np.empty((2, block_q), dtype=np.float32),  # running max and denominator
            np.empty(chunk, dtype=np.int64),  # key positions of the chunk
            np.empty(chunk, dtype=np.int64),  # ... of the gathered rows
            np.empty(chunk, dtype=np.int64),  # ... of the in-place rows
            np.empty((2, max_seg), dtype=np.int64),  # segment key / value addresses
            np.empty(max_seg, dtype=np.int32),  # segment lengths
            np.zeros(3, dtype=np.int64),  # gathered rows, in-place rows, segments
        )
        args = (np.zeros(4, dtype=np.int32), np.array([1.0, 0.0, 1.0], dtype=np.float32),
                np.array([ord("T"), ord("N")], dtype=np.uint8),
                np.empty((2, block_q), dtype=np.float32))
        for task in range(w, n_tasks, workers):
            _one_task(q, k, v, blocks, block_counts, columns, column_counts, block_q, block_k,
                      chunk, out, sgemm, task, scratch, args, inplace_min)
        blas_threads(previous)


@njit(cache=True, fastmath=FAST)
def _flush(sgemm, qs, st, kb, vb, kpos_g, kpos_p, seg_k, seg_v, seg_len, kpos, acc, mx, den,
           s_buf, args, first):
    """Fold the pending chunk: gathered rows (segment 0, in kb / vb) + in-place runs (1..)."""
    gcnt, pcnt, nseg = st[0], st[1], st[2]
    kpos[:gcnt] = kpos_g[:gcnt]
    kpos[gcnt : gcnt + pcnt] = kpos_p[:pcnt]
    seg_k[0], seg_v[0], seg_len[0] = kb.ctypes.data, vb.ctypes.data, gcnt
    lo = 0 if gcnt > 0 else 1
    if gcnt + pcnt > 0:
        _fold_chunk(sgemm, qs, seg_k[lo:nseg], seg_v[lo:nseg], seg_len[lo:nseg], nseg - lo, kpos,
                    gcnt + pcnt, first, acc, mx, den, s_buf, args)
    st[0], st[1], st[2] = 0, 0, 1


@njit(cache=True, fastmath=FAST)
def _one_task(q, k, v, blocks, block_counts, columns, column_counts, block_q, block_k, chunk, out,
              sgemm, task, scratch, args, inplace_min):
    """Attention of one (batch, head, query block) task into `out`, using a lane's scratch.

    Key columns and short runs of key blocks (< inplace_min keys) are copied into a gather
    buffer, long runs are multiplied in place: a few large sgemm calls per chunk, since each
    call costs tens of microseconds whatever its size.
    """
    kb, vb, s_buf, acc_all, qs_all, vec_all, kpos, kpos_g, kpos_p, segs, seg_len, st = scratch
    seg_k, seg_v = segs[0], segs[1]
    _, h, t, d = q.shape
    s_len = k.shape[2]
    nq = blocks.shape[2]
    b, hh, n = task // (h * nq), (task // nq) % h, nq - 1 - task % nq  # late (heavy) blocks first
    g = hh // (h // k.shape[1])
    r0 = n * block_q
    m = min(t, r0 + block_q) - r0
    first = r0 + s_len - t  # position of the block's first query
    scale = np.float32(1.0 / math.sqrt(d))
    qs, acc, mx, den = qs_all[:m], acc_all[:m], vec_all[0, :m], vec_all[1, :m]
    for i in range(m):
        for dd in range(d):
            qs[i, dd] = q[b, hh, r0 + i, dd] * scale
    acc[:] = 0.0
    mx[:] = -np.inf
    den[:] = 0.0
    st[0], st[1], st[2] = 0, 0, 1  # gathered rows, in-place rows, segments (0 = gather buffer)
    for j in range(column_counts[b, hh, n]):
        if st[0] + st[1] == chunk:
            _flush(sgemm, qs, st, kb, vb, kpos_g, kpos_p, seg_k, seg_v, seg_len, kpos, acc, mx,
                   den, s_buf, args, first)
        c = columns[b, hh, n, j]
        kb[st[0]] = k[b, g, c]
        vb[st[0]] = v[b, g, c]
        kpos_g[st[0]] = c
        st[0] += 1
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
        if st[0] + st[1] + k1 - k0 > chunk:
            _flush(sgemm, qs, st, kb, vb, kpos_g, kpos_p, seg_k, seg_v, seg_len, kpos, acc, mx,
                   den, s_buf, args, first)
        if k1 - k0 >= inplace_min:
            seg_k[st[2]], seg_v[st[2]] = k[b, g, k0:].ctypes.data, v[b, g, k0:].ctypes.data
            seg_len[st[2]] = k1 - k0
            for x in range(k1 - k0):
                kpos_p[st[1] + x] = k0 + x
            st[1] += k1 - k0
            st[2] += 1
        else:
            kb[st[0] : st[0] + k1 - k0] = k[b, g, k0:k1]
            vb[st[0] : st[0] + k1 - k0] = v[b, g, k0:k1]
            for x in range(k1 - k0):
                kpos_g[st[0] + x] = k0 + x
            st[0] += k1 - k0
    _flush(sgemm, qs, st, kb, vb, kpos_g, kpos_p, seg_k, seg_v, seg_len, kpos, acc, mx, den,
           s_buf, args, first)
    for i in range(m):
        inv = np.float32(1.0) / den[i] if den[i] > 0 else np.float32(0.0)
        for dd in range(d):
            out[b, hh, r0 + i, dd] = acc[i, dd] * inv


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
                           blas_backend: str = "auto", inplace_min: int = 256) -> np.ndarray:
    """Causal attention over the pairs `layout` lists, fp32.

    Args:
        q: float32 (B, H, T, D); k, v: float32 (B, Hkv, S, D), H % Hkv == 0, T <= S (last query
            aligned with the last key).
        layout: block/column layout with layout.n_queries == T and layout.n_keys == S.
        chunk: keys per sgemm (rounded up to a multiple of layout.block_k).
        n_threads: numba threads (default: numba's current setting).
        blas_backend: "auto", "mkl" or "openblas" (see `blas`).
        inplace_min: runs of consecutive key blocks with at least this many keys are multiplied
            where they lie; shorter ones are copied into the gather buffer first.
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
    old_chunk = numba.set_parallel_chunksize(1)  # dynamic hand-out of the task lanes
    try:
        with threadpool_limits(limits=1, user_api="blas"):  # scipy's OpenBLAS, if used
            _forward(q, k, v, layout.blocks, layout.block_counts, layout.columns,
                     layout.column_counts, layout.block_q, layout.block_k, chunk, out, sgemm,
                     set_threads, numba.get_num_threads(), inplace_min)
    finally:
        numba.set_parallel_chunksize(old_chunk)
        numba.set_num_threads(previous)
    return out


def block_sparse_attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                     layout: SparseLayout) -> np.ndarray:
    """Obvious version of `block_sparse_attention`: token mask + fp64 reference, float32 out."""
    mask = layout.to_mask()
    out = masked_attention(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), mask)
    return out.float().numpy()
