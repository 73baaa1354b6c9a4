"""Check and list the committed artifacts (`artifacts/MANIFEST.json`)."""
from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="artifacts_command", metavar="WHAT")
    ver = sub.add_parser("verify", help="check every artifact against the manifest and the "
                                        "size budget (exit 1 naming each bad one)")
    ver.add_argument("--root", default=None, help="artifacts folder (default: artifacts/)")
    ver.set_defaults(func=_verify)
    ls = sub.add_parser("list", help="one line per artifact: size, wall time, commit, command")
    ls.add_argument("--root", default=None, help="artifacts folder (default: artifacts/)")
    ls.add_argument("--json", action="store_true", help="the manifest entries as JSON")
    ls.set_defaults(func=_list)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _store(args):
    from .store import ArtifactStore

    return ArtifactStore(args.root, writable=False)


def _verify(args: argparse.Namespace) -> int:
    from .manifest import ArtifactError

    store = _store(args)
    try:
        rep = store.verify()
    except ArtifactError as exc:
        print(f"sparselab artifacts: {exc}", file=sys.stderr)
        return 1
    for line in rep.problems:
        print(f"BAD  {line}", file=sys.stderr)
    total = (f"{rep.n} artifacts, {rep.total_bytes / 1e6:.2f} MB of the "
             f"{rep.budget_bytes / 1e6:.0f} MB budget ({store.manifest_path})")
    if rep.ok:
        print(f"ok: {total}")
        return 0
    print(f"{len(rep.problems)} problem(s): {total}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    entries = _store(args).entries()
    if args.json:
        print(json.dumps(entries, indent=2, sort_keys=True))
        return 0
    for name, e in sorted(entries.items()):
        print(f"{name}  [{e['kind']}] {e['bytes'] / 1e6:.2f} MB  {e['wall_s']:.0f} s  "
              f"{(e.get('commit') or '?')[:10]}  {e['command']}")
    print(f"{len(entries)} artifacts, {sum(e['bytes'] for e in entries.values()) / 1e6:.2f} MB")
    return 0
