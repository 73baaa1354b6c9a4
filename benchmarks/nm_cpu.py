"""Packed N:M kernel vs dense torch.matmul (fp32, same threads) and vs the DRAM read limit.

The full run (the committed numbers; run it on a quiet machine, ~10 minutes on 2 idle cores):
1. calibrates the packed/dense crossover per pattern at 1 and 2 threads over batch 1..128
   (cold) and writes benchmarks/results/nm_calibration.json (the dispatcher's committed
   calibration for this CPU model) and the same file under data/cache/nm_calibration/;
2. times every pattern at batch 1, 8, 64, hot and cold, 1 and 2 threads (fp32), each cell
   alternating packed kernel, dispatcher, dense and a STREAM-like read (sparselab.sparsity.bench);
3. bf16 values at batch 1 (cold), with their error against the fp32 masked product;
4. generation tokens/s of an N:M TinyLM served packed against its dense twin;
then writes benchmarks/results/nm_cpu.md and .json and refreshes benchmarks/README.md.

    python benchmarks/nm_cpu.py --final        # (--final is the default; `make bench` runs it)
    python benchmarks/nm_cpu.py --quick --patterns 2:4 --batches 1 --threads 1   # print only
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from pathlib import Path

from tqdm.auto import tqdm

from sparselab.cache import atomic_write_json, atomic_write_text
from sparselab.reports.provenance import cpu_model
from sparselab.sparsity.bench import calibrate, time_nm
from sparselab.sparsity.bench_lm import generation_speed
from sparselab.sparsity.nm_dispatch import (
    LADDER,
    calibration_path,
    committed_calibration_path,
    save_calibration,
)

RESULTS = Path(__file__).resolve().parent / "results"
PATTERNS = ["2:4", "1:4", "1:8", "1:16", "1:32"]


def versions() -> dict[str, str]:
    import numba
    import numpy
    import torch

    return {"torch": torch.__version__, "numba": numba.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def _f(x, spec=".2f"):
    return "" if x is None else format(x, spec)


def markdown(res: dict) -> str:
    """All result tables, with machine, date and peer versions."""
    meta = res["meta"]
    out = ["# N:M packed matmul (numba, AVX2) vs dense torch.matmul", "",
           f"Machine: {meta['cpu']}; {meta['date']}; layer {meta['size']}x{meta['size']}; "
           f"median of {meta['repeats']} repeats; command `{meta['command']}` "
           f"({meta['wall_s']:.0f} s). " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
           + ".", "",
           ("Bytes = packed values + 2/3/4/8-bit indices + slot offsets + x + y (dense: 4 B per "
           "weight + x + y). DRAM = STREAM-like read of 256 MiB in the same run, same threads. "
           "cold: weight copies (>= 256 MiB, 8x L3) cycled so weights stream from DRAM; hot: one "
           "copy repeated (a 2:4 4096x4096 layer, 36 MB, still exceeds the 32 MiB L3). "
           "speed-up = what `nm_linear` delivers (packed up to the calibrated crossover batch, "
           "dense above it) over dense; packed = the packed kernel alone at that batch."), "",
           "## Per layer, fp32", "",
           ("| pattern | batch | mode | threads | path | speed-up | packed speed-up | packed ms | "
           "dense ms | packed GB/s | DRAM GB/s | fraction of DRAM |"),
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["grid"]:
        out.append(f"| {r['pattern']} | {r['batch']} | {r['mode']} | {r['threads']} | {r['path']} | "
                   f"{r['speedup']:.2f}x | {r['packed_speedup']:.2f}x | {r['packed_s'] * 1e3:.3f} | "
                   f"{r['dense_s'] * 1e3:.3f} | {r['gbps']:.1f} | {r['dram_gbps']:.1f} | "
                   f"{r['bandwidth_fraction']:.2f} |")
    cal = res["calibration"]
    out += ["", "## Crossover (cold, fp32): packed kernel speed-up over dense by batch", "",
            ("Crossover = largest batch up to which packed wins at every batch (0: never). "
            "Committed as `benchmarks/results/nm_calibration.json`; the dispatcher reads it on "
            "this CPU model."), "",
            "| pattern / threads | crossover | " + " | ".join(f"B={b}" for b in LADDER) + " |",
            "|---|---|" + "---|" * len(LADDER)]
    for key, sp in cal["speedups"].items():
        out.append(f"| {key.replace('/float32/', ' / ').replace('threads=', '')} | "
                   f"{cal['crossover'][key]} | " + " | ".join(f"{sp[str(b)]:.2f}x" for b in LADDER) + " |")
    out += ["", "## bfloat16 values (batch 1, cold)", "",
            ("Values stored as bf16 (round to nearest even), accumulated in fp32; error = max |y - "
            "y_fp32| / max |y_fp32| against the float64 product of the fp32 masked weight."), "",
            ("| pattern | threads | speed-up vs fp32 dense | packed GB/s | DRAM GB/s | fraction | "
            "max rel. error | fp32 packed max rel. error |"), "|---|---|---|---|---|---|---|---|"]
    fp32 = {(r["pattern"], r["threads"]): r for r in res["grid"]
            if r["batch"] == 1 and r["mode"] == "cold"}
    for r in res["bf16"]:
        ref = fp32.get((r["pattern"], r["threads"]), {}).get("max_rel_err")
        out.append(f"| {r['pattern']} | {r['threads']} | {r['packed_speedup']:.2f}x | "
                   f"{r['gbps']:.1f} | {r['dram_gbps']:.1f} | {r['bandwidth_fraction']:.2f} | "
                   f"{r['max_rel_err']:.1e} | {_f(ref, '.1e')} |")
    out += ["", "## Generation (batch 1): N:M TinyLM served packed vs its dense twin", "",
            ("`sparselab.models.lm.TinyLM` with `NMLinear` layers (study 04's layer type), random "
            "weights, converted by `sparsity.inference.pack_model`; the dense twin holds the same "
            "masked weights in `nn.Linear`. Greedy decode of 32 tokens after a 16-token prompt, "
            "alternating; `same ids` = both emitted the same tokens."), "",
            ("| pattern | threads | d_model x layers | weights MiB dense / packed | dense tok/s | "
            "packed tok/s | speed-up | same ids |"), "|---|---|---|---|---|---|---|---|"]
    for r in res["lm"]:
        out.append(f"| {r['pattern']} | {r['threads']} | {r['d_model']} x {r['n_layers']} | "
                   f"{r['weight_mb_dense']:.0f} / {r['weight_mb_packed']:.0f} | "
                   f"{r['dense_tok_s']:.1f} | {r['packed_tok_s']:.1f} | {r['speedup']:.2f}x | "
                   f"{'yes' if r['same_ids'] else 'no'} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--final", action="store_true",
                    help="full run (the default): calibration, grid, bf16, tokens/s; writes "
                         "results and benchmarks/README.md")
    ap.add_argument("--quick", action="store_true",
                    help="only the grid, printed; no calibration, nothing written")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeats", type=int, default=15, help="timed repeats per cell")
    ap.add_argument("--size", type=int, default=4096, help="layer is size x size")
    ap.add_argument("--patterns", nargs="+", default=PATTERNS)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.final and args.quick:
        raise SystemExit("nm_cpu.py: --final and --quick exclude each other")
    if not args.quick:
        entries = calibrate(args.patterns, args.threads, LADDER, args.size, repeats=7)
        meta = {"size": args.size, "date": dt.datetime.now().isoformat(timespec="seconds")}
        save_calibration(entries, meta, committed_calibration_path())
        save_calibration(entries, meta, calibration_path())
    grid = [(p, b, cold, t) for t in args.threads for b in args.batches for p in args.patterns
            for cold in (True, False)]
    rows = [time_nm(p, b, args.size, t, args.repeats, cold=cold)
            for p, b, cold, t in tqdm(grid, desc="nm_cpu grid")]
    if args.quick:
        for r in rows:
            print({k: r[k] for k in ("pattern", "batch", "mode", "threads", "path", "speedup",
                                     "packed_speedup", "gbps", "dram_gbps", "bandwidth_fraction")})
        return 0
    bf16 = [time_nm(p, 1, args.size, t, args.repeats, cold=True, dtype="bfloat16")
            for t in args.threads for p in tqdm(args.patterns, desc="nm_cpu bf16")]
    lm = [generation_speed(p, t) for t in args.threads for p in tqdm(["2:4", "1:8"], desc="nm_cpu lm")]
    import json

    res = {"meta": {"cpu": cpu_model(), "size": args.size, "repeats": args.repeats,
                    "date": dt.datetime.now().isoformat(timespec="seconds"),
                    "command": "python benchmarks/nm_cpu.py --final", "versions": versions(),
                    "wall_s": time.perf_counter() - t0},
           "calibration": json.loads(committed_calibration_path().read_text()),
           "grid": rows, "bf16": bf16, "lm": lm}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "nm_cpu.json", res)
    atomic_write_text(RESULTS / "nm_cpu.md", markdown(res))
    import readme  # benchmarks/readme.py: assemble benchmarks/README.md from results/*.md

    readme.main()
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
