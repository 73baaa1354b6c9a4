"""What a notebook writes and shows besides its own cells: figures/, tables/, metrics.json.

The report runner (`sparselab report run`) sets `$SPARSELAB_REPORT_DIR` to a staging folder;
interactive sessions write under `build/interactive/<study>/` instead, so exploring in
JupyterLab never touches a committed report.

A report page reads as a document, in this order (HOUSE_STYLE, issue 13): the question; a
one-paragraph answer; the claims table; the setup with the values used; results; limitations.
The tools, all on the `rep = ReportWriter.open("NN_name")` a notebook opens first:

- `rep.save_claims(results)` then `rep.show_claims(results)`: claims.json, and the claims table
  (`sparselab.claims.claims_table`: ours with CI beside the paper's number, the test, the
  verdict and its reason) under the verdict counts; `results` are the study's ClaimResults.
- `rep.show_setup(cfg)`: every field of the study's Config with the value this run used and the
  comment of its line in the notebook's parameters cell.
- `rep.show_table(df, "name")`: saves `tables/name.csv` and shows the whole table with a link
  to the CSV under it. `rep.save_table(df, "name")` only saves; every saved table is also
  listed under "Full tables" at the end of the page by the runner.
- `rep.save_figure(fig, "name")`: `figures/name.png`; shows nothing itself (the figure is shown
  by the notebook's inline backend), so it can end a cell.

Code is hidden on the page, so cells that only compute (`res = study.run(cfg)`, the claims)
can sit above the answer and show nothing; write the answer's numbers with an f-string
(`IPython.display.Markdown(f"...")`) so none is typed by hand. Check a rendered folder with
`sparselab report check build/reports` (or `pytest tests/browser --pages build/reports`).

`open` also sets pandas to print every row and column (no "72 rows × 6 columns"). The runner
drops stderr (warnings, tqdm bars, logging) from the page: progress goes to the terminal, and
the executed notebook in `build/executed/` keeps everything for debugging.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import atomic_write_bytes, atomic_write_json
from ..paths import build_dir, repo_root
from . import display

ENV = "SPARSELAB_REPORT_DIR"


# metrics.json must be byte-identical when a report is rebuilt from artifacts: every float is
# rounded to this many significant digits (float-reduction noise across BLAS kernels and
# thread counts sits around the 7th digit of an fp32 result; 6 digits keep what reviewers diff).
METRIC_DIGITS = 6
TIMING_DIGITS = 4  # timings.json: measured wall/CPU times are never compared, only read


def _clean(value: Any, digits: int = METRIC_DIGITS) -> Any:
    """JSON-friendly value: numpy numbers to float/int, NaN/inf to None, floats rounded to
    `digits` significant digits (-0.0 to 0.0); lists and dicts cleaned recursively."""
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple, dict)):
        value = value.tolist()  # numpy/torch scalar -> Python number, array -> list
    if isinstance(value, Mapping):
        return {str(k): _clean(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") + 0.0  # + 0.0 turns -0.0 into 0.0
    return value


@dataclass
class ReportWriter:
    """Collects a study's figures and flat metrics (keys like `ndcg@10/alpha=0.5`)."""

    root: Path

    study: str = ""

    @classmethod
    def open(cls, study: str) -> ReportWriter:
        """The writer of this run (report `study`, e.g. "03_prf_interpolation"); an
        interactive run starts its metrics afresh. Sets pandas to show every row and column
        of a table and figures to draw on the page.

        (A notebook opens it once, in its first code cell: keys an earlier run wrote, under
        other parameters, must not survive into this run's metrics.json.)
        """
        staged = os.environ.get(ENV)
        root = Path(staged or build_dir() / "interactive" / study)
        (root / "figures").mkdir(parents=True, exist_ok=True)
        if not staged:  # the runner's staging folder is new for every run anyway
            for name in ("metrics.json", "timings.json"):
                (root / name).unlink(missing_ok=True)
        show_whole_tables()
        show_figures_inline()
        return cls(root, study)

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.json"

    def metrics(self) -> dict[str, Any]:
        if self.metrics_path.exists():
            return json.loads(self.metrics_path.read_text())
        return {}

    def add_metrics(self, values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """Merge flat metrics into metrics.json (written atomically); returns the whole dict."""
        merged = self.metrics()
        for k, v in values.items():
            merged[f"{prefix}{k}"] = _clean(v)
        atomic_write_json(self.metrics_path, merged)
        return merged

    @property
    def timings_path(self) -> Path:
        return self.root / "timings.json"

    def add_timings(self, values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        """Merge measured times (seconds, rates) into timings.json, kept apart from
        metrics.json so that a rebuild from artifacts gives a byte-identical metrics.json.
        When a report reads timings measured in an expensive run, make those an artifact."""
        merged = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}
        for k, v in values.items():
            merged[f"{prefix}{k}"] = _clean(v, TIMING_DIGITS)
        atomic_write_json(self.timings_path, merged)
        return merged

    def add_headline(self, values: Mapping[str, Any]) -> None:
        """Numbers shown for this study in reports/index.html (also kept in metrics.json)."""
        self.add_metrics({f"headline/{k}": v for k, v in values.items()})

    def save_figure(self, fig, name: str, formats: tuple[str, ...] = ("png",)) -> Saved:
        """Save a matplotlib figure as figures/<name>.<fmt>; returns the paths (shown as nothing)."""
        import io

        paths = []
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata={"Software": None}
                        if fmt == "png" else None)
            paths.append(atomic_write_bytes(self.root / "figures" / f"{name}.{fmt}", buf.getvalue()))
        return Saved(self.root, paths)

    def save_table(self, df, name: str) -> Saved:
        """A table as tables/<name>.csv (for reviewers who diff numbers); shown as nothing."""
        path = atomic_write_bytes(self.root / "tables" / f"{name}.csv", df.to_csv(index=True).encode())
        return Saved(self.root, [path])

    def show_table(self, df, name: str) -> display.Html:
        """Save tables/<name>.csv and show the whole table with a link to the CSV under it."""
        self.save_table(df, name)
        return display.table_with_link(df, f"tables/{name}.csv")

    def show_setup(self, cfg) -> display.Html:
        """Every Config field with the value used and its parameters-cell comment."""
        return display.setup_table(cfg, display.parameter_notes(notebook_of(self.study)))

    def save_claims(self, results) -> Path:
        """The study's tested claims as claims.json (see `sparselab.claims.save_claims`)."""
        from ..claims import save_claims

        return save_claims(results, self.root)

    def show_claims(self, results) -> display.Html:
        """The claims table (ours beside the paper's number, test, verdict, reason)."""
        return display.show_claims(results)


class Saved(tuple):
    """Paths a writer saved. Displays as nothing in a notebook (no `PosixPath(...)` on the
    page) and reprs as paths relative to the report folder."""

    def __new__(cls, root: Path, paths: list[Path]):
        self = super().__new__(cls, paths)
        self.root = root
        return self

    def _ipython_display_(self) -> None:  # the last line of a cell: show nothing
        return None

    def __repr__(self) -> str:
        return repr([str(p.relative_to(self.root)) for p in self])


def show_whole_tables() -> None:
    """pandas prints every row, column and cell in full: a report never truncates a table
    (the CSS wraps wide ones; tables/*.csv keep the numbers)."""
    import pandas as pd

    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)
    pd.set_option("display.show_dimensions", False)


def show_figures_inline() -> None:
    """In a Jupyter kernel, draw figures on the page even when the caller's environment says
    `MPLBACKEND=Agg` (which a kernel inherits and which would silently drop every figure)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and "IPKernelApp" in shell.config:
        shell.run_line_magic("matplotlib", "inline")


def notebook_of(study: str) -> Path:
    """The source notebook of report `study` (notebooks/<study>.ipynb)."""
    return repo_root() / "notebooks" / f"{study}.ipynb"
