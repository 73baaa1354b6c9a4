"""What a notebook shows through `ReportWriter`: claims table, setup table, table with CSV link.

Each returns an object IPython displays as HTML (`_repr_html_`), so a notebook cell ends with
one call, e.g. `rep.show_setup(cfg)`; the same HTML builds the claims overview page.
"""
from __future__ import annotations

import ast
import dataclasses
import html
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

VERDICTS = ("agrees", "disagrees", "inconclusive", "untestable")


@dataclasses.dataclass(frozen=True)
class Html:
    """A block of HTML a notebook displays (repr is the text, for plain Python)."""

    text: str

    def _repr_html_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


def fmt(v: Any) -> str:
    """A value as table text: floats to 4 significant digits, None as an en dash."""
    if hasattr(v, "item") and not isinstance(v, list | dict | str):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return ", ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return str(v)


def verdict_counts(claims: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Number of claims per verdict, every verdict listed (0 when absent)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for c in claims:
        v = str(c.get("verdict"))
        counts[v] = counts.get(v, 0) + 1
    return counts


def counts_text(counts: Mapping[str, int]) -> str:
    """`2 agree · 1 disagrees · ...` (plain text, as in the README)."""
    return " · ".join(f"{n} {v}" for v, n in counts.items())


def claims_frame(results: Any, where: str = "results"):
    """The claims table as `sparselab.claims.claims_table` builds it (one row per claim, index
    id; columns claim, paper, ours, n, test, margin, p, verdict, reason, all strings), from
    ClaimResults or claims.json entries; a malformed entry raises naming `where`."""
    from ..claims import claims_table

    try:
        return claims_table(list(results))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from e


def claims_rows_html(frame, study: str | None = None, link: str | None = None) -> list[str]:
    """`<tr>` rows of a claims frame; `study`/`link` add a first cell naming the report."""
    esc = html.escape
    first = ""
    if study is not None:
        first = f'<td><a href="{esc(link)}">{esc(study)}</a></td>' if link else f"<td>{esc(study)}</td>"
    rows = []
    for cid, r in frame.iterrows():
        cells = "".join(
            f'<td class="sl-verdict-{esc(str(v))}">{esc(str(v))}</td>' if col == "verdict"
            else f"<td>{esc(fmt(v))}</td>" for col, v in r.items())
        rows.append(f"<tr>{first}<td>{esc(str(cid))}</td>{cells}</tr>")
    return rows


def claims_table_html(rows: Iterable[str], columns: Iterable[str], with_study: bool = False) -> str:
    """The claims table around rows made by `claims_rows_html` (`columns`: the frame's)."""
    head = "<th>study</th>" if with_study else ""
    head += "<th>id</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    return (f'<table class="sl-claims"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def show_claims(results: Any) -> Html:
    """Claims table of one study (ours beside the paper's number, test, verdict, reason), with
    its verdict counts above it; `results` are the study's ClaimResults (or claims.json dicts)."""
    frame = claims_frame(results)
    counts = counts_text(verdict_counts({"verdict": v} for v in frame["verdict"]))
    table = claims_table_html(claims_rows_html(frame), frame.columns)
    return Html(f'<div class="sl-page-claims"><p><b>Verdicts</b>: {html.escape(counts)}</p>'
                f"{table}</div>")


def parameter_notes(notebook: Path) -> dict[str, str]:
    """`name -> comment` from the `parameters`-tagged cell of a notebook (`x: int = 1  # why`)."""
    if not notebook.exists():
        return {}
    nb = json.loads(notebook.read_text())
    notes = {}
    for cell in nb.get("cells", []):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        for line in "".join(cell.get("source", "")).splitlines():
            code, _, comment = line.partition("  #")
            try:
                node = ast.parse(code.strip()).body[0]
            except (SyntaxError, IndexError):
                continue
            target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
            if isinstance(target, ast.Name) and comment:
                notes[target.id] = comment.strip(" #")
    return notes


def setup_table(cfg: Any, notes: Mapping[str, str] | None = None) -> Html:
    """Every field of a study `Config` with the value this run used (and what it is for)."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"show_setup needs a study Config dataclass, got {type(cfg).__name__}")
    notes = notes or {}
    esc = html.escape
    rows = "".join(
        f"<tr><td><code>{esc(f.name)}</code></td><td>{esc(fmt(getattr(cfg, f.name)))}</td>"
        f"<td>{esc(notes.get(f.name, ''))}</td></tr>" for f in dataclasses.fields(cfg))
    return Html(f'<table class="sl-setup"><thead><tr><th>parameter</th><th>value used</th>'
                f"<th>what it is</th></tr></thead><tbody>{rows}</tbody></table>")


def table_with_link(df: Any, href: str) -> Html:
    """A DataFrame as HTML (every row and column) with a link to its CSV under it."""
    return Html(f"{df.to_html(border=0, notebook=False)}"
                f'<p class="sl-table-link">full table: <a href="{html.escape(href)}">'
                f"{html.escape(href)}</a></p>")
