"""Time the packed N:M numba matmul against dense torch.matmul (fp32, same threads)."""
from __future__ import annotations

import argparse
import json
import time


def bytes_read(size_in: int, size_out: int, batch: int, n: int | None, m: int | None) -> int:
    """Bytes one product reads/writes: weights + x + y (dense when n is None).

    Packed: N/M * (4 + 1) bytes per weight plus the int32 slot offsets; dense: 4 per weight.
    """
    act = 4 * batch * (size_in + size_out)
    if n is None:
        return 4 * size_in * size_out + act
    slots = size_in * n // m
    return 5 * size_out * slots + 4 * slots + act


def time_nm(pattern: str = "1:8", batch: int = 1, size: int = 4096, threads: int = 1,
            repeats: int = 15, cold_bytes: float = 0.0, seed: int = 0) -> dict:
    """Median wall time of `nm_matmul` and of dense `torch.matmul` on one size x size layer.

    Ours and dense alternate inside each repeat so both see the same machine load.

    Args:
        pattern: "N:M" sparsity of the packed weight.
        batch: rows of x (B, size).
        threads: torch and numba threads (the same for both).
        cold_bytes: if > 0, each repeat cycles through enough copies of the weights to read at
            least this many bytes, so weights come from memory, not cache ("cold").
    Returns:
        {"pattern", "batch", "ours_s", "dense_s", "speedup", "ours_bytes", "dense_bytes", ...}
    """
    import numba
    import numpy as np
    import torch

    from .mask import parse_pattern
    from .packed import nm_matmul, pack_nm

    n, m = parse_pattern(pattern)
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((size, size)).astype(np.float32)
    x = rng.standard_normal((batch, size)).astype(np.float32)
    xt = torch.from_numpy(x)
    packed = pack_nm(w, n, m)
    n_dense = max(1, int(np.ceil(cold_bytes / w.nbytes))) if cold_bytes else 1
    n_ours = max(1, int(np.ceil(cold_bytes / packed.nbytes))) if cold_bytes else 1
    dense_w = [torch.from_numpy(w.copy()) for _ in range(n_dense)]
    ours_w = [packed] + [type(packed)(packed.values.copy(), packed.indices.copy(), n, m, size)
                         for _ in range(n_ours - 1)]
    nm_matmul(x, packed)  # numba compile (or cache load) and warm-up
    torch.matmul(xt, dense_w[0].T)
    t_ours, t_dense = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for pw in ours_w:
            nm_matmul(x, pw)
        t_ours.append((time.perf_counter() - t0) / len(ours_w))
        t0 = time.perf_counter()
        for dw in dense_w:
            torch.matmul(xt, dw.T)
        t_dense.append((time.perf_counter() - t0) / len(dense_w))
    ours_s, dense_s = float(np.median(t_ours)), float(np.median(t_dense))
    return {"pattern": pattern, "batch": batch, "ours_s": ours_s, "dense_s": dense_s,
            "speedup": dense_s / ours_s, "size": size, "threads": threads,
            "cold": bool(cold_bytes), "repeats": repeats,
            "ours_bytes": bytes_read(size, size, batch, n, m),
            "dense_bytes": bytes_read(size, size, batch, None, None)}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", default="1:8", help="N:M pattern of the packed weight")
    parser.add_argument("--batch", type=int, default=1, help="rows of x")
    parser.add_argument("--size", type=int, default=4096, help="layer is size x size")
    parser.add_argument("--threads", type=int, default=1, help="torch and numba threads")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats (median)")
    parser.add_argument("--cold", action="store_true",
                        help="rotate weight copies (>= 768 MB read per repeat) so weights stream "
                             "from memory")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.size < 1 or args.threads < 1 or args.repeats < 1:
        raise ValueError("--batch, --size, --threads and --repeats must be >= 1")
    res = time_nm(args.pattern, args.batch, args.size, args.threads, args.repeats,
                  cold_bytes=768e6 if args.cold else 0.0)
    if args.json:
        keys = ["pattern", "batch", "ours_s", "dense_s", "speedup"]
        print(json.dumps({k: res[k] for k in keys}))
    else:
        print(f"{res['pattern']} batch {res['batch']}: ours {res['ours_s'] * 1e3:.3f} ms, "
              f"dense {res['dense_s'] * 1e3:.3f} ms, speed-up {res['speedup']:.2f}x")
    return 0
