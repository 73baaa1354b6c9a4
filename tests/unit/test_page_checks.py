"""The page checker catches every defect it exists for (and passes a clean page).

HTML-level checks, no browser: tests/browser/ covers what only Chromium sees (overflow, console
errors, requests) on defect pages too.
"""
from __future__ import annotations

import pytest

from sparselab.reports import check, render

CLEAN_BODY = (
    '<h1 id="q">Question</h1><p>Answer, see <a href="#q">above</a>, the '
    '<a href="tables/main.csv">main table</a> and <a href="https://arxiv.org/abs/2504.17768">'
    "the paper</a>.</p><table><tr><th>a</th></tr><tr><td>1</td></tr></table>"
    '<img src="figures/f.png"><img src="data:image/png;base64,L3dvcmsvL3RtcC8=">'
)
PROV = '<section class="sl-prov" id="sl-provenance">commit abc</section>'


def _site(tmp_path, body: str, head: str = "", prov: str = PROV):
    """A reports tree with one report page `01_x/index.html` holding `body`."""
    root = tmp_path / "reports"
    folder = root / "01_x"
    (folder / "tables").mkdir(parents=True)
    (folder / "figures").mkdir()
    (folder / "tables" / "main.csv").write_text("a\n1\n")
    (folder / "figures" / "f.png").write_bytes(b"png")
    (root / "index.html").write_text("index")
    (root / "claims.html").write_text("claims")
    nav = render.nav_html(root, "01_x", 1)
    page = folder / "index.html"
    page.write_text(
        f'<!doctype html><html><head><meta name="generator" content="sparselab-report '
        f'{render.RENDERER_VERSION}">{head}<style>.x[data-mime-type="application/vnd.jupyter.'
        f'stderr"] {{color: red}}</style></head><body>{nav}{prov}{body}</body></html>')
    return root, page


def test_a_clean_page_passes(tmp_path):
    root, page = _site(tmp_path, CLEAN_BODY)
    assert check.check_html(page, root) == []


STDERR_BOX = ('<div class="jp-RenderedText jp-OutputArea-output" '
              'data-mime-type="application/vnd.jupyter.stderr"><pre>oops</pre></div>')


@pytest.mark.parametrize(("defect", "expected"), [
    (STDERR_BOX, "stderr box"),
    ("<pre>/x/y.py:3: UserWarning: careful</pre>", "warning"),
    ("<pre>runs:  40%|████      | 4/10 [00:01&lt;00:02,  2.50it/s]</pre>", "progress bar"),
    (("<script src='https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js'>"
      "</script>"), "external resource"),
    ('<link rel="stylesheet" href="//fonts.example.org/a.css">', "external resource"),
    ('<img src="http://example.org/x.png">', "external resource"),
    ("<style>@import url(https://fonts.example.org/a.css);</style>", "external resource in CSS"),
    ("<table><tr><td>1</td></tr><tr><td>...</td></tr><tr><td>9</td></tr></table>",
     "truncated table"),
    ("<p>72 rows × 6 columns</p>", "truncated table"),
    ("<pre>[PosixPath('figures/a.png')]</pre>", "path repr"),
    ("<pre>saved to /work/main/reports/x.png</pre>", "absolute path"),
    ("<pre>cache in /root/.cache/x</pre>", "absolute path"),
    ("<pre>/home/me/data</pre>", "absolute path"),
    ("<pre>/tmp/abc.tmp/figures</pre>", "absolute path"),
    ("<table><tr><td>/<wbr>work/<wbr>main/x</td></tr></table>", "absolute path"),
    ('<a href="file:///etc/passwd">x</a>', "absolute path in a link"),
    ('<a href="tables/missing.csv">x</a>', "broken link"),
    ('<img src="figures/missing.png">', "broken link"),
    ('<a href="#nowhere">x</a>', "broken anchor"),
    ('<a href="../../outside.html">x</a>', "link leaves the report tree"),
])
def test_each_defect_is_caught(tmp_path, defect, expected):
    root, page = _site(tmp_path, CLEAN_BODY + defect)
    problems = check.check_html(page, root)
    assert any(p.startswith(expected) for p in problems), problems


def test_missing_chrome_and_old_renderer_are_caught(tmp_path):
    root, page = _site(tmp_path, CLEAN_BODY, prov="")
    assert "no provenance summary" in check.check_html(page, root)
    page.write_text(page.read_text().replace('<nav class="sl-nav"', "<div "))
    assert "no navigation bar" in check.check_html(page, root)
    page.write_text(page.read_text().replace("sparselab-report", "nbconvert"))
    assert any(p.startswith("not rendered by the current") for p in check.check_html(page, root))


def test_saved_figures_missing_from_the_page_are_caught(tmp_path):
    root, page = _site(tmp_path, CLEAN_BODY)
    (page.parent / "figures" / "g.png").write_bytes(b"png")  # 2 saved, 2 <img> (one base64)
    assert check.check_html(page, root) == []
    (page.parent / "figures" / "h.png").write_bytes(b"png")
    assert any(p.startswith("figures not shown") for p in check.check_html(page, root))


def test_css_stderr_selector_and_base64_images_are_not_defects(tmp_path):
    # the lab CSS names the stderr mime type in a selector; base64 can spell "/work/"
    root, page = _site(tmp_path, CLEAN_BODY + '<img src="data:image/png;base64,AAAA/work/tmp/">')
    assert check.check_html(page, root) == []


def test_visit_problems_are_reported():
    from sparselab.reports.browser import Visit

    v = Visit("http://127.0.0.1:1/x.html", loaded=True,
              requests=["http://127.0.0.1:1/x.html", "https://cdn.example.org/a.js"],
              failed=["http://127.0.0.1:1/f.png: HTTP 404"],
              console_errors=["Uncaught ReferenceError: require is not defined"],
              snapshot={"scroll_width": 1400, "viewport": 1280, "wide": ["table 1400px: a b"],
                        "text": "10 rows × 3 columns", "stderr_boxes": 1})
    problems = check.check_visit(v)
    for kind in ("console error", "request to another host: https://cdn.example.org/a.js",
                 "failed load", "horizontal overflow", "wider than the window", "stderr box",
                 "truncated table"):
        assert any(kind in p for p in problems), (kind, problems)
    assert not any("127.0.0.1:1/x.html" in p and "another host" in p for p in problems)
    ok = Visit("u", loaded=True, snapshot={"scroll_width": 1280, "viewport": 1280, "text": "fine"})
    assert check.check_visit(ok) == []
