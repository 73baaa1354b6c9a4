"""The cell format: one JSON file per finished cell under `<cache>/cells/<stage>/`.

A cell is a JSON-able dict of inputs; its file name is a readable slug plus the hash of
`{"format", "stage", "version", "cell"}`, so a change of the study's `version` (or of the cell)
is a different file and stale results are never read. The file holds the cell, its row (the
JSON-able dict the cell function returned) and where/how it ran (`info`: worker, wall time,
thread settings). Files are written with one atomic rename by the process that drives the sweep,
so a worker killed mid-cell leaves nothing behind and two writers of one cell leave one valid
copy (the last rename wins; both copies hold the same row).
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text, stable_hash
from ..paths import cache_dir

FORMAT = 1  # bump when the file layout changes (every cell is then recomputed)
_SLUG_MAX = 80


def stage_dir(stage: str) -> Path:
    """Folder of one stage's cells: `<cache>/cells/<stage>/`."""
    if not stage or not all(c.isalnum() or c in "-_." for c in stage):
        raise ValueError(f"sweep stage {stage!r}: use letters, digits, '-', '_' or '.'")
    return cache_dir() / "cells" / stage


def canonical(cell: Any, where: str = "cell") -> str:
    """Key-sorted JSON of a cell; a value JSON cannot hold raises naming it."""
    if not isinstance(cell, Mapping):
        raise TypeError(f"{where}: a sweep cell must be a dict of inputs, got {type(cell).__name__}")
    try:
        return json.dumps(cell, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: cell is not plain JSON ({exc}): {cell!r}") from None


def cell_key(cell: Mapping, stage: str, version: int) -> str:
    """The 16-hex hash that names a cell's file."""
    return stable_hash({"format": FORMAT, "stage": stage, "version": version,
                        "cell": json.loads(canonical(cell))}, n=16)


def slug(cell: Mapping) -> str:
    """Readable part of a file name: the cell's scalar values in the order the study wrote
    them (`xs-length=64-mqar-...`); the hash after it is what identifies the cell."""
    parts = []
    for k in cell:
        v = cell[k]
        if isinstance(v, bool) or v is None or isinstance(v, (list, dict)):
            continue
        if isinstance(v, float) and math.isfinite(v) and v == int(v):
            v = int(v)
        parts.append(f"{k}={v}" if isinstance(v, (int, float)) else str(v))
    text = "-".join(parts) or "cell"
    safe = "".join(c if c.isalnum() or c in "-_.=" else "-" for c in text)
    return safe[:_SLUG_MAX]


def cell_path(cell: Mapping, stage: str, version: int) -> Path:
    """Where the finished cell lives: `<cache>/cells/<stage>/<slug>-<key>.json`."""
    return stage_dir(stage) / f"{slug(cell)}-{cell_key(cell, stage, version)}.json"


def read_cell(path: Path, cell: Mapping) -> dict | None:
    """The cached row of `cell`, or None when absent or not a valid file for this cell."""
    doc = read_doc(path, cell)
    return None if doc is None else doc["row"]


def read_doc(path: Path, cell: Mapping) -> dict | None:
    """The whole cell file (`row`, `info`, ...) of `cell`, or None when absent or invalid.

    A file whose stored cell differs from `cell` (it cannot happen short of a hash collision or a
    hand edit) or that does not parse is treated as absent, so the cell is recomputed and the
    file replaced.
    """
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("row"), dict):
        return None
    try:
        if canonical(doc.get("cell", {}), str(path)) != canonical(cell):
            return None
    except (TypeError, ValueError):
        return None
    return doc


def write_cell(path: Path, cell: Mapping, stage: str, version: int, row: dict, info: dict) -> Path:
    """Publish a finished cell with one atomic rename (readers see all of it or nothing)."""
    doc = {"format": FORMAT, "stage": stage, "version": version,
           "key": cell_key(cell, stage, version), "cell": dict(cell), "row": row, "info": info}
    return atomic_write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def load_stage(stage: str) -> list[dict]:
    """Every finished cell file of a stage (any version), sorted by file name; for artifacts."""
    folder = stage_dir(stage)
    docs = []
    for p in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            docs.append(json.loads(p.read_text()))
        except ValueError as exc:
            raise ValueError(f"{p}: not a valid cell file ({exc})") from None
    return docs


def relpath(path: Path) -> str:
    """A path relative to the cache root, for messages that should not leak absolute paths."""
    try:
        return os.path.relpath(path, cache_dir())
    except ValueError:
        return str(path)
