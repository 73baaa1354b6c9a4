"""Every report page, as a reader's browser shows it at 1280 px, offline.

Fails on console errors, requests to other hosts, broken links, truncated tables, stderr boxes,
warnings or progress output, horizontal overflow and leaked absolute paths (see
`sparselab.reports.check`). Runs over reports/ by default; point it elsewhere with
`--pages build/reports` or `SPARSELAB_PAGES=build/reports`.

Every committed page is rendered by the current report code (the last pages from the old
renderer, 01, 02 and 04, were regenerated), so any problem fails the test; a page without the
current `sparselab-report N` generator tag fails too, so a stale render cannot slip in.
"""
from __future__ import annotations

import pytest

from sparselab.reports import check, render

pytestmark = pytest.mark.browser


def test_page(report_page, chromium, serve_root):
    root, page = report_page
    problems = check.check_page(page, root, chromium, serve_root(root))
    if page.name == "index.html" and page.parent != root:  # a study's report page
        tag = f'content="sparselab-report {render.RENDERER_VERSION}"'
        if tag not in page.read_text():
            problems.append(f"rendered by older report code (no {tag}): regenerate it")
    assert not problems, "\n".join([f"{page.relative_to(root)}:", *problems])
