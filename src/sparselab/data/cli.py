"""Datasets: list, verify checksums and counts, fetch from the official source."""
from __future__ import annotations

import argparse
import json


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `list`, `verify` and `fetch` sub-commands to the `data` parser."""
    sub = parser.add_subparsers(dest="data_command", metavar="WHAT")
    p = sub.add_parser("list", help="registered datasets and where their files are found")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("verify", help="checksums and counts vs the expected ones")
    p.add_argument("names", nargs="*", metavar="NAME", help="datasets (default: all)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("fetch", help="download a dataset (or `all`) from its official URL")
    p.add_argument("name", metavar="NAME", help="a registered dataset, or `all` of them")
    p.add_argument("--dest", default=None, help="data root to write into (default data/raw)")
    p.add_argument("--force", action="store_true", help="download even if files are present")
    p.set_defaults(func=cmd_fetch)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _where(name: str) -> str:
    from .datasets import resolve_dataset
    from .io import DataError

    try:
        paths = list(resolve_dataset(name).values())
    except DataError:
        return "missing (sparselab data fetch " + name + ")"
    return str(paths[0].parent) if len(paths) == 1 else str(_common(paths))


def _common(paths) -> str:
    import os

    return os.path.commonpath([str(p) for p in paths])


def cmd_list(args) -> int:
    from .datasets import get_spec, list_datasets

    rows = []
    for name in list_datasets():
        spec = get_spec(name)
        c = spec.counts
        size = f"{c['docs']} docs" if "docs" in c else f"{c.get('bytes')} bytes"
        splits = ",".join(c.get("queries", {})) or "-"
        rows.append((name, spec.format, size, splits, _where(name)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[4])
    return 0


def cmd_verify(args) -> int:
    from .datasets import list_datasets
    from .verification import verify

    names = args.names or list_datasets()
    reports = [verify(n) for n in names]  # unknown names raise KeyError -> exit 2
    if args.json:
        print(json.dumps({"ok": all(r["ok"] for r in reports), "datasets": reports}, indent=2))
    else:
        for r in reports:
            print(f"{'ok  ' if r['ok'] else 'FAIL'}  {r['name']:<20} {_summary(r['counts'])}")
            for problem in r["problems"]:
                print(f"      {problem}")
    return 0 if all(r["ok"] for r in reports) else 1


def _summary(counts: dict) -> str:
    parts = []
    for key, val in counts.items():
        if isinstance(val, dict):
            val = " ".join(f"{s}={v}" for s, v in val.items())
        parts.append(f"{key}: {val}")
    return "; ".join(parts)


def cmd_fetch(args) -> int:
    """Fetch one dataset or `all`; present ones are skipped unless --force."""
    from .datasets import get_spec, list_datasets

    names = list_datasets() if args.name == "all" else [args.name]
    for name in names:
        get_spec(name)  # unknown names raise KeyError -> exit 2, before any download
    for name in names:
        _fetch_one(name, args.dest, args.force)
    return 0


def _fetch_one(name: str, dest, force: bool) -> None:
    from .datasets import resolve_dataset
    from .fetching import fetch
    from .io import DataError

    if not force:
        try:
            found = resolve_dataset(name)
        except DataError:
            found = None
        if found:
            print(f"{name}: already present ({_where(name)}); --force to re-download")
            return
    for path in fetch(name, dest):
        print(f"wrote {path}")
