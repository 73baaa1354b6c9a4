"""Run notebooks with a parameter profile and render their reports."""
from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report_command", metavar="WHAT")
    run = sub.add_parser("run", help="execute notebook(s) and write report folder(s)")
    run.add_argument("notebook", help="'all', a number like 03, or a notebook stem")
    run.add_argument("--profile", default="smoke", choices=["smoke", "full"])
    run.add_argument("--kernel", default="sparselab",
                     help="Jupyter kernel (default: sparselab = this checkout's interpreter)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"),
                     help="override one parameter (VALUE is YAML: 3, false, '[a, b]'); repeatable")
    run.add_argument("-y", "--yaml", action="append", default=[], metavar="YAML",
                     help="override parameters with a YAML mapping, e.g. '{depth: 100}'")
    run.set_defaults(func=_run)
    idx = sub.add_parser("index", help="rewrite the index.html of a reports folder")
    idx.add_argument("--profile", default="full", choices=["smoke", "full"])
    idx.set_defaults(func=_index)
    chk = sub.add_parser("check", help="check every page of a reports folder (headless Chromium)")
    chk.add_argument("root", nargs="?", default=None,
                     help="reports folder (default: reports/ for full, build/reports/ for smoke)")
    chk.add_argument("--profile", default="full", choices=["smoke", "full"])
    chk.add_argument("--no-browser", action="store_true", help="HTML checks only, no Chromium")
    chk.set_defaults(func=_check)
    cmp = sub.add_parser("compare", help="compare two report trees' metrics.json/claims.json "
                                         "within a tolerance (exit 1 on any difference)")
    cmp.add_argument("committed", nargs="?", default="reports", help="reference tree (reports/)")
    cmp.add_argument("fresh", nargs="?", default="build/fresh/reports", help="recomputed tree")
    cmp.add_argument("--atol", type=float, default=None, help="absolute tolerance (0.02)")
    cmp.add_argument("--rtol", type=float, default=None, help="relative tolerance (0.05)")
    cmp.set_defaults(func=_compare)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def overrides(pairs: list[list[str]], yamls: list[str]) -> dict:
    """`-y` mappings then `-p NAME VALUE` pairs (values parsed as YAML), later ones winning."""
    import yaml

    out: dict = {}
    for text in yamls:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"-y {text!r}: not YAML ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise ValueError(f"-y {text!r}: expected a mapping like '{{name: value}}'")  # noqa: TRY004
        out.update(data)
    for name, value in pairs:
        try:
            out[name] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[name] = value  # left as a string; the study's Config parses or rejects it
    return out


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .compare import ATOL, RTOL, compare_trees

    atol = ATOL if args.atol is None else args.atol
    rtol = RTOL if args.rtol is None else args.rtol
    diffs = compare_trees(Path(args.committed), Path(args.fresh), atol, rtol)
    for d in diffs:
        print(d.line())
    tol = f"|fresh - committed| <= {atol:g} + {rtol:g} * |committed|"
    if diffs:
        print(f"{len(diffs)} difference(s) beyond {tol}")
        return 1
    print(f"{args.fresh} agrees with {args.committed}: every metric and claim within {tol}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import sys

    from .execute import NotebookFailed
    from .runner import run_reports

    try:
        paths = run_reports(args.notebook, args.profile, args.kernel,
                            overrides(args.parameter, args.yaml))
    except NotebookFailed as exc:
        print(f"sparselab: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sparselab: interrupted; no report was changed by the unfinished run",
              file=sys.stderr)
        return 130
    for path in paths:
        print(f"wrote {path}")
    return 0


def _index(args: argparse.Namespace) -> int:
    from ..paths import repo_root
    from .index import update_readme, write_index
    from .runner import output_root

    root = output_root(args.profile)
    print(write_index(root))
    if args.profile == "full" and update_readme(repo_root() / "README.md", root):
        print("updated the reports table in README.md")
    return 0


def _check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .check import check_tree
    from .runner import output_root

    root = Path(args.root) if args.root else output_root(args.profile)
    if not root.is_dir():
        print(f"{root}: no such reports folder")
        return 2
    bad = 0
    for page, problems in check_tree(root, use_browser=not args.no_browser).items():
        print(f"{'FAIL' if problems else 'ok  '} {page.relative_to(root)}")
        for p in problems:
            print(f"     {p}")
        bad += bool(problems)
    print(f"{bad} page(s) with problems")
    return 1 if bad else 0
