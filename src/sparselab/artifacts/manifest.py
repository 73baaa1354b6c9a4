"""The artifact manifest: one JSON file (`artifacts/MANIFEST.json`) and its fingerprints.

Format (documented for readers in `artifacts/README.md`)::

    {
      "format": 1,
      "budget_bytes": 100000000,
      "artifacts": {
        "<name>": {
          "path": "<relative to the manifest's folder>",
          "kind": "checkpoint" | "table" | "table_csv" | "json" | "bytes",
          "sha256": "<hex of the file>", "bytes": <int>,
          "fingerprint": "<sha256 of the canonical {config, version}>",
          "version": <int | str>, "config": {...canonical producing config...},
          "command": "<command that rebuilds it>",
          "commit": "<git sha>", "dirty": <bool>, "wall_s": <float>, "created": "<UTC ISO>"
        }
      }
    }

Updates are read-modify-write under an exclusive `flock` on a lock file beside the manifest,
published with an atomic rename, so two processes saving at once both land.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text

FORMAT = 1
BUDGET_BYTES = 100_000_000  # 100 MB (10^6 bytes) for everything under artifacts/
MANIFEST = "MANIFEST.json"
LOCK = ".MANIFEST.lock"


class ArtifactError(RuntimeError):
    """An artifact that must not be used: missing, corrupted, or made from another config."""


class ArtifactMissing(ArtifactError):
    """The manifest has no entry (or no file) for the artifact."""


def canonical(obj: Any) -> Any:
    """JSON-ready, order-independent form of a config: dataclasses to dicts, tuples/sets to
    lists, paths to strings, numpy scalars to Python numbers. Raises on anything else, so a
    fingerprint never silently depends on a `repr`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return canonical(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(canonical(v) for v in obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalar
        return canonical(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"config value {obj!r} ({type(obj).__name__}) has no canonical JSON form")


def fingerprint(config: Any, version: int | str = 0) -> str:
    """sha256 of the canonical producing config plus a code/protocol version."""
    blob = json.dumps({"config": canonical(config), "version": version}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def empty() -> dict[str, Any]:
    return {"format": FORMAT, "budget_bytes": BUDGET_BYTES, "artifacts": {}}


def read(path: Path) -> dict[str, Any]:
    """The manifest at `path` (an empty one when the file does not exist); bad files raise."""
    if not path.exists():
        return empty()
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
            data.get("artifacts"), dict):
        raise ArtifactError(f"{path}: not a format-{FORMAT} artifact manifest")
    return data


def dumps(data: dict[str, Any]) -> str:
    """Deterministic text of a manifest (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Exclusive lock over the manifest in `root` (blocks until free)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, dumps(data))


def config_diff(old: Any, new: Any, prefix: str = "", limit: int = 6) -> list[str]:
    """Dotted keys whose values differ between two canonical configs (at most `limit`)."""
    out: list[str] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            if k not in old or k not in new:
                out.append(f"{prefix}{k}")
            else:
                out += config_diff(old[k], new[k], f"{prefix}{k}.", limit)
            if len(out) >= limit:
                break
    elif old != new:
        out.append(prefix.rstrip(".") or "<config>")
    return out[:limit]
