"""Time the packed N:M kernel against dense torch.matmul (same threads) and the DRAM read limit.

One run alternates, in every repeat: the packed kernel, the dispatcher (`nm_linear`: packed or
dense by the calibrated crossover), dense `torch.matmul` and STREAM-like reads of a 256 MiB
buffer (with and without software prefetch; the faster counts), so all see the same machine
load. Cold (default): each timed call cycles through
copies of the weights totalling >= 256 MiB (8x the 32 MiB L3), so weights stream from DRAM as
in a many-layer model; hot: one copy, repeated.
"""
from __future__ import annotations

import argparse
import json
import time
from functools import lru_cache

import numpy as np
from numba import njit, prange

from .simd import prefetch, vfma, vload, vsplat, vsum, vzero

COLD_BYTES = 256 * 2**20
READ_BYTES = 256 * 2**20


@njit(fastmath=True, cache=True)
def _sum_plain(a, lo, hi):
    s = np.float32(0.0)
    for i in range(lo, hi):  # LLVM vectorises this to 4 x 8-lane adds
        s += a[i]
    return s


@njit(fastmath=True, cache=True)
def _sum_prefetch(a, lo, hi):
    """The same sum with the software prefetch the kernel uses (it doubled the read rate of
    one core here, so without it the 'limit' would be the hardware prefetcher's)."""
    one = vsplat(np.float32(1.0))
    a0, a1, a2, a3 = vzero(), vzero(), vzero(), vzero()
    for i in range(lo, hi, 32):
        prefetch(a, i + 256)
        prefetch(a, i + 272)
        a0 = vfma(vload(a, i), one, a0)
        a1 = vfma(vload(a, i + 8), one, a1)
        a2 = vfma(vload(a, i + 16), one, a2)
        a3 = vfma(vload(a, i + 24), one, a3)
    return vsum(a0) + vsum(a1) + vsum(a2) + vsum(a3)


@njit(fastmath=True, cache=True, parallel=True)
def _read(a, chunks, use_prefetch):
    """STREAM-like read: sum of a float32 buffer (size a multiple of 32 * chunks), one
    contiguous part per thread."""
    part = np.zeros(chunks, np.float32)
    step = a.size // chunks
    for c in prange(chunks):
        if use_prefetch:
            part[c] = _sum_prefetch(a, c * step, (c + 1) * step)
        else:
            part[c] = _sum_plain(a, c * step, (c + 1) * step)
    return part.sum()


def bytes_read(size_in: int, size_out: int, batch: int, packed=None) -> int:
    """Bytes one product moves: weights (packed values + indices + offsets, or 4 B dense per
    weight) + x + y."""
    act = 4 * batch * (size_in + size_out)
    return (4 * size_in * size_out if packed is None else packed.nbytes) + act


@lru_cache(maxsize=2)
def _layer(pattern: str, size: int, dtype: str, seed: int):
    """(packed, masked dense float32 weight) of one random size x size layer."""
    from .mask import parse_pattern
    from .packed import pack_nm, unpack_nm

    n, m = parse_pattern(pattern)
    w = np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32)
    packed = pack_nm(w, n, m, dtype=dtype)
    masked = unpack_nm(pack_nm(w, n, m))  # the fp32 N:M weight (bf16 rounds only the packed one)
    return packed, masked


def _copies(obj_bytes: int, cold: bool) -> int:
    # at most 256 copies: a small layer cannot be made cold without timing Python overhead
    return min(256, max(1, -(-COLD_BYTES // obj_bytes))) if cold else 1


def time_nm(pattern: str = "2:4", batch: int = 1, size: int = 4096, threads: int = 1,
            repeats: int = 15, cold: bool = True, dtype: str = "float32", seed: int = 0,
            dispatch: bool = True) -> dict:
    """Median times of packed, dispatched and dense products of one size x size N:M layer.

    Returns a dict with `speedup` (dispatched vs dense), `packed_speedup` (the kernel alone),
    `gbps` (packed bytes / packed time), `dram_gbps` (STREAM-like read), `bandwidth_fraction`
    (gbps / dram_gbps), `path` and `crossover` of the dispatcher, `max_rel_err` of the packed
    product against the float64 product of the fp32 masked weight, times and byte counts.
    `dispatch=False` skips timing the dispatcher (calibration: `speedup` is then None).
    """
    import numba
    import torch

    from .nm_dispatch import crossover, nm_linear
    from .packed import PackedNM
    from .packed_kernels import nm_matmul

    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    packed, masked = _layer(pattern, size, dtype, seed)
    x = np.random.default_rng(seed + 1).standard_normal((batch, size)).astype(np.float32)
    xt = torch.from_numpy(x)
    ours = [packed] + [PackedNM(packed.values.copy(), packed.indices.copy(), packed.offsets,
                                packed.n, packed.m, size, size, packed.bits)
                       for _ in range(_copies(packed.nbytes, cold) - 1)]
    dense = [torch.from_numpy(masked.copy()) for _ in range(_copies(masked.nbytes, cold))]
    buf = np.ones(READ_BYTES // 4, np.float32)
    # against the fp32 masked weight: for bfloat16 this is the error of the rounded values
    ref = (x.astype(np.float64) @ masked.astype(np.float64).T).astype(np.float32)
    got = nm_matmul(x, packed, threads=threads)
    err = float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-30))
    nm_linear(xt, packed, dense[0], threads=threads)
    torch.matmul(xt, dense[0].T)
    _read(buf, threads, True)
    _read(buf, threads, False)
    t_packed, t_disp, t_dense, t_read, t_plain = [], [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for pw in ours:
            nm_matmul(x, pw, threads=threads)
        t_packed.append((time.perf_counter() - t0) / len(ours))
        if dispatch:
            t0 = time.perf_counter()
            for i, pw in enumerate(ours):
                nm_linear(xt, pw, dense[i % len(dense)], threads=threads)
            t_disp.append((time.perf_counter() - t0) / len(ours))
        t0 = time.perf_counter()
        for dw in dense:
            torch.matmul(xt, dw.T)
        t_dense.append((time.perf_counter() - t0) / len(dense))
        t0 = time.perf_counter()
        _read(buf, threads, True)
        t_read.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _read(buf, threads, False)
        t_plain.append(time.perf_counter() - t0)
    packed_s, dense_s = float(np.median(t_packed)), float(np.median(t_dense))
    disp_s = float(np.median(t_disp)) if dispatch else None
    ours_bytes = bytes_read(size, size, batch, packed)
    gbps = ours_bytes / packed_s / 1e9
    # the faster of the two reads is the limit the kernel is held to
    dram = buf.nbytes / min(float(np.median(t_read)), float(np.median(t_plain))) / 1e9
    cross = crossover(packed.n, packed.m, dtype, threads)
    return {"pattern": pattern, "batch": batch, "dtype": dtype, "threads": threads,
            "mode": "cold" if cold else "hot", "size": size, "repeats": repeats,
            "path": "packed" if batch <= cross else "dense", "crossover": cross,
            "speedup": dense_s / disp_s if dispatch else None, "packed_speedup": dense_s / packed_s,
            "gbps": gbps, "dram_gbps": dram, "bandwidth_fraction": gbps / dram,
            "ours_s": disp_s, "packed_s": packed_s, "dense_s": dense_s,
            "ours_bytes": ours_bytes, "dense_bytes": bytes_read(size, size, batch),
            "dense_gbps": bytes_read(size, size, batch) / dense_s / 1e9,
            "max_rel_err": err, "copies": [len(ours), len(dense)]}


def calibrate(patterns, threads_list=(1, 2), batches=None, size: int = 4096, repeats: int = 7,
              dtypes=("float32",), progress: bool = True) -> dict[str, dict[int, float]]:
    """Packed-kernel speed-up over dense (cold) at each batch of the ladder, per pattern,
    dtype and thread count: the input of `nm_dispatch.save_calibration`."""
    from tqdm.auto import tqdm

    from .mask import parse_pattern
    from .nm_dispatch import LADDER, _key

    grid = [(p, d, t, b) for p in patterns for d in dtypes for t in threads_list
            for b in (batches or LADDER)]
    out: dict[str, dict[int, float]] = {}
    for p, d, t, b in tqdm(grid, desc="nm calibrate", disable=not progress):
        r = time_nm(p, b, size, t, repeats, cold=True, dtype=d, dispatch=False)
        out.setdefault(_key(*parse_pattern(p), d, t), {})[b] = r["packed_speedup"]
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", default="2:4", help="N:M pattern of the packed weight")
    parser.add_argument("--batch", type=int, default=1, help="rows of x")
    parser.add_argument("--size", type=int, default=4096, help="layer is size x size")
    parser.add_argument("--threads", type=int, default=1, help="torch and numba threads")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats (median)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"],
                        help="stored packed values (dense stays fp32)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cold", dest="cold", action="store_true", default=True,
                      help="cycle weight copies (>= 256 MiB) so weights stream from DRAM (default)")
    mode.add_argument("--hot", dest="cold", action="store_false",
                      help="repeat one copy of the weights")
    parser.add_argument("--calibrate", action="store_true",
                        help="measure the packed/dense crossover for --pattern (comma list) at "
                             "1 and 2 threads and save it for this machine")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    for name in ("batch", "size", "threads", "repeats"):
        if getattr(args, name) < 1:
            raise SystemExit(f"sparselab bench nm: --{name} must be >= 1, got {getattr(args, name)}")
    if args.calibrate:
        from .nm_dispatch import save_calibration

        entries = calibrate(args.pattern.split(","), size=args.size, dtypes=(args.dtype,))
        path = save_calibration(entries, {"size": args.size})
        print(json.dumps({"path": str(path), **json.loads(path.read_text())["crossover"]}))
        return 0
    res = time_nm(args.pattern, args.batch, args.size, args.threads, args.repeats,
                  cold=args.cold, dtype=args.dtype)
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{res['pattern']} {res['dtype']} batch {res['batch']} {res['mode']}, "
              f"{res['threads']} thread(s): {res['path']} path, speed-up {res['speedup']:.2f}x "
              f"(packed kernel {res['packed_speedup']:.2f}x); packed {res['gbps']:.1f} GB/s = "
              f"{res['bandwidth_fraction']:.0%} of DRAM read {res['dram_gbps']:.1f} GB/s")
    return 0
