"""HTML of a report page, made to be read as a document and opened offline.

The executed notebook (kept as is in `build/executed/` for debugging) is cleaned of terminal
noise (stderr streams: warnings, tqdm bars, logging; widget views) and rendered with the
`sparselab` nbconvert template: the lab template without require.js, MathJax, mermaid or the
widget manager (all fetched from CDNs, none needed here), plus the page chrome every sparselab
page shares: a navigation bar (index, claims overview, every report), a provenance summary and
a list of the full tables (`tables/*.csv`) the notebook saved.
"""
from __future__ import annotations

import copy
import csv
import html
import json
import re
from pathlib import Path
from typing import Any

from ..cache import atomic_write_text

TEMPLATES = Path(__file__).parent / "templates"
RENDERER_VERSION = "2"  # in <meta name="generator">: pages made by older code lack it
NAV_RE = re.compile(r'<nav class="sl-nav".*?</nav>', re.DOTALL)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# a table cell holding plain text long enough to widen its column
LONG_CELL = re.compile(r"(<t[dh](?:\s[^<>]*)?>)([^<>]{16,})(?=</t[dh]>)")
BREAK_AFTER = re.compile(r"([_/=,|])(?=\S)")


def css() -> str:
    """The stylesheet every sparselab page inlines (no external requests)."""
    return (TEMPLATES / "report.css").read_text()


def report_folders(root: Path) -> list[str]:
    """Names of the numbered report folders under `root` that hold a page."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and p.name[:2].isdigit() and (p / "index.html").exists())


def nav_html(root: Path, current: str, depth: int) -> str:
    """Navigation bar: index, claims overview and every report under `root`.

    `current` is "index", "claims" or a report folder name (listed even before it exists, as
    while its own page is being rendered); `depth` is how far the page sits below `root`.
    """
    up = "../" * depth
    names = sorted(set(report_folders(root)) | ({current} - {"index", "claims"}))
    items = [("index", f"{up}index.html", "all reports"),
             ("claims", f"{up}claims.html", "all claims")]
    items += [(n, f"{up}{n}/index.html", n) for n in names]
    links = "".join(
        f'<a href="{href}"{" class=sl-current" if key == current else ""}>{html.escape(label)}</a>'
        for key, href, label in items)
    return f'<nav class="sl-nav">{links}</nav>'


def refresh_nav(root: Path) -> list[Path]:
    """Rewrite the navigation bar of every page under `root` whose bar is out of date.

    Pages rendered before a sibling report existed would otherwise miss the link to it. A page
    without a sparselab bar (rendered by older code) is left alone. Returns the pages changed.
    """
    changed = []
    pages = [(root / "index.html", "index", 0), (root / "claims.html", "claims", 0)]
    pages += [(root / n / "index.html", n, 1) for n in report_folders(root)]
    for page, current, depth in pages:
        if not page.exists():
            continue
        text = page.read_text()
        bar = nav_html(root, current, depth)
        new = NAV_RE.sub(lambda _, bar=bar: bar, text, count=1)
        if new != text:
            atomic_write_text(page, new)
            changed.append(page)
    return changed


def _fmt_wall(s: Any) -> str:
    if not isinstance(s, int | float):
        return "?"
    return f"{s:.0f} s" if s < 600 else f"{s / 60:.1f} min"


def provenance_html(prov: dict[str, Any]) -> str:
    """Provenance summary (commit, dirty flag, date, CPU, wall time, profile, data checksums).

    One line, unfolding into every package version and data file checksum.
    """
    esc = html.escape
    sha = (prov.get("git_sha") or "unknown")[:10]
    dirty = {True: "uncommitted changes", False: "clean", None: "no git"}[prov.get("git_dirty")]
    cpu = f"{prov.get('cpu', '?')} ({prov.get('cpu_count', '?')} CPUs)"
    line = (f"<b>Provenance</b>: profile <b>{esc(str(prov.get('profile')))}</b> · commit "
            f"<code>{esc(sha)}</code> ({dirty}) · {esc(str(prov.get('date')))} UTC · wall time "
            f"{_fmt_wall(prov.get('wall_time_s'))} · {esc(cpu)}")
    rows = [("python", prov.get("python")), ("platform", prov.get("platform"))]
    rows += [(f"package {k}", v) for k, v in sorted((prov.get("packages") or {}).items())]
    sums = sorted((prov.get("data_sha256") or {}).items())
    rows += [(f"sha256 {k}", f"<code>{esc(v)}</code>") for k, v in sums]
    body = "".join(f"<tr><th>{esc(str(k))}</th><td>{v if str(k).startswith('sha256') else esc(str(v))}"
                   f"</td></tr>" for k, v in rows)
    return (f'<section class="sl-prov" id="sl-provenance"><details><summary>{line} · '
            f'{len(sums)} data files checksummed</summary><table>{body}</table>'
            f'<p>All of it is in <a href="provenance.json">provenance.json</a>.</p>'
            f'</details></section>')


def tables_html(folder: Path) -> str:
    """"Full tables" list linking every `tables/*.csv` of a report folder ('' when none)."""
    files = sorted((folder / "tables").glob("*.csv")) if (folder / "tables").is_dir() else []
    if not files:
        return ""
    items = []
    for f in files:
        with f.open(newline="") as fh:
            n = max(sum(1 for _ in csv.reader(fh)) - 1, 0)  # minus the header line
        items.append(f'<li><a href="tables/{html.escape(f.name)}">{html.escape(f.name)}</a> '
                     f'({n} rows)</li>')
    return (f'<section class="sl-tables" id="sl-tables"><b>Full tables</b> (CSV, every row and '
            f'column):<ul>{"".join(items)}</ul></section>')


def soft_breaks(page_html: str) -> str:
    """Let long table-cell labels (`pipeline/partner/prf(k, a, b)`, `finding_3_decode`) wrap
    after `_ / = , |` (a `<wbr>`), so a column needs no more width than its longest piece;
    numbers and short cells are left as they are."""
    return LONG_CELL.sub(lambda m: m.group(1) + BREAK_AFTER.sub(r"\1<wbr>", m.group(2)), page_html)


def clean_notebook(nb):
    """Copy of an executed notebook without terminal noise: stderr streams (warnings, tqdm,
    logging) and widget views (tqdm.auto bars). The executed file itself is not changed."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        cell.outputs = [o for o in cell.get("outputs", []) if not _noise(o)]
    nb.metadata.pop("widgets", None)
    return nb


def _noise(output) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr"
    return WIDGET_MIME in output.get("data", {})


def render_notebook(nb, name: str, folder: Path, root: Path, prov: dict[str, Any]) -> str:
    """HTML of an executed notebook (code hidden) as report `name` under `root`; `folder`
    holds its files (the staging folder while the runner builds it)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="sparselab", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    chrome = {
        "version": RENDERER_VERSION, "css": css(),
        "header": nav_html(root, name, 1) + provenance_html(prov),
        "footer": tables_html(folder),
    }
    body, _ = exporter.from_notebook_node(clean_notebook(nb), resources={"sparselab": chrome})
    return soft_breaks(body)


def page(title: str, body: str, nav: str) -> str:
    """A standalone sparselab page (index, claims overview) sharing the reports' chrome."""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">'
            f'<meta name="generator" content="sparselab-report {RENDERER_VERSION}">'
            f'<link rel="icon" href="data:,">'
            f'<title>{html.escape(title)}</title><style>{css()}</style></head><body>{nav}'
            f'<main class="sl-page">{soft_breaks(body)}</main></body></html>\n')


def load_json(path: Path, default: Any) -> Any:
    """`path` parsed, or `default` when it does not exist."""
    return json.loads(path.read_text()) if path.exists() else default
