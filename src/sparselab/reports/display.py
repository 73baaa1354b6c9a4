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
CLAIM_KEYS = ("id", "claim", "paper_value", "paper_source", "estimate", "ci_low", "ci_high", "n",
              "test", "margin", "p_value", "verdict", "reason")


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


def claim_dicts(results: Any) -> list[dict[str, Any]]:
    """Claims as claims.json-shaped dicts, from a list of dicts, dataclasses, objects with
    `to_dict()`, or a DataFrame with those columns."""
    if hasattr(results, "to_dict") and hasattr(results, "columns"):  # a DataFrame
        return [dict(r) for r in results.reset_index(drop=True).to_dict("records")]
    out = []
    for r in results:
        if isinstance(r, Mapping):
            out.append(dict(r))
        elif dataclasses.is_dataclass(r):
            out.append(dataclasses.asdict(r))
        elif hasattr(r, "to_dict"):
            out.append(dict(r.to_dict()))
        else:
            raise TypeError(f"cannot show {type(r).__name__} as a claim: give dicts with keys "
                            f"{', '.join(CLAIM_KEYS)}")
    return out


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


def claim_row_html(c: Mapping[str, Any], study: str | None = None, link: str | None = None) -> str:
    """One claims-table row: ours (estimate, CI, n) beside the paper's number, test, verdict.

    `study`/`link` add a first cell naming (and linking) the report the claim is from.
    """
    esc = html.escape
    ci = (f" [{fmt(c.get('ci_low'))}, {fmt(c.get('ci_high'))}]"
          if c.get("ci_low") is not None or c.get("ci_high") is not None else "")
    margin = f"; margin {fmt(c.get('margin'))}" if c.get("margin") is not None else ""
    verdict = str(c.get("verdict"))
    first = ""
    if study is not None:
        first = f'<td><a href="{esc(link)}">{esc(study)}</a></td>' if link else f"<td>{esc(study)}</td>"
    return (
        f"<tr>{first}<td>{esc(fmt(c.get('id')))}</td><td>{esc(fmt(c.get('claim')))}</td>"
        f"<td>{esc(fmt(c.get('paper_value')))}<br><small>{esc(fmt(c.get('paper_source')))}"
        f"</small></td><td>{esc(fmt(c.get('estimate')))}{esc(ci)}<br><small>n = "
        f"{esc(fmt(c.get('n')))}</small></td><td>{esc(fmt(c.get('test')))}{esc(margin)}"
        f"<br><small>p = {esc(fmt(c.get('p_value')))}</small></td>"
        f'<td class="sl-verdict-{esc(verdict)}">{esc(verdict)}</td>'
        f"<td>{esc(fmt(c.get('reason')))}</td></tr>")


def claims_table_html(rows: Iterable[str], with_study: bool = False) -> str:
    """The claims table around rows made by `claim_row_html`."""
    head = "<th>study</th>" if with_study else ""
    return (f'<table class="sl-claims"><thead><tr>{head}<th>id</th><th>claim</th>'
            f"<th>paper</th><th>ours (95 % CI)</th><th>test</th><th>verdict</th><th>reason</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def show_claims(results: Any) -> Html:
    """Claims table of one study, with its verdict counts above it.

    `results` is what the study's claims produce; the claims layer's `claims_table` turns it
    into rows when it exists. Rows with the claims.json keys get this module's table; any other
    table it returns is shown as it is.
    """
    try:
        from ..claims import claims_table  # type: ignore[attr-defined]
    except ImportError:  # no claims layer: results are claims.json-shaped already
        claims_table = None
    table = claims_table(results) if claims_table else results
    if hasattr(table, "columns") and not {"claim", "verdict"} <= set(table.columns):
        return Html(table.to_html(border=0))
    entries = claim_dicts(table)
    counts = counts_text(verdict_counts(entries))
    return Html(f'<div class="sl-page-claims"><p><b>Verdicts</b>: {html.escape(counts)}</p>'
                f"{claims_table_html(claim_row_html(c) for c in entries)}</div>")


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
