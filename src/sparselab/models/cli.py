"""Train a tiny LM on the long-context task suite and report held-out accuracy per task."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="xs", help="family member: xs, s, m, l (default xs)")
    parser.add_argument("--tasks", default="all", help="comma-separated task keys or 'all'")
    parser.add_argument("--length", type=int, default=256, help="prompt length in tokens")
    parser.add_argument("--steps", type=int, default=3000, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", default="synthetic,tinystories,tinyshakespeare",
                        help="haystack sources, comma-separated")
    parser.add_argument("--out", default=None, help="output folder (default: the cache)")
    parser.add_argument("--eval-n", type=int, default=100, help="held-out samples per task")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--ckpt-every", type=int, default=250, help="checkpoint period in steps")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from ..cache import atomic_write_json
    from ..tasks.suite import build_tasks
    from .evaluate import evaluate_suite
    from .recipe import SuiteRecipe, load_model, train_suite_model
    from .trainer import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.steps < 1 or args.length < 32:
        raise ValueError("--steps must be >= 1 and --length >= 32")
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    train = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                        warmup=min(args.warmup, args.steps), seed=args.seed, ckpt_every=args.ckpt_every)
    recipe = SuiteRecipe(model=args.model, tasks=args.tasks, length=args.length, sources=sources, train=train)
    folder = train_suite_model(recipe, args.out)
    model, meta = load_model(folder)
    tasks = build_tasks(args.tasks, args.length, sources=sources)
    res = evaluate_suite(model, tasks, n=args.eval_n, split="test")
    summary = {k: {"mean": r["mean"], "n": len(r["scores"]), "scoring": t.scoring, **t.labels()}
               for (k, r), t in zip(res.items(), tasks)}
    atomic_write_json(Path(folder) / "eval.json", {"n_params": meta["n_params"], "tasks": summary})
    print(f"model {args.model}: {meta['n_params']} non-embedding parameters; checkpoint {folder}")
    print(f"{'task':15s} {'disp':5s} {'scope':5s} {'scoring':8s} {'score':>6s}  n")
    for k, s in summary.items():
        print(f"{k:15s} {s['dispersion']:5s} {s['scope']:5s} {s['scoring']:8s} {s['mean']:6.3f}  {s['n']}")
    print(json.dumps({k: round(s["mean"], 4) for k, s in summary.items()}))
    return 0
