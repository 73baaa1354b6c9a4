"""Evaluate a retriever (bm25 | dense | splade) on a collection split."""
from __future__ import annotations

import argparse
import json
import time

RETRIEVER_CHOICES = ("bm25", "dense", "splade")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by `sparselab evaluate` and `sparselab search`."""
    parser.add_argument("--dataset", required=True,
                        help="registered collection name (scifact, nfcorpus, ...) or a BEIR folder")
    parser.add_argument("--retriever", required=True,
                        help=f"one of {', '.join(RETRIEVER_CHOICES)}")
    parser.add_argument("--split", default="test", help="query split (default: test)")
    parser.add_argument("--k", type=int, default=1000, help="hits per query (default: 1000)")
    rq = parser.add_mutually_exclusive_group()
    rq.add_argument("--remove-query", dest="remove_query", action="store_const", const=True,
                    default=None, help="drop hits whose doc id equals the query id")
    rq.add_argument("--keep-query", dest="remove_query", action="store_const", const=False,
                    help="keep such hits (default for dense/splade; bm25 removes them)")


def run_search(args):
    """Load the collection and run the retriever; returns (collection, run)."""
    from ..data import load_collection
    from .search import check_retriever, search

    check_retriever(args.retriever)  # before loading anything heavy
    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    collection = load_collection(args.dataset)
    run = search(collection, args.retriever, split=args.split, k=args.k,
                 remove_query=args.remove_query)
    return collection, run


def configure(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=handler)


def handler(args) -> int:
    from .search import evaluate

    start = time.perf_counter()
    collection, run = run_search(args)
    qrels = collection.qrels[args.split]
    metrics = evaluate(run, qrels)
    out = {
        "dataset": args.dataset,
        "collection": collection.name,
        "retriever": args.retriever,
        "split": args.split,
        "k": args.k,
        "n_queries": int(qrels["query_id"].nunique()),
        "metrics": metrics,
        "seconds": round(time.perf_counter() - start, 2),
    }
    if args.json:
        print(json.dumps(out, sort_keys=False))
    else:
        print(f"{collection.name} {args.split} {args.retriever} ({out['n_queries']} queries)")
        for name, value in metrics.items():
            print(f"  {name:10s} {value:.4f}")
    return 0
