"""Packed N:M numba matmul vs dense torch.matmul on a 4096x4096 fp32 layer (same threads).

Grid: batch 1, 8, 64 x patterns 2:4, 1:8, 1:16, each timed "hot" (the same layer repeated:
weights stay in cache when they fit) and "cold" (each repeat cycles through copies of the
weights totalling >= 768 MB, so they stream from memory as in a many-layer model). Ours and
dense alternate inside every repeat; the median of the repeats is reported.

Writes benchmarks/results/nm_cpu.md and .json.
    python benchmarks/nm_cpu.py [--threads 1] [--repeats 15] [--size 4096]
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
from pathlib import Path

from tqdm.auto import tqdm

from sparselab.cache import atomic_write_json, atomic_write_text
from sparselab.reports.provenance import cpu_model
from sparselab.sparsity.bench import time_nm

RESULTS = Path(__file__).resolve().parent / "results"


def versions() -> dict[str, str]:
    import numba
    import numpy
    import torch

    return {"torch": torch.__version__, "numba": numba.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def markdown(rows: list[dict], meta: dict) -> str:
    """Results table with machine, date and peer versions."""
    lines = [
        "# N:M packed matmul (numba) vs dense torch.matmul, fp32",
        "",
        f"Machine: {meta['cpu']}, {meta['threads']} thread(s) for both; {meta['date']}; "
        f"layer {meta['size']}x{meta['size']}; median of {meta['repeats']} repeats. "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        ("hot: the same layer repeated (weights cache-resident if they fit); cold: copies of the "
         "weights (>= 768 MB per repeat) cycled so they stream from memory. Bytes = weights "
         "(packed: N/M x (4 B value + 1 B index)) + x + y."),
        "",
        ("| pattern | batch | mode | ours (ms) | dense (ms) | speed-up | ours MB | dense MB | "
         "ours GB/s | dense GB/s |"),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pattern']} | {r['batch']} | {'cold' if r['cold'] else 'hot'} | "
            f"{r['ours_s'] * 1e3:.3f} | {r['dense_s'] * 1e3:.3f} | {r['speedup']:.2f}x | "
            f"{r['ours_bytes'] / 1e6:.1f} | {r['dense_bytes'] / 1e6:.1f} | "
            f"{r['ours_bytes'] / r['ours_s'] / 1e9:.1f} | {r['dense_bytes'] / r['dense_s'] / 1e9:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch and numba threads")
    ap.add_argument("--repeats", type=int, default=15, help="timed repeats per cell")
    ap.add_argument("--size", type=int, default=4096, help="layer is size x size")
    ap.add_argument("--patterns", nargs="+", default=["2:4", "1:8", "1:16"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    args = ap.parse_args(argv)
    grid = [(p, b, cold) for b in args.batches for p in args.patterns for cold in (False, True)]
    rows = [time_nm(p, b, args.size, args.threads, args.repeats, cold_bytes=768e6 if cold else 0)
            for p, b, cold in tqdm(grid, desc="nm_cpu")]
    meta = {"cpu": cpu_model(), "threads": args.threads, "size": args.size,
            "repeats": args.repeats, "date": dt.datetime.now().isoformat(timespec="seconds"),
            "versions": versions()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "nm_cpu.json", {"meta": meta, "rows": rows})
    atomic_write_text(RESULTS / "nm_cpu.md", markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
