"""Run a retriever on a collection split and write a TREC run file."""
from __future__ import annotations

import argparse

from .cli_evaluate import add_common


def configure(parser: argparse.ArgumentParser) -> None:
    add_common(parser)
    parser.add_argument("--out", required=True, help="TREC run file to write")
    parser.add_argument("--tag", default=None, help="run tag (default: the retriever key)")
    parser.set_defaults(func=handler)


def handler(args) -> int:
    from ..eval import write_trec_run
    from .cli_evaluate import run_search
    from .search import self_hit_record

    collection, run = run_search(args)
    path = write_trec_run(run, args.out, tag=args.tag or f"sparselab-{args.retriever}")
    print(f"wrote {len(run)} hits for {run['query_id'].nunique()} queries to {path} "
          f"(self-hits {self_hit_record(collection, args.keep_self_hits)})")
    return 0
