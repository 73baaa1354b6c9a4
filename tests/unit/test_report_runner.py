"""The report runner: papermill + nbconvert into a staged folder, swapped in atomically."""
from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from sparselab.reports import runner


def _make_repo(root, body: str):
    (root / "pyproject.toml").write_text("")
    nbdir = root / "notebooks"
    (nbdir / "params").mkdir(parents=True)
    params = new_code_cell("x: int = 1  # value")
    params.metadata["tags"] = ["parameters"]
    code = new_code_cell(body)
    book = new_notebook(cells=[params, code])
    book.metadata["language_info"] = {"name": "python"}
    nbformat.write(book, nbdir / "99_toy.ipynb")
    (nbdir / "params" / "99_toy.smoke.yaml").write_text("x: 3\n")


@pytest.fixture
def toy_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_ROOT", str(tmp_path))
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path / "nodata"))
    return tmp_path


def test_report_has_html_metrics_provenance_and_index(toy_root):
    _make_repo(toy_root, "from sparselab.reports.writer import ReportWriter\n"
                         "ReportWriter.open('99_toy').add_headline({'x2': x * 2})\nprint('x is', x)")
    out = runner.run_report("99", "smoke")
    assert out == toy_root / "build" / "reports" / "99_toy"
    assert json.loads((out / "metrics.json").read_text()) == {"headline/x2": 6}
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"] == {"x": 3} and prov["profile"] == "smoke" and prov["wall_time_s"] >= 0
    html = (out / "index.html").read_text()
    assert "x is 3" in html
    index = (toy_root / "build" / "reports" / "index.html").read_text()
    assert "99_toy/index.html" in index and "x2 = 6" in index


def test_failed_notebook_keeps_previous_report(toy_root):
    _make_repo(toy_root, "print('ok')")
    out = runner.run_report("99", "smoke")
    before = (out / "index.html").read_text()
    nb = toy_root / "notebooks" / "99_toy.ipynb"
    book = nbformat.read(nb, as_version=4)
    book.cells[1].source = "raise RuntimeError('boom')"
    nbformat.write(book, nb)
    with pytest.raises(Exception, match="boom"):
        runner.run_report("99", "smoke")
    assert (out / "index.html").read_text() == before
    assert not list(out.parent.glob(".*.tmp"))


def test_unknown_notebook_and_profile_are_named(toy_root):
    _make_repo(toy_root, "print(1)")
    with pytest.raises(ValueError, match="unknown notebook '42'"):
        runner.find_notebook("42")
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        runner.load_params(runner.find_notebook("99"), "fast")


def test_staging_left_by_a_killed_run_is_removed(toy_root):
    _make_repo(toy_root, "print('ok')")
    stale = toy_root / "build" / "reports" / ".99_toy.abc123.tmp"
    stale.mkdir(parents=True)
    other = toy_root / "build" / "reports" / ".98_other.abc123.tmp"
    other.mkdir()
    runner.run_report("99", "smoke")
    assert not stale.exists()
    assert other.exists()  # another report's run may still be writing it


NOISY = """import sys, warnings
import pandas as pd
from tqdm import tqdm
from sparselab.reports.writer import ReportWriter
import matplotlib.pyplot as plt
rep = ReportWriter.open('99_toy')
print('to stderr', file=sys.stderr)
warnings.warn('careful now')
for _ in tqdm(range(3), desc='cells'):
    pass
df = pd.DataFrame({'k': range(80), 'v': [0.5] * 80})
rep.save_table(df, 'long')
fig = plt.figure(); plt.plot([1, 2])
display(rep.save_figure(fig, 'line'))
display(rep.show_table(df.head(3), 'short'))
df
"""


def test_page_has_no_terminal_noise_and_links_its_tables(toy_root, monkeypatch):
    from sparselab.reports import check

    monkeypatch.setenv("MPLBACKEND", "Agg")  # what CI exports; the kernel inherits it
    _make_repo(toy_root, NOISY)
    out = runner.run_report("99", "smoke")
    html = (out / "index.html").read_text()
    for leaked in ("to stderr", "careful now", "cells:", "PosixPath", str(toy_root), "rows ×",
                   'src="http', 'href="http', "<script"):
        assert leaked not in html, leaked
    assert "<td>79</td>" in html.replace("<th>79</th>", "<td>79</td>")  # every row shown
    assert 'href="tables/long.csv"' in html and 'href="tables/short.csv"' in html
    assert '<nav class="sl-nav">' in html and 'id="sl-provenance"' in html
    assert html.count("<img ") == 1  # inline even with MPLBACKEND=Agg in the environment
    assert (out / "tables" / "long.csv").read_text().count("\n") == 81
    # the executed notebook keeps the noise for debugging
    executed = (toy_root / "build" / "executed" / "99_toy.smoke.ipynb").read_text()
    assert "to stderr" in executed and "careful now" in executed
    root = out.parent
    assert check.check_tree(root, use_browser=False) == {
        root / "index.html": [], root / "claims.html": [], out / "index.html": []}


def test_index_and_claims_pages_count_verdicts(toy_root):
    from sparselab.reports import index

    root = toy_root / "reports"
    for name, verdicts in (("01_a", ["agrees", "disagrees", "agrees"]), ("02_b", None)):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "index.html").write_text("<nav class=\"sl-nav\"></nav>")
        (folder / "provenance.json").write_text(json.dumps({"profile": "full", "git_sha": "abc"}))
        (folder / "metrics.json").write_text(json.dumps({"headline/x": 1.5}))
        if verdicts:
            claims = [{"id": f"c{i}", "claim": f"claim {i}", "paper_value": 0.5,
                       "paper_source": "Table 2", "estimate": 0.25, "ci_low": 0.1,
                       "ci_high": 0.4, "n": 30, "test": "TOST", "margin": 0.05,
                       "p_value": 0.01, "verdict": v, "reason": "because"}
                      for i, v in enumerate(verdicts)]
            (folder / "claims.json").write_text(json.dumps(claims))
    index.write_index(root)
    page = (root / "index.html").read_text()
    assert "2 agrees" in page and "1 disagrees" in page and "no claims" in page
    overview = (root / "claims.html").read_text()
    assert overview.count("<tr><td><a href=\"01_a/index.html\">") == 3
    assert "claim 2" in overview and "0.25 [0.1, 0.4]" in overview and "Without claims: 02_b" in overview
    # the nav bar of every page is brought up to date
    assert 'href="../02_b/index.html"' in (root / "01_a" / "index.html").read_text()
    readme = toy_root / "README.md"
    readme.write_text(f"x\n{index.README_BEGIN}\nold\n{index.README_END}\ny\n")
    assert index.update_readme(readme, root)
    text = readme.read_text()
    assert "| 2 agrees · 1 disagrees · 0 inconclusive · 0 untestable |" in text
    assert "| [02_b](reports/02_b/index.html) | – |" in text


def test_expected_time_is_stated_from_recorded_wall_times(toy_root):
    _make_repo(toy_root, "print(1)")
    nb = runner.find_notebook("99")
    assert runner.expected_time([nb], "smoke") == (
        "expected time: unknown (no smoke report recorded a wall time yet)")
    prov = toy_root / "build" / "reports" / "99_toy" / "provenance.json"
    prov.parent.mkdir(parents=True)
    prov.write_text(json.dumps({"wall_time_s": 754.0}))
    assert runner.expected_time([nb], "smoke") == (
        "expected time: about 13 min (99 13 min; as the last smoke reports recorded in "
        "provenance.json)")
