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
