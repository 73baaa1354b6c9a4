"""Every notebook executes under papermill with its smoke parameters (slow: minutes)."""
from pathlib import Path

import pytest

from sparselab.reports import runner

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_smoke_parameters(nb):
    out = runner.run_report(nb.stem, "smoke")
    assert (out / "index.html").stat().st_size > 0
    assert (out / "metrics.json").exists() and (out / "provenance.json").exists()
