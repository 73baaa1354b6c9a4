"""Train a tiny LM on the long-context task suite and report held-out accuracy per task."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="xs", help="family member: xs, s, m, l (default xs)")
    parser.add_argument("--tasks", default="all", help="comma-separated task keys or 'all'")
    parser.add_argument("--length", default="256",
                        help="prompt length in tokens; comma-separated to train on several")
    parser.add_argument("--steps", type=int, default=3000, help="optimizer steps")
    parser.add_argument("--short-frac", type=float, default=0.0,
                        help="curriculum: fraction of the steps trained at the shortest --length only")
    parser.add_argument("--weights", default="",
                        help="relative sampling weight per task, e.g. cwe=2,filter=2 (default: uniform)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default: the recipe's per-size value)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sources", default="synthetic,tinystories,tinyshakespeare",
                        help="haystack sources, comma-separated")
    parser.add_argument("--out", default=None, help="output folder (default: the cache)")
    parser.add_argument("--eval-n", type=int, default=100, help="held-out samples per task")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--ckpt-every", type=int, default=1000, help="checkpoint period in steps")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import torch

    from ..cache import atomic_write_json, is_complete
    from ..tasks.suite import build_tasks
    from .evaluate import evaluate_suite
    from .recipe import SUITE_LR, SuiteRecipe, load_model, suite_model_path, train_suite_model
    from .trainer import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    lengths = tuple(int(n) for n in str(args.length).split(","))
    if args.steps < 1 or min(lengths) < 32:
        raise ValueError("--steps must be >= 1 and every --length >= 32")
    if not 0.0 <= args.short_frac <= 1.0:
        raise ValueError(f"--short-frac must be in [0, 1], got {args.short_frac}")
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    weights = parse_weights(args.weights)
    lr = args.lr if args.lr is not None else SUITE_LR.get(args.model, 3e-3)
    train = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=lr,
                        warmup=min(args.warmup, args.steps), seed=args.seed, ckpt_every=args.ckpt_every)
    recipe = SuiteRecipe(model=args.model, tasks=args.tasks, lengths=lengths, sources=sources, train=train,
                         short_frac=args.short_frac, task_weights=weights)
    cached = args.out is None and is_complete(suite_model_path(recipe))
    t0 = time.perf_counter()
    folder = train_suite_model(recipe, args.out)
    train = {"train_seconds": time.perf_counter() - t0, "train_threads": torch.get_num_threads()}
    if cached:  # keep the training time measured when it was trained, if recorded
        old = Path(folder) / "eval.json"
        prev = json.loads(old.read_text()) if old.exists() else {}
        train = {k: prev.get(k) for k in train}
    model, meta = load_model(folder)
    rows = []
    for n in lengths:
        tasks = build_tasks(args.tasks, n, sources=sources)
        res = evaluate_suite(model, tasks, n=args.eval_n, split="test")
        rows += [{"length": n, "mean": r["mean"], "n": len(r["scores"]), "scoring": t.scoring, **t.labels()}
                 for r, t in zip(res.values(), tasks)]
    atomic_write_json(Path(folder) / "eval.json", {"n_params": meta["n_params"], **train, "cached": cached,
                                                    "eval_threads": torch.get_num_threads(), "results": rows})
    print(f"model {args.model}: {meta['n_params']} non-embedding parameters; checkpoint {folder}")
    if train["train_seconds"] is None:
        print("loaded from the cache (training time not recorded)")
    else:
        print(f"training wall time {train['train_seconds']:.0f} s on {train['train_threads']} thread(s)"
              + (" (when it was trained; loaded from the cache now)" if cached else ""))
    print(f"{'task':15s} {'length':>6s} {'disp':5s} {'scope':5s} {'scoring':8s} {'score':>6s}  n")
    for r in rows:
        print(f"{r['task']:15s} {r['length']:6d} {r['dispersion']:5s} {r['scope']:5s} {r['scoring']:8s} "
              f"{r['mean']:6.3f}  {r['n']}")
    print(json.dumps({f"{r['task']}@{r['length']}": round(r["mean"], 4) for r in rows}))
    return 0


def parse_weights(text: str) -> dict[str, float] | None:
    """`"cwe=2,filter=2"` -> {"cwe": 2.0, "filter": 2.0}; empty -> None (uniform)."""
    if not text.strip():
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not sep or not name.strip() or not w > 0:
            raise ValueError(f"--weights: expected task=positive number, got {part!r}")
        out[name.strip()] = w
    return out
