"""Issue 19's "done when" cells in one run: packed N:M vs dense torch.matmul, fp32, cold, 1 thread.

Every pattern at batch 1, 8 and 64 through the dispatcher (`nm_linear`), each cell exactly what
`sparselab bench nm --pattern P --batch B --json` measures (sparselab.sparsity.bench.time_nm).
Checks: 2:4 at batch 1 reaches >= 80 % of the DRAM read rate measured in the same cell and
>= 1.3x dense; 1:8 at batch 1 >= 5x; no pattern at batch 8 or 64 below 0.95x. Run it on a quiet
machine (~3 minutes); the full table with hot mode, 2 threads and the crossover is nm_cpu.py.

    python benchmarks/nm_done_when.py      # writes benchmarks/results/nm_done_when.{json,md}
"""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from sparselab.cache import atomic_write_json, atomic_write_text
from sparselab.reports.provenance import cpu_model
from sparselab.sparsity.bench import time_nm

RESULTS = Path(__file__).resolve().parent / "results"
PATTERNS = ["2:4", "1:4", "1:8", "1:16", "1:32"]
BATCHES = [1, 8, 64]


def checks(rows: list[dict]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, target, met) for each done-when condition."""
    cell = {(r["pattern"], r["batch"]): r for r in rows}
    out = [("2:4 batch 1 bandwidth_fraction", cell["2:4", 1]["bandwidth_fraction"], ">= 0.8",
            cell["2:4", 1]["bandwidth_fraction"] >= 0.8),
           ("2:4 batch 1 speedup", cell["2:4", 1]["speedup"], ">= 1.3", cell["2:4", 1]["speedup"] >= 1.3),
           ("1:8 batch 1 speedup", cell["1:8", 1]["speedup"], ">= 5", cell["1:8", 1]["speedup"] >= 5)]
    worst = min((r for r in rows if r["batch"] in (8, 64)), key=lambda r: r["speedup"])
    out.append((f"lowest speedup at batch 8/64 ({worst['pattern']} batch {worst['batch']})",
                worst["speedup"], ">= 0.95", worst["speedup"] >= 0.95))
    return out


def main() -> None:
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    rows = [time_nm(p, b, threads=1, cold=True) for b in BATCHES for p in PATTERNS]
    meta = {"cpu": cpu_model(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": "python benchmarks/nm_done_when.py", "wall_s": time.perf_counter() - t0,
            "loadavg_start": load0, "loadavg_end": os.getloadavg()}
    res = {"meta": meta, "rows": rows, "checks": [list(c) for c in checks(rows)]}
    atomic_write_json(RESULTS / "nm_done_when.json", res)
    lines = ["# Issue 19 done-when cells: packed N:M vs dense torch.matmul (fp32, cold, 1 thread)", "",
             (f"Machine: {meta['cpu']}; {meta['date']}; command `{meta['command']}` "
              f"({meta['wall_s']:.0f} s); load average {load0[0]:.2f} at start, "
              f"{meta['loadavg_end'][0]:.2f} at end. speed-up = dispatcher (`nm_linear`) over dense; "
              "packed = the kernel alone; DRAM = STREAM-like read of 256 MiB in the same cell."), "",
             "| pattern | batch | path | speed-up | packed speed-up | packed GB/s | DRAM GB/s | fraction of DRAM |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['pattern']} | {r['batch']} | {r['path']} | {r['speedup']:.2f}x | "
              f"{r['packed_speedup']:.2f}x | {r['gbps']:.1f} | {r['dram_gbps']:.1f} | "
              f"{r['bandwidth_fraction']:.2f} |" for r in rows]
    lines += ["", "| condition | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {w} | {m:.2f} | {t} | {'yes' if ok else 'no'} |" for w, m, t, ok in res["checks"]]
    atomic_write_text(RESULTS / "nm_done_when.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
