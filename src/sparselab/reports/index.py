"""`reports/index.html` (every study: verdict counts, headline numbers, date), the claims
overview `reports/claims.html` (every claim of every study in one table) and the README's
reports table. The same for smoke reports under `build/reports/`."""
from __future__ import annotations

import html
from pathlib import Path

from ..cache import atomic_write_text
from . import render
from .display import (
    claims_frame,
    claims_rows_html,
    claims_table_html,
    counts_text,
    fmt,
    verdict_counts,
)


def collect_rows(root: Path) -> list[dict]:
    """One row per report folder under `root` that has a provenance.json."""
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        prov_p, met_p = folder / "provenance.json", folder / "metrics.json"
        if not prov_p.exists():
            continue
        prov = render.load_json(prov_p, {})
        metrics = render.load_json(met_p, {})
        claims = render.load_json(folder / "claims.json", None)
        headline = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("headline/")}
        rows.append({
            "study": folder.name, "profile": prov.get("profile"), "sha": (prov.get("git_sha") or "")[:10],
            "dirty": prov.get("git_dirty"), "wall": prov.get("wall_time_s"),
            "date": prov.get("date") or prov.get("finished"), "headline": headline,
            "n_metrics": len(metrics), "claims": claims,
            "verdicts": verdict_counts(claims) if claims is not None else None,
        })
    return rows


def _verdict_cell(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "<td>no claims</td>"
    parts = "<br>".join(f'<span class="sl-verdict-{v}">{n} {v}</span>' for v, n in counts.items())
    return f"<td>{parts}</td>"


def write_index(root: Path) -> Path:
    """Write `<root>/index.html` and `<root>/claims.html` from the report folders under `root`
    and bring every page's navigation bar up to date; returns the index."""
    root.mkdir(parents=True, exist_ok=True)
    rows = collect_rows(root)
    body = []
    for r in rows:
        heads = "<br>".join(f"{html.escape(k)} = {html.escape(fmt(v))}" for k, v in r["headline"].items())
        dirty = " (dirty)" if r["dirty"] else ""
        body.append(
            f"<tr><td><a href='{r['study']}/index.html'>{r['study']}</a></td>"
            f"{_verdict_cell(r['verdicts'])}<td>{heads}</td>"
            f"<td>{r['n_metrics']}</td><td>{r['profile']}</td><td>{html.escape(fmt(r['date']))}</td>"
            f"<td><code>{r['sha']}</code>{dirty}</td><td>{html.escape(fmt(r['wall']))}</td></tr>"
        )
    content = f"""<h1>sparselab reports</h1>
<p>Each study: its verdicts on the paper's claims (from <code>claims.json</code>; every claim is
listed in <a href="claims.html">the claims overview</a>), its headline numbers (from
<code>metrics.json</code>), the profile it ran with, the date, the commit (from
<code>provenance.json</code>) and wall time in seconds.</p>
<table><thead><tr><th>study</th><th>claims</th><th>headline</th><th>metrics</th><th>profile</th>
<th>date (UTC)</th><th>commit</th><th>wall s</th></tr></thead><tbody>
{''.join(body)}
</tbody></table>"""
    out = atomic_write_text(root / "index.html", render.page(
        "sparselab reports", content, render.nav_html(root, "index", 0)))
    write_claims_page(root, rows)
    render.refresh_nav(root)
    return out


def write_claims_page(root: Path, rows: list[dict] | None = None) -> Path:
    """`<root>/claims.html`: every claim of every study in one table."""
    rows = collect_rows(root) if rows is None else rows
    rows_html, total, columns = [], {}, None
    for r in rows:
        if r["claims"] is None:
            continue
        for v, n in r["verdicts"].items():
            total[v] = total.get(v, 0) + n
        frame = claims_frame(r["claims"], f"{root / r['study'] / 'claims.json'}")
        columns = frame.columns
        rows_html += claims_rows_html(frame, r["study"], f"{r['study']}/index.html")
    missing = [r["study"] for r in rows if r["claims"] is None]
    summary = (f"<p>All studies together: {html.escape(counts_text(total))}.</p>" if total
               else "<p>No study has a <code>claims.json</code> yet.</p>")
    note = (f"<p>Without claims: {html.escape(', '.join(missing))}.</p>" if missing else "")
    table = claims_table_html(rows_html, columns, with_study=True) if rows_html else ""
    content = f"<h1>Every claim of every study</h1>{summary}{note}{table}"
    return atomic_write_text(root / "claims.html", render.page(
        "sparselab claims", content, render.nav_html(root, "claims", 0)))


README_BEGIN = "<!-- reports-table:begin (written by `sparselab report index`) -->"
README_END = "<!-- reports-table:end -->"


def readme_table(root: Path) -> str:
    """Markdown table of the committed reports (study, verdicts, headline numbers, date, commit)."""
    lines = ["| study | claims | headline | date (UTC) | commit |", "|---|---|---|---|---|"]
    for r in collect_rows(root):
        heads = "; ".join(f"{k} = {fmt(v)}" for k, v in r["headline"].items())
        verdicts = counts_text(r["verdicts"]) if r["verdicts"] is not None else "–"
        lines.append(f"| [{r['study']}](reports/{r['study']}/index.html) | {verdicts} | {heads} | "
                     f"{r['date']} | `{r['sha']}` |")
    return "\n".join(lines)


def update_readme(readme: Path, root: Path) -> bool:
    """Replace the table between the README markers; returns whether the README changed."""
    if not readme.exists():
        return False
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_BEGIN}\n{readme_table(root)}\n{README_END}{tail}"
    if new != text:
        atomic_write_text(readme, new)
    return new != text
