"""`sparselab` command line.

Each command lives in its topic module, which exposes `configure(parser)`: it adds its own
arguments (and sub-commands) and sets `func`. Topic modules import heavy libraries (torch,
numba, transformers) inside their handlers so that `sparselab --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

_show_warning = warnings.showwarning

# command -> module, or command -> {sub-command -> module}
COMMANDS: dict[str, str | dict[str, str]] = {
    "data": "sparselab.data.cli",
    "evaluate": "sparselab.retrieval.cli_evaluate",
    "search": "sparselab.retrieval.cli_search",
    "train": "sparselab.models.cli",
    "report": "sparselab.reports.cli",
    "artifacts": "sparselab.artifacts.cli",
    "bench": {
        "bm25": "sparselab.indexes.bench_bm25",
        "attention": "sparselab.attention.bench",
        "nm": "sparselab.sparsity.bench",
    },
}


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:  # not written yet: leave the command out
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparselab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, target in COMMANDS.items():
        if isinstance(target, str):
            mod = _load(target)
            if mod is not None:
                mod.configure(sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0]))
            continue
        group = sub.add_parser(name, help=f"{name} sub-commands")
        gsub = group.add_subparsers(dest=f"{name}_command", metavar="WHAT")
        for subname, module in target.items():
            mod = _load(module)
            if mod is not None:
                p = gsub.add_parser(subname, help=(mod.__doc__ or "").strip().splitlines()[0])
                mod.configure(p)
        group.set_defaults(func=lambda args, g=group: (g.print_help(), 2)[1])
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Our own warnings (e.g. partly judged input) as one `sparselab: warning:` line."""
    if category.__module__.startswith("sparselab"):
        print(f"sparselab: warning: {message}", file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's convention for SIGINT
        print("sparselab: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, FileNotFoundError) as exc:  # bad input: one clear line
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"sparselab: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
