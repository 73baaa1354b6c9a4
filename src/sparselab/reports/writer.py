"""What a notebook writes besides its own cells: figures/ and metrics.json.

The report runner (`sparselab report run`) sets `$SPARSELAB_REPORT_DIR` to a staging folder;
interactive sessions write under `build/interactive/<study>/` instead, so exploring in
JupyterLab never touches a committed report.
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
from ..paths import build_dir

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

    @classmethod
    def open(cls, study: str) -> ReportWriter:
        """The writer of this run; an interactive run starts its metrics afresh.

        (A notebook opens it once, in its first code cell: keys an earlier run wrote, under
        other parameters, must not survive into this run's metrics.json.)
        """
        staged = os.environ.get(ENV)
        root = Path(staged or build_dir() / "interactive" / study)
        (root / "figures").mkdir(parents=True, exist_ok=True)
        if not staged:  # the runner's staging folder is new for every run anyway
            for name in ("metrics.json", "timings.json"):
                (root / name).unlink(missing_ok=True)
        return cls(root)

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

    def save_figure(self, fig, name: str, formats: tuple[str, ...] = ("png",)) -> list[Path]:
        """Save a matplotlib figure as figures/<name>.<fmt>; returns the paths."""
        import io

        paths = []
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight", metadata={"Software": None}
                        if fmt == "png" else None)
            paths.append(atomic_write_bytes(self.root / "figures" / f"{name}.{fmt}", buf.getvalue()))
        return paths

    def save_table(self, df, name: str) -> Path:
        """A table as tables/<name>.csv (for reviewers who diff numbers)."""
        return atomic_write_bytes(self.root / "tables" / f"{name}.csv", df.to_csv(index=True).encode())

    def save_claims(self, results) -> Path:
        """The study's tested claims as claims.json (see `sparselab.claims.save_claims`)."""
        from ..claims import save_claims

        return save_claims(results, self.root)
