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
    parser.add_argument("--keep-self-hits", action="store_true",
                        help="keep a hit whose doc id equals the query id (default: ignored on "
                             "BEIR-format collections, as BEIR's evaluator does)")


def run_search(args):
    """Load the collection and run the retriever; returns (collection, run)."""
    from ..data import load_collection
    from .search import check_retriever, search

    check_retriever(args.retriever)  # before loading anything heavy
    if args.k < 1:
        raise ValueError(f"--k must be >= 1, got {args.k}")
    collection = load_collection(args.dataset)
    run = search(collection, args.retriever, split=args.split, k=args.k,
                 remove_query=False if args.keep_self_hits else None)
    if len(run) == 0:
        raise ValueError(f"{args.retriever} found no document for any query of "
                         f"{collection.name!r} split {args.split!r}; nothing to write or evaluate")
    return collection, run


def split_measures(measures, k: int) -> tuple[list[str], dict[str, str]]:
    """(measures computable from k hits, measure -> why not) for cut-offs above `k`."""
    import re

    ok, refused = [], {}
    for m in measures:
        cut = re.search(r"@(\d+)$", m)
        if cut and int(cut.group(1)) > k:
            refused[m] = f"cut-off {cut.group(1)} > --k {k}: would be computed on {k} hits"
        else:
            ok.append(m)
    return ok, refused


def configure(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=handler)


def handler(args) -> int:
    from ..eval import DEFAULT_MEASURES
    from .search import evaluate, self_hit_record

    start = time.perf_counter()
    measures, refused = split_measures(DEFAULT_MEASURES, args.k)
    if not measures:
        raise ValueError(f"--k {args.k}: every measure needs more hits ({', '.join(refused)})")
    collection, run = run_search(args)
    qrels = collection.qrels[args.split]
    metrics = evaluate(run, qrels, measures)
    out = {
        "dataset": args.dataset,
        "collection": collection.name,
        "retriever": args.retriever,
        "split": args.split,
        "k": args.k,
        "n_queries": int(qrels["query_id"].nunique()),
        "self_hits": self_hit_record(collection, args.keep_self_hits),
        "metrics": metrics,
        "not_computed": refused,
        "seconds": round(time.perf_counter() - start, 2),
    }
    if args.json:
        print(json.dumps(out, sort_keys=False))
    else:
        print(f"{collection.name} {args.split} {args.retriever} ({out['n_queries']} queries; "
              f"self-hits {out['self_hits'].split(' (')[0]})")
        for name, value in metrics.items():
            print(f"  {name:10s} {value:.4f}")
        for name, why in refused.items():
            print(f"  {name:10s} not computed: {why}")
    return 0
