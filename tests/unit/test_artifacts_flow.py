"""The report runner and artifacts together: full from artifacts, then FRESH=1 beside it.

(Smoke = mode off is covered by test_artifacts: `artifact_mode`, `get_or_build` modes.)
"""
from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from sparselab.artifacts import ArtifactStore
from sparselab.reports import runner
from sparselab.reports.compare import compare_trees

# The notebook's expensive input: counted in a file so the test sees when it was rebuilt.
BODY = """
import os, pathlib
from sparselab.artifacts import get_or_build
from sparselab.reports.writer import ReportWriter
log = pathlib.Path(os.environ['SPARSELAB_ROOT']) / 'builds.log'
def build():
    with open(log, 'a') as fh:
        fh.write('built\\n')
    return {'value': 1 / 3 * x}
out = get_or_build('99_toy/cells', {'x': x}, build, kind='json', command='make report NB=99')
ReportWriter.open('99_toy').add_metrics({'value': out['value'], 'mode': os.environ['SPARSELAB_ARTIFACTS']})
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_ROOT", str(tmp_path))
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path / "nodata"))
    for var in ("SPARSELAB_ARTIFACTS", "SPARSELAB_ARTIFACTS_DIR", "SPARSELAB_REPORTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "README.md").write_text(
        "<!-- reports-table:begin (written by `sparselab report index`) -->\n"
        "<!-- reports-table:end -->\n")
    nbdir = tmp_path / "notebooks"
    (nbdir / "params").mkdir(parents=True)
    params = new_code_cell("x: int = 1  # value")
    params.metadata["tags"] = ["parameters"]
    book = new_notebook(cells=[params, new_code_cell(BODY)])
    book.metadata["language_info"] = {"name": "python"}
    nbformat.write(book, nbdir / "99_toy.ipynb")
    (nbdir / "params" / "99_toy.full.yaml").write_text("x: 3\n")
    return tmp_path


def _builds(root) -> int:
    log = root / "builds.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_full_from_artifacts_then_fresh(toy, monkeypatch):
    store = ArtifactStore(toy / "artifacts")
    runner.run_reports("99", "full")  # no artifact yet: built and saved (mode use)
    assert _builds(toy) == 1 and store.verify().ok and store.entry("99_toy/cells")
    committed = (toy / "reports" / "99_toy" / "metrics.json").read_bytes()
    assert json.loads(committed) == {"value": 1.0, "mode": "use"}
    readme = (toy / "README.md").read_text()
    assert "99_toy" in readme

    runner.run_reports("99", "full")  # from the artifact: not rebuilt, byte-identical metrics
    assert _builds(toy) == 1
    assert (toy / "reports" / "99_toy" / "metrics.json").read_bytes() == committed

    # FRESH=1 (as the Makefile sets it): rebuilt beside, committed files untouched, compared
    manifest = store.manifest_path.read_bytes()
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "fresh")
    monkeypatch.setenv("SPARSELAB_REPORTS_DIR", str(toy / "build" / "fresh" / "reports"))
    (toy / "README.md").write_text(readme)
    runner.run_reports("99", "full")
    assert _builds(toy) == 2 and store.manifest_path.read_bytes() == manifest
    assert (toy / "README.md").read_text() == readme  # the README table is the committed one
    assert ArtifactStore(toy / "build" / "fresh" / "artifacts").entry("99_toy/cells")
    diffs = compare_trees(toy / "reports", toy / "build" / "fresh" / "reports")
    assert [(d.key, d.committed, d.fresh) for d in diffs] == [("mode", "use", "fresh")]

