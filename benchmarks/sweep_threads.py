"""Thread hygiene of sweep workers: busy threads per worker, measured from /proc while cells run.

Runs a sweep of compute-bound cells (`sweeps.demo.busy_cell`: torch and numpy BLAS matmuls) on
the local-processes and Dask backends with 2 workers, once with the sweep's cap (1 thread per
worker: 2 busy threads on 2 cores) and once as the peer, workers that inherit no cap (each
worker's torch / BLAS pools as wide as the machine). A sampler reads the state of every thread
of every worker process every 20 ms; a thread in state R is running or waiting for a core.
Oversubscription = more R threads in our workers than cores.

    .venv/bin/python benchmarks/sweep_threads.py [--seconds 4] [--cells 4]
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

from sparselab.sweeps import run_sweep
from sparselab.sweeps import threads as sweep_threads
from sparselab.sweeps.demo import busy_cell

HERE = Path(__file__).resolve().parent


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (spawned workers, Dask nannies and their workers)."""
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def running_threads(pids: list[int], ticks: dict) -> tuple[int, int]:
    """(threads in state R, all threads) over `pids`; `ticks[(pid, tid)]` <- CPU ticks so far."""
    r = total = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += 1
            r += fields[0] == "R"
            ticks[(pid, int(stat.parent.name))] = int(fields[11]) + int(fields[12])  # utime+stime
    return r, total


def busy_threads(ticks: dict, share: float = 0.1) -> tuple[int, float]:
    """Per worker process: threads that used >= `share` of its CPU time; returns the most
    such threads in any worker and the smallest share of its CPU that its top thread used."""
    per: dict[int, list[int]] = {}
    for (pid, _), t in ticks.items():
        per.setdefault(pid, []).append(t)
    most, top = 0, 1.0
    for ts in per.values():
        total = sum(ts)
        if total:
            most = max(most, sum(t >= share * total for t in ts))
            top = min(top, max(ts) / total)
    return most, top


def measure(executor: str, threads: int | None, seconds: float, n_cells: int) -> dict:
    """Sweep busy cells while sampling; `threads=None`: the uncapped peer."""
    samples, ticks, stop = [], {}, threading.Event()

    def sampler():
        while not stop.is_set():
            pids = descendants(os.getpid())
            busy = [p for p in pids if _cpu_bound(p)]
            if busy:
                samples.append(running_threads(busy, ticks))
            time.sleep(0.02)

    cells = [{"seed": s, "seconds": seconds, "n": 384} for s in range(n_cells)]
    t = threading.Thread(target=sampler, daemon=True)
    env_before = dict(os.environ)
    if threads is None:  # the peer: no cap reaches the workers
        os.environ.update({k: str(os.cpu_count()) for k in sweep_threads.THREAD_ENV})
    t.start()
    try:
        res = run_sweep(_uncapped if threads is None else busy_cell, cells, stage="bench_threads",
                        executor=executor, threads=threads or 1, workers=2, cache=False,
                        progress=False)
    finally:
        stop.set()
        t.join(timeout=5)
        os.environ.clear()
        os.environ.update(env_before)
    r = sorted(s[0] for s in samples)
    cores = os.cpu_count()
    most, top = busy_threads(ticks)
    return {"executor": executor, "cap": threads or "none", "samples": len(r),
            "max_running": max(r, default=0), "mean_running": sum(r) / max(1, len(r)),
            "share_over_cores": sum(x > cores for x in r) / max(1, len(r)),
            "busy_threads_per_worker": most, "top_thread_cpu_share": top,
            "torch_threads": sorted({row["torch_threads"] for row in res.rows}),
            "cpu_per_wall": [round(i["cpu_s"] / i["wall_s"], 2) for i in res.infos]}


def _cpu_bound(pid: int) -> bool:
    """A worker process (it imported torch: many mapped libraries), not a tiny helper."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _uncapped(cell: dict) -> dict:
    """`busy_cell` after undoing the sweep's cap (what a worker does left alone)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(os.cpu_count())
    with threadpool_limits(os.cpu_count()):
        return busy_cell(cell)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="busy time per cell")
    ap.add_argument("--cells", type=int, default=4)
    args = ap.parse_args()
    load = os.getloadavg()
    rows = [measure(ex, cap, args.seconds, args.cells)
            for ex in ("local", "dask") for cap in (1, None)]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sweep_threads.json").write_text(json.dumps(
        {"when": stamp, "cores": os.cpu_count(), "loadavg": load, "rows": rows}, indent=1) + "\n")
    lines = ["## Sweep workers: busy threads per core (thread hygiene)", "",
             (f"Machine: {os.cpu_count()} cores; {stamp}; load average before the run "
              f"{load[0]:.1f} (other jobs share the machine: waiting threads of theirs are not "
              "counted, only our workers' threads). 2 workers, "
              f"{args.cells} cells of {args.seconds:g} s of torch + BLAS matmuls; each worker's "
              "threads sampled every 20 ms from /proc (state R = running or waiting for a core)."),
             "",
             ("A busy thread used >= 10 % of its worker's CPU time over the sweep; the top "
              "thread's share is the smallest over workers."),
             "", ("| executor | cap per worker | samples | max R threads | mean R threads | "
                  "samples with R > cores | busy threads per worker | top thread's CPU share | "
                  "torch threads in cells | CPU s / wall s per cell |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['executor']} | {r['cap']} | {r['samples']} | {r['max_running']} | "
                     f"{r['mean_running']:.2f} | {100 * r['share_over_cores']:.1f} % | "
                     f"{r['busy_threads_per_worker']} | {100 * r['top_thread_cpu_share']:.0f} % | "
                     f"{r['torch_threads']} | {', '.join(map(str, r['cpu_per_wall']))} |")
    (HERE / "results" / "sweep_threads.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
