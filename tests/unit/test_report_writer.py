"""ReportWriter's display tools: nothing leaks onto the page, setup and claims render."""
from __future__ import annotations

import dataclasses

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from sparselab.reports import display
from sparselab.reports.writer import ReportWriter


@pytest.fixture
def rep(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_ROOT", str(tmp_path))
    monkeypatch.setenv("SPARSELAB_REPORT_DIR", str(tmp_path / "stage"))
    return ReportWriter.open("99_toy")


def test_saved_files_show_nothing_and_repr_relative(rep):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    saved = rep.save_figure(fig, "f")
    plt.close(fig)
    assert saved._ipython_display_() is None
    assert repr(saved) == "['figures/f.png']" and saved[0].exists()
    t = rep.save_table(pd.DataFrame({"a": [1]}), "t")
    assert repr(t) == "['tables/t.csv']"


def test_open_sets_pandas_to_show_whole_tables(rep):
    html = pd.DataFrame({"a": range(500), **{f"c{i}": 0 for i in range(40)}})._repr_html_()
    assert "rows ×" not in html and "<td>...</td>" not in html and ">499<" in html


def test_show_table_saves_and_links(rep):
    out = rep.show_table(pd.DataFrame({"a": [1, 2]}), "two")._repr_html_()
    assert 'href="tables/two.csv"' in out and (rep.root / "tables" / "two.csv").exists()


@dataclasses.dataclass
class _Cfg:
    alphas: list = dataclasses.field(default_factory=lambda: [0.0, 0.5])
    depth: int = 3


def test_show_setup_lists_every_field_with_value_and_comment(rep, tmp_path):
    cell = new_code_cell("alphas: list = [0.0, 0.5]  # weights to sweep\ndepth: int = 3  # PRF depth")
    cell.metadata["tags"] = ["parameters"]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(new_notebook(cells=[cell]), tmp_path / "notebooks" / "99_toy.ipynb")
    html = rep.show_setup(_Cfg(depth=10))._repr_html_()
    assert "<code>alphas</code></td><td>0, 0.5</td><td>weights to sweep</td>" in html
    assert "<code>depth</code></td><td>10</td><td>PRF depth</td>" in html
    with pytest.raises(TypeError, match="Config dataclass"):
        rep.show_setup({"depth": 1})


def test_show_claims_renders_each_claim_with_counts(rep):
    claims = [{"id": "f1", "claim": "A beats B", "paper_value": 0.7, "paper_source": "Tab. 1",
               "estimate": 0.0312, "ci_low": 0.01, "ci_high": 0.05, "n": 300,
               "test": "paired t", "margin": None, "p_value": 0.004, "verdict": "agrees",
               "reason": "significant in the paper's direction"},
              {"id": "f2", "claim": "A ≈ B", "paper_value": "≈", "paper_source": "§4",
               "estimate": None, "ci_low": None, "ci_high": None, "n": 0, "test": "TOST",
               "margin": 0.02, "p_value": None, "verdict": "untestable", "reason": "1 model"}]
    html = rep.show_claims(claims)._repr_html_()
    assert "1 agrees · 0 disagrees · 0 inconclusive · 1 untestable" in html
    assert "0.0312 [0.01, 0.05]" in html and 'class="sl-verdict-untestable">untestable' in html
    assert "<td>f2</td><td>A ≈ B</td><td>≈ (§4)</td>" in html and "<td>0.02</td>" in html
    with pytest.raises(ValueError, match="results: .*verdict 'maybe'"):
        display.show_claims([{**claims[0], "verdict": "maybe"}])
