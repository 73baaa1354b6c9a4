"""Compare two report trees' downstream numbers (`metrics.json`, `claims.json`).

`make reports FRESH=1` recomputes every full report from nothing into `build/fresh/reports/`
and compares it with the committed `reports/` here. Trained weights differ across CPUs and
thread counts, so weights are never compared: the numbers a report states are, within

    |fresh - committed| <= ATOL + RTOL * |committed|     (ATOL = 0.02, RTOL = 0.05)

i.e. two points of accuracy / nDCG, or 5 % of a large value (a loss, an exponent). Strings
(a claim's verdict, test or source) must be equal, as must the set of keys and claims:
a verdict that flips is a difference whatever the tolerance.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ATOL = 0.02
RTOL = 0.05
FILES = ("metrics.json", "claims.json")


@dataclass(frozen=True)
class Difference:
    report: str
    file: str
    key: str
    committed: Any
    fresh: Any

    def line(self) -> str:
        return f"{self.report}/{self.file} {self.key}: committed {self.committed!r}, fresh {self.fresh!r}"


def _close(a: Any, b: Any, atol: float, rtol: float) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool) or not (isinstance(a, num) and isinstance(b, num)):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(b - a) <= atol + rtol * abs(a)


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of nested JSON under dotted keys; list items of claims go by their `id`."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out |= _flatten(v, f"{prefix}{k}.")
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            tag = v.get("id", i) if isinstance(v, dict) else i
            out |= _flatten(v, f"{prefix}[{tag}].")
        return out
    return {prefix.rstrip("."): obj}


def compare_files(committed: Path, fresh: Path, report: str, atol: float = ATOL,
                  rtol: float = RTOL) -> list[Difference]:
    """Differences between two JSON files (a file missing on one side is one difference)."""
    name = committed.name
    if not committed.exists() and not fresh.exists():
        return []
    if not committed.exists() or not fresh.exists():
        return [Difference(report, name, "<file>", committed.exists(), fresh.exists())]
    a, b = _flatten(json.loads(committed.read_text())), _flatten(json.loads(fresh.read_text()))
    return [Difference(report, name, k, a.get(k, "<absent>"), b.get(k, "<absent>"))
            for k in sorted(set(a) | set(b))
            if k not in a or k not in b or not _close(a[k], b[k], atol, rtol)]


def compare_trees(committed: Path, fresh: Path, atol: float = ATOL,
                  rtol: float = RTOL) -> list[Difference]:
    """Differences between each `NN_*` report of the `fresh` root and its committed twin
    (`make report NB=01 FRESH=1` recomputes one report: the others are not compared)."""
    names = sorted(p.name for p in fresh.iterdir() if p.is_dir() and p.name[:2].isdigit()) \
        if fresh.is_dir() else []
    if not names:
        raise FileNotFoundError(f"no NN_* report folders under {fresh}")
    out: list[Difference] = []
    for n in names:
        if not (committed / n).is_dir():
            out.append(Difference(n, "<report>", "<folder>", "<absent>", "present"))
            continue
        for f in FILES:
            out += compare_files(committed / n / f, fresh / n / f, n, atol, rtol)
    return out
