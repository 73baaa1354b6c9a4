"""What only a browser sees is caught on pages that have each defect (and not on a clean one)."""
from __future__ import annotations

import pytest

from sparselab.reports import check

pytestmark = pytest.mark.browser

CLEAN = "<!doctype html><html><head><link rel='icon' href='data:,'></head><body>{}</body></html>"


@pytest.fixture(scope="module")
def site(tmp_path_factory, serve_root):
    root = tmp_path_factory.mktemp("site")
    pages = {
        "clean": "<p>fine</p><table><tr><th>a</th></tr><tr><td>1</td></tr></table>",
        "overflow": "<table style='width:2000px'><tr><td>wide</td></tr></table>",
        "scrolled": "<div style='overflow-x:auto;width:600px'><table style='width:900px'>"
                    "<tr><td>hidden</td></tr></table></div>",
        "console": "<script>console.error('bad thing')</script>",
        "exception": "<script>undefinedFunction()</script>",
        "external": "<script src='https://cdn.example.org/x.js'></script>",
        "missing": "<img src='nothere.png'>",
        "stderr": "<div data-mime-type='application/vnd.jupyter.stderr'><pre>x</pre></div>",
    }
    for name, body in pages.items():
        (root / f"{name}.html").write_text(CLEAN.format(body))
    return serve_root(root)


def _problems(chromium, site, name):
    return check.check_visit(chromium.visit(f"{site}{name}.html"))


def test_clean_page_has_no_problems(chromium, site):
    assert _problems(chromium, site, "clean") == []


@pytest.mark.parametrize(("name", "expected"), [
    ("overflow", "horizontal overflow"),
    ("scrolled", "wider than the window"),
    ("console", "console error: bad thing"),
    ("exception", "console error"),
    ("external", "request to another host: https://cdn.example.org/x.js"),
    ("missing", "failed load"),
    ("stderr", "stderr box"),
])
def test_browser_defect_is_caught(chromium, site, name, expected):
    problems = _problems(chromium, site, name)
    assert any(p.startswith(expected) for p in problems), problems
