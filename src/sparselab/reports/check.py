"""Check rendered report pages for what a reader must never see.

`check_html` reads a page's HTML and the files around it (no browser): external resources,
stderr boxes, warnings, progress bars, truncated tables, absolute paths, broken links, missing
navigation or provenance. `check_visit` adds what only a browser shows (`browser.Visit`):
console errors, requests to other hosts, failed loads, horizontal overflow at 1280 px.
`check_tree` runs both over every page of a reports folder (`sparselab report check`).
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .render import RENDERER_VERSION

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
STDERR_ATTR = re.compile(r"""<\w[^<>]*\sdata-mime-type=["']application/vnd\.jupyter\.stderr["']""")
RESOURCE_TAGS = {"script", "img", "link", "iframe", "source", "video", "audio", "embed", "object"}
CSS_REMOTE = re.compile(r"""(url\(\s*["']?\s*(https?:)?//|@import\s+["']?(url\()?\s*["']?(https?:)?//)""")
TRUNCATED = re.compile(r"\d+\s+rows\s+×\s+\d+\s+columns")
ELLIPSIS_CELL = re.compile(r"<t[dh][^>]*>\s*(\.\.\.|…)\s*</t[dh]>")
WARNING = re.compile(r"\b[A-Z]\w*Warning\b|^\s*warnings\.warn\(", re.MULTILINE)
PROGRESS = re.compile(r"\d+%\|[^|\n]{0,80}\|\s*\d+/\d+|\d+(\.\d+)?\s?(it|s)/(s|it)\]")
ABS_PATH = re.compile(r"(?<![\w.~-])/(work|root|home|tmp)/")
REPR_LEAK = re.compile(r"PosixPath\(|WindowsPath\(")
BROWSER_ONLY = {"console error", "request to another host", "failed load", "horizontal overflow",
                "wider than the window", "the page did not finish loading"}
DATA_URI = re.compile(r"data:[\w/+.-]+(;[\w=-]+)*;base64,[A-Za-z0-9+/=\s]+")


# tags that end a run of text; anything else (<wbr>, <b>, <code>) joins its neighbours
BLOCK_TAGS = {"p", "div", "td", "th", "tr", "li", "br", "pre", "h1", "h2", "h3", "h4", "section",
              "table", "ul", "ol", "summary", "details", "nav", "a"}


class _Parser(HTMLParser):
    """Collects (tag, attribute, value) of every link/resource, every id, and visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.links.append((tag, k, v))
            if k in ("id", "name") and v:
                self.ids.add(v)
        if tag in ("style", "script"):
            self._skip += 1
        if tag in BLOCK_TAGS:
            self.text.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1
        if tag in BLOCK_TAGS:
            self.text.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parse(text: str) -> _Parser:
    p = _Parser()
    p.feed(text)
    return p


def is_external(url: str) -> bool:
    """Whether a URL names another host (http(s), ws(s) or protocol-relative, not localhost)."""
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https", "ws", "wss", "ftp") or url.strip().startswith("//"):
        return (parts.hostname or "") not in LOCAL_HOSTS
    return False


def check_text(text: str) -> list[str]:
    """Problems in what the reader sees (visible text of a page)."""
    problems = []
    for what, rx in (("truncated table", TRUNCATED), ("warning", WARNING),
                     ("progress bar", PROGRESS), ("absolute path", ABS_PATH),
                     ("path repr", REPR_LEAK)):
        m = rx.search(text)
        if m:
            start = max(m.start() - 40, 0)
            problems.append(f"{what}: …{' '.join(text[start:m.end() + 40].split())}…")
    return problems


def check_html(page: Path, root: Path, report_page: bool | None = None) -> list[str]:
    """Everything wrong with one page that its HTML and the files under `root` show.

    `report_page` (default: the page sits in a numbered folder) also requires the provenance
    block; every page needs the navigation bar.
    """
    raw = page.read_text(errors="replace")
    text = DATA_URI.sub("data:…", raw)  # base64 images can spell anything
    p = parse(text)
    problems = []
    if report_page is None:
        report_page = page.parent != root and page.parent.name[:2].isdigit()
    if f'content="sparselab-report {RENDERER_VERSION}"' not in text:
        problems.append(f"not rendered by the current report code (sparselab-report "
                        f"{RENDERER_VERSION}): regenerate it")
    if '<nav class="sl-nav"' not in text:
        problems.append("no navigation bar")
    if report_page and 'id="sl-provenance"' not in text:
        problems.append("no provenance summary")
    if report_page:
        saved = [f for f in (page.parent / "figures").glob("*") if f.suffix in (".png", ".svg")]
        shown = len(re.findall(r"<img\s", text))
        if shown < len(saved):  # e.g. a kernel that inherited MPLBACKEND=Agg
            problems.append(f"figures not shown: {len(saved)} saved in figures/, {shown} on the page")
    for tag, attr, url in p.links:
        if is_external(url) and tag in RESOURCE_TAGS:  # an <a href> to a paper is fine
            problems.append(f"external resource: <{tag} {attr}={url!r}>")
    if CSS_REMOTE.search(text):
        problems.append(f"external resource in CSS: {CSS_REMOTE.search(text).group(0)!r}")
    n_err = len(STDERR_ATTR.findall(text))
    if n_err:
        problems.append(f"stderr box(es): {n_err}")
    if ELLIPSIS_CELL.search(text):
        problems.append("truncated table: a row or column of '...' cells")
    problems += check_text(html.unescape("".join(p.text)))
    for attr_what, url in ((f"{t} {a}", u) for t, a, u in p.links):
        if ABS_PATH.search(url) or urlsplit(url).scheme == "file":
            problems.append(f"absolute path in a link: {attr_what}={url!r}")
    problems += broken_links(page, root, p)
    return problems


def broken_links(page: Path, root: Path, parsed: _Parser | None = None) -> list[str]:
    """Local href/src of `page` that do not resolve to a file under `root` (or to an id)."""
    parsed = parsed or parse(DATA_URI.sub("data:…", page.read_text(errors="replace")))
    root = root.resolve()
    out = []
    for tag, attr, url in parsed.links:
        parts = urlsplit(url)
        if parts.scheme or url.startswith("//") or not url.strip():
            continue  # external (judged above), data:, mailto:, javascript:
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root):
            out.append(f"link leaves the report tree: {tag} {attr}={url!r}")
        elif not target.exists():
            out.append(f"broken link: {tag} {attr}={url!r}")
        elif parts.fragment and target.suffix == ".html":
            ids = parsed.ids if target == page.resolve() else parse(target.read_text()).ids
            if not {parts.fragment, unquote(parts.fragment)} & ids:  # browsers try both
                out.append(f"broken anchor: {tag} {attr}={url!r}")
    return out


def check_visit(visit) -> list[str]:
    """Problems only a browser shows, from a `browser.Visit` of a page at 1280 px."""
    problems = []
    if not visit.loaded:
        problems.append("the page did not finish loading")
    problems += [f"console error: {e}" for e in visit.console_errors]
    problems += [f"request to another host: {u}" for u in visit.requests if is_external(u)]
    problems += [f"failed load: {f}" for f in visit.failed]
    snap = visit.snapshot
    if snap.get("scroll_width", 0) > snap.get("viewport", 0):
        problems.append(f"horizontal overflow: page is {snap['scroll_width']} px wide in a "
                        f"{snap['viewport']} px window")
    problems += [f"wider than the window: {w}" for w in snap.get("wide", [])]
    if snap.get("stderr_boxes"):
        problems.append(f"stderr box(es): {snap['stderr_boxes']} rendered")
    problems += check_text(snap.get("text", ""))
    return sorted(set(problems), key=problems.index)


def pages(root: Path) -> list[Path]:
    """Every page of a reports folder: index, claims overview, each report's index.html."""
    out = [p for p in (root / "index.html", root / "claims.html") if p.exists()]
    return out + sorted(root.glob("[0-9][0-9]_*/index.html"))


def check_page(page: Path, root: Path, chrome, base_url: str) -> list[str]:
    """HTML checks of `page`, then what `chrome` (a `browser.Chromium`) shows loading it from
    `base_url` (where `root` is served); a problem both see is listed once."""
    problems = check_html(page, root)
    seen = {p.split(":")[0] for p in problems}
    visit = chrome.visit(base_url + page.relative_to(root).as_posix())
    return problems + [p for p in check_visit(visit)
                       if p.split(":")[0] not in seen or p.split(":")[0] in BROWSER_ONLY]


def check_tree(root: Path, use_browser: bool = True) -> dict[Path, list[str]]:
    """Problems of every page under `root` (HTML checks; with `use_browser`, Chromium's too)."""
    from . import browser

    if not use_browser:
        return {page: check_html(page, root) for page in pages(root)}
    found: dict[Path, list[str]] = {}
    binary = browser.find_chromium()
    if binary is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium, or set "
                           "$SPARSELAB_CHROMIUM); use --no-browser for the HTML checks only")
    server, base = browser.serve(root)
    chrome = browser.Chromium(binary)
    try:
        for page in pages(root):
            found[page] = check_page(page, root, chrome, base)
    finally:
        chrome.close()
        server.shutdown()
    return found
