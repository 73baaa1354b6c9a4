"""claims.json (write, read back) and the claims table of a report page."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..cache import atomic_write_text
from .model import RESULT_KEYS, SIG_DIGITS, VERDICTS, ClaimResult

FILENAME = "claims.json"


def _entries(results: Iterable[ClaimResult | dict]) -> list[dict[str, Any]]:
    """claims.json entries in the given order; duplicate ids or unknown shapes are refused."""
    out, seen = [], set()
    for r in results:
        if isinstance(r, ClaimResult):
            d = r.to_dict()
        elif isinstance(r, dict):
            d = _checked(r, "results")
        else:
            raise TypeError(f"results must hold ClaimResult (or claims.json dicts), got "
                            f"{type(r).__name__}")
        if d["id"] in seen:
            raise ValueError(f"results: duplicate claim id {d['id']!r}")
        seen.add(d["id"])
        out.append(d)
    return out


def _checked(d: dict, where: str) -> dict:
    keys = tuple(d)
    if set(keys) != set(RESULT_KEYS):
        missing = sorted(set(RESULT_KEYS) - set(keys))
        extra = sorted(set(keys) - set(RESULT_KEYS))
        raise ValueError(f"{where}: claim entry {d.get('id')!r} has missing keys {missing}, "
                         f"unexpected keys {extra}")
    if d["verdict"] not in VERDICTS:
        raise ValueError(f"{where}: claim {d['id']!r} has verdict {d['verdict']!r}, not one of "
                         f"{VERDICTS}")
    return {k: d[k] for k in RESULT_KEYS}


def claims_json(results: Iterable[ClaimResult | dict]) -> str:
    """The text of claims.json: a JSON list, keys in RESULT_KEYS order, floats rounded."""
    return json.dumps(_entries(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def save_claims(results: Iterable[ClaimResult | dict], root) -> Path:
    """Write `<root>/claims.json` atomically; `root` is a folder or a ReportWriter.

    The order is the order of `results` (declare claims in a fixed order); floats carry
    SIG_DIGITS significant digits, so a rerun on the same inputs writes the same bytes.
    """
    # a Path has a `.root` attribute too ("/"), so test for paths first
    if isinstance(root, (str, os.PathLike)):
        folder = Path(root)
    elif isinstance(getattr(root, "root", None), (str, os.PathLike)):
        folder = Path(root.root)
    else:
        raise TypeError(f"save_claims(root=...) needs a folder or a ReportWriter, got "
                        f"{type(root).__name__}")
    return atomic_write_text(folder / FILENAME, claims_json(results))


def load_claims(path) -> list[dict[str, Any]]:
    """Read a claims.json (a file or the report folder holding it), checking every entry."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no claims.json (run the study's report)") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None
    if not isinstance(data, list):  # a file's content, not a caller's type: ValueError
        raise ValueError(  # noqa: TRY004
            f"{path}: claims.json must be a JSON list, got {type(data).__name__}")
    return [_checked(d, str(path)) for d in data]


def verdict_counts(results: Iterable[ClaimResult | dict]) -> dict[str, int]:
    """{verdict: count} for every verdict in VERDICTS order (zeros included)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for d in _entries(results):
        counts[d["verdict"]] += 1
    return counts


def _num(x, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}g}"


def _paper(value, source: str) -> str:
    if value is None:
        text = "no number"
    elif isinstance(value, float):
        text = _num(value)
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_num(v) if isinstance(v, float) else str(v) for v in value)
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {_num(v) if isinstance(v, float) else v}" for k, v in value.items())
    else:
        text = str(value)
    return f"{text} ({source})" if source else text


def _margin(hypothesis: str | None, margin) -> str:
    if margin is None:
        return ""
    return f"±{_num(margin)}" if hypothesis == "equivalent" else _num(margin)


def claims_table(results: Sequence[ClaimResult | dict]) -> pd.DataFrame:
    """The claims table of a page: one row per claim, ours beside the paper's number.

    Columns: claim, paper (value and source), ours (estimate [CI]), n, test, margin, p,
    verdict, reason; index: claim id. Cells are strings, so nothing is rounded away later.
    """
    hyps = {r.claim.id: r.claim.hypothesis for r in results if isinstance(r, ClaimResult)}
    rows = []
    for d in _entries(results):
        ours = "" if d["estimate"] is None else \
            f"{_num(d['estimate'])} [{_num(d['ci_low'])}, {_num(d['ci_high'])}]"
        p = d["p_value"]
        rows.append({
            "id": d["id"], "claim": d["claim"], "paper": _paper(d["paper_value"], d["paper_source"]),
            "ours": ours, "n": "" if d["n"] is None else str(d["n"]), "test": d["test"] or "",
            "margin": _margin(hyps.get(d["id"]), d["margin"]),
            "p": "" if p is None else (f"{p:.2g}" if p >= 1e-4 else "<1e-4"),
            "verdict": d["verdict"], "reason": d["reason"],
        })
    cols = ["claim", "paper", "ours", "n", "test", "margin", "p", "verdict", "reason"]
    return pd.DataFrame(rows, columns=["id", *cols]).set_index("id")


__all__ = ["FILENAME", "SIG_DIGITS", "claims_json", "claims_table", "load_claims",
           "save_claims", "verdict_counts"]
