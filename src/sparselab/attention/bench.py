"""Time the block-sparse CPU kernel against dense causal SDPA at one length and density."""
from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from .layout import SparseLayout


def random_block_layout(batch: int, heads: int, length: int, density: float, block: int = 64,
                        seed: int = 0) -> SparseLayout:
    """Causal block layout keeping the diagonal block plus random earlier key blocks.

    Query block n keeps its diagonal block and round(f * n) of its n earlier blocks, f chosen so
    that the attended fraction of causal (query, key) pairs is `density` (up to rounding).
    length must be a multiple of `block`.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    if length % block:
        raise ValueError(f"length {length} must be a multiple of block {block}")
    rng = np.random.default_rng(seed)
    nq = length // block
    causal = length * (length + 1) / 2
    diag = nq * block * (block + 1) / 2
    frac = max(0.0, density * causal - diag) / (block * block) / max(1, nq * (nq - 1) // 2)
    keep = 1 + np.minimum(np.arange(nq), np.rint(frac * np.arange(nq))).astype(np.int32)
    blocks = np.full((batch, heads, nq, int(keep.max())), -1, dtype=np.int32)
    for b in range(batch):
        for h in range(heads):
            for n in range(nq):
                others = rng.choice(n, keep[n] - 1, replace=False) if n else np.empty(0, int)
                blocks[b, h, n, : keep[n]] = np.sort(np.r_[others, n])
    counts = np.broadcast_to(keep, (batch, heads, nq)).copy()
    empty = np.full((batch, heads, nq, 1), -1, dtype=np.int32)
    return SparseLayout(block, block, length, length, blocks, counts, empty,
                        np.zeros((batch, heads, nq), dtype=np.int32))


def layout_density(layout: SparseLayout) -> float:
    """Attended fraction of causal pairs of a block-only layout with equal square blocks whose
    every query block lists its diagonal block (no token mask is built: fine at 16K)."""
    bs = layout.block_q
    full = (layout.block_counts.astype(np.float64) - 1).sum() * bs * bs
    diag = layout.block_counts.size * bs * (bs + 1) / 2
    n = layout.n_queries
    return float((full + diag) / (layout.block_counts.shape[0] * layout.block_counts.shape[1]
                                  * n * (n + 1) / 2))


def measure(length: int, densities: list[float], heads: int = 8, head_dim: int = 64,
            threads: int = 2, repeats: int = 5, block: int = 64, seed: int = 0) -> list[dict[str, Any]]:
    """Median seconds of our kernel per density and of dense causal SDPA, interleaved per repeat.

    Returns one dict per density: length, density (requested), ours_s, sdpa_dense_s, speedup,
    ideal (1 / realised density), realised_density.
    """
    import torch
    import torch.nn.functional as F

    from .kernel import block_sparse_attention

    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((1, heads, length, head_dim), dtype=np.float32) for _ in range(3))
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    layouts = [random_block_layout(1, heads, length, d, block, seed) for d in densities]
    small = random_block_layout(1, heads, 4 * block, 1.0, block)
    block_sparse_attention(q[:, :, : 4 * block], k[:, :, : 4 * block], v[:, :, : 4 * block], small,
                           n_threads=threads)  # compile / load the numba cache
    F.scaled_dot_product_attention(tq[:, :, :256], tk[:, :, :256], tv[:, :, :256], is_causal=True)
    sdpa, ours = [], [[] for _ in densities]
    for _ in range(repeats):
        t0 = time.perf_counter()
        F.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
        sdpa.append(time.perf_counter() - t0)
        for i, lay in enumerate(layouts):
            t0 = time.perf_counter()
            block_sparse_attention(q, k, v, lay, n_threads=threads)
            ours[i].append(time.perf_counter() - t0)
    sdpa_s = statistics.median(sdpa)
    rows = []
    for target, lay, times in zip(densities, layouts, ours):
        dens = layout_density(lay)
        ours_s = statistics.median(times)
        rows.append({"length": length, "density": target, "ours_s": ours_s,
                     "sdpa_dense_s": sdpa_s, "speedup": sdpa_s / ours_s, "ideal": 1.0 / dens,
                     "realised_density": dens})
    return rows


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--length", type=int, default=4096, help="sequence length L (multiple of 64)")
    parser.add_argument("--density", type=float, default=0.25, help="fraction of causal blocks kept")
    parser.add_argument("--heads", type=int, default=8, help="attention heads (B = 1)")
    parser.add_argument("--head-dim", type=int, default=64, help="head dimension d")
    parser.add_argument("--threads", type=int, default=2, help="torch and numba threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median reported)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    row = measure(args.length, [args.density], args.heads, args.head_dim, args.threads,
                  args.repeats)[0]
    if args.json:
        print(json.dumps(row))
    else:
        print(f"L={row['length']} density={row['realised_density']:.4f}: ours {row['ours_s']:.4f} s, dense "
              f"SDPA {row['sdpa_dense_s']:.4f} s, speed-up {row['speedup']:.2f} "
              f"(ideal {row['ideal']:.2f})")
    return 0
