"""Check a sweep backend or a cluster: demo cells on it must equal the same cells run serially."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sweep_command", metavar="WHAT")
    chk = sub.add_parser("check", help="run demo cells on a backend and compare with serial")
    chk.add_argument("--executor", default="dask", choices=["serial", "local", "dask"])
    chk.add_argument("--scheduler", default="", metavar="ADDR",
                     help="Dask scheduler address (default: $SPARSELAB_SCHEDULER, else local)")
    chk.add_argument("--cells", type=int, default=8, help="demo cells to run")
    chk.add_argument("--workers", type=int, default=None, help="local / LocalCluster processes")
    chk.set_defaults(func=_check)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from .backends import scheduler_address
    from .demo import demo_cell
    from .run import run_sweep

    if args.cells < 1:
        raise ValueError(f"--cells must be >= 1, got {args.cells}")
    cells = [{"seed": s, "n": 64} for s in range(args.cells)]
    kw = {"stage": "sweep_check", "cache": False}
    ref = run_sweep(demo_cell, cells, executor="serial", progress=False, **kw)
    res = run_sweep(demo_cell, cells, executor=args.executor, scheduler=args.scheduler,
                    workers=args.workers, desc=f"check {args.executor}", **kw)
    where = "this machine"
    if args.executor == "dask":
        where = scheduler_address(args.scheduler) or "a local cluster"
    hosts = sorted({f"{i['host']}:{i['pid']}" for i in res.infos})
    same = res.rows == ref.rows
    print(f"{len(cells)} demo cells on {args.executor} ({where}; {len(hosts)} worker processes): "
          f"{'equal to serial' if same else 'DIFFERENT from serial'}")
    return 0 if same else 1
