"""`reports/index.html`: every study with its headline numbers and date."""
from __future__ import annotations

import html
import json
from pathlib import Path

from ..cache import atomic_write_text


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def collect_rows(root: Path) -> list[dict]:
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[:2].isdigit()):
        prov_p, met_p = folder / "provenance.json", folder / "metrics.json"
        if not prov_p.exists():
            continue
        prov = json.loads(prov_p.read_text())
        metrics = json.loads(met_p.read_text()) if met_p.exists() else {}
        headline = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("headline/")}
        rows.append({
            "study": folder.name, "profile": prov.get("profile"), "sha": (prov.get("git_sha") or "")[:10],
            "dirty": prov.get("git_dirty"), "wall": prov.get("wall_time_s"),
            "date": prov.get("date") or prov.get("finished"), "headline": headline,
            "n_metrics": len(metrics),
        })
    return rows


def write_index(root: Path) -> Path:
    """Write `<root>/index.html` from the report folders under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    body = []
    for r in collect_rows(root):
        heads = "<br>".join(f"{html.escape(k)} = {_fmt(v)}" for k, v in r["headline"].items())
        dirty = " (dirty)" if r["dirty"] else ""
        body.append(
            f"<tr><td><a href='{r['study']}/index.html'>{r['study']}</a></td><td>{heads}</td>"
            f"<td>{r['n_metrics']}</td><td>{r['profile']}</td><td>{_fmt(r['date'])}</td>"
            f"<td><code>{r['sha']}</code>{dirty}</td><td>{_fmt(r['wall'])}</td></tr>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>sparselab reports</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px 8px;
vertical-align:top}}table{{border-collapse:collapse}}</style></head><body>
<h1>sparselab reports</h1>
<p>Each study: its headline numbers (from <code>metrics.json</code>), the profile it ran with, the
date, the commit (from <code>provenance.json</code>) and wall time in seconds.</p>
<table><tr><th>study</th><th>headline</th><th>metrics</th><th>profile</th><th>date (UTC)</th>
<th>commit</th><th>wall s</th></tr>
{''.join(body)}
</table></body></html>
"""
    return atomic_write_text(root / "index.html", page)


README_BEGIN = "<!-- reports-table:begin (written by `sparselab report index`) -->"
README_END = "<!-- reports-table:end -->"


def readme_table(root: Path) -> str:
    """Markdown table of the committed reports (study, headline numbers, date, commit)."""
    lines = ["| study | headline | date (UTC) | commit |", "|---|---|---|---|"]
    for r in collect_rows(root):
        heads = "; ".join(f"{k} = {_fmt(v)}" for k, v in r["headline"].items())
        lines.append(f"| [{r['study']}](reports/{r['study']}/index.html) | {heads} | "
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
