"""Execute a notebook with a parameter profile (papermill) and render its report (nbconvert).

Full profile -> `reports/NN_name/`, smoke -> `build/reports/NN_name/`. The report is built in
a staging folder and swapped in with one rename, so a failed run never corrupts a report.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

from ..artifacts.build import artifact_mode
from ..cache import atomic_dir, atomic_write_json, atomic_write_text
from ..paths import build_dir, repo_root, reports_dir
from . import execute, index, provenance, render
from .execute import KERNEL
from .writer import ENV

PROFILES = ("smoke", "full")


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def list_notebooks() -> list[Path]:
    """Every numbered study notebook, in order."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def find_notebook(which: str) -> Path:
    """`00`, `00_datasets` or a path -> the notebook file; unknown names raise naming them."""
    p = Path(which)
    if p.suffix == ".ipynb" and p.exists():
        return p.resolve()
    for nb in list_notebooks():
        if nb.stem == which or nb.stem.split("_", 1)[0] == which:
            return nb
    known = ", ".join(nb.stem for nb in list_notebooks())
    raise ValueError(f"unknown notebook {which!r}; known: {known}")


def load_params(nb: Path, profile: str) -> dict:
    """Parameters of `profile` from notebooks/params/<stem>.<profile>.yaml."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    path = nb.parent / "params" / f"{nb.stem}.{profile}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no parameter file for profile {profile!r}")
    params = yaml.safe_load(path.read_text()) or {}
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a mapping of parameter names to values")  # noqa: TRY004
    return params


def output_root(profile: str) -> Path:
    return reports_dir() if profile == "full" else build_dir() / "reports"


def render_html(executed: Path, name: str, folder: Path, root: Path, prov: dict) -> str:
    """Page of report `name` under `root` from an executed notebook: code hidden, stderr and
    widgets dropped, nothing fetched online, with navigation, provenance summary and the
    `tables/*.csv` found in `folder` (the staging folder) linked. See `render`."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    return render.render_notebook(nb, name, folder, root, prov)


def run_report(which: str, profile: str = "smoke", kernel: str = KERNEL,
               overrides: dict | None = None) -> Path:
    """Execute one notebook under `profile` (plus `overrides`) and write its report folder.

    Parameters are checked against the study's Config before a kernel starts; a failing cell
    raises `execute.NotebookFailed` (one line) and leaves the previous report untouched.
    """
    nb = find_notebook(which)
    params = {**load_params(nb, profile), **(overrides or {})}
    check_params(nb, params)
    final = output_root(profile) / nb.stem
    clean_stale_staging(final)
    executed = build_dir() / "executed" / f"{nb.stem}.{profile}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    # artifact_mode: full profile reads committed artifacts/, smoke computes from nothing
    with atomic_dir(final, marker=False) as stage, artifact_mode(profile):
        (stage / "figures").mkdir(exist_ok=True)
        with _report_dir(stage):
            execute.execute(nb, executed, params, kernel)
        if not (stage / "metrics.json").exists():
            atomic_write_json(stage / "metrics.json", {})
        prov = provenance.collect(params, profile, time.time() - start, nb.name, nb.parent)
        atomic_write_json(stage / "provenance.json", prov)
        # the page is rendered as `final` (its name, its siblings), from the staged files
        page = render_html(executed, final.name, stage, final.parent, prov)
        atomic_write_text(stage / "index.html", page)
    index.write_index(output_root(profile))
    return final


def run_reports(which: str, profile: str, kernel: str = KERNEL,
                overrides: dict | None = None) -> list[Path]:
    """`all` or one notebook; stops at the first failure (earlier reports stay written)."""
    targets = list_notebooks() if which == "all" else [find_notebook(which)]
    for nb in targets:  # every notebook's parameters are checked before the first one runs
        check_params(nb, {**load_params(nb, profile), **(overrides or {})})
    print(expected_time(targets, profile), file=sys.stderr, flush=True)
    out = []
    for nb in targets:
        print(f"== {nb.stem} [{profile}]", file=sys.stderr, flush=True)
        out.append(run_report(nb.stem, profile, kernel, overrides))
    index.write_index(output_root(profile))
    if profile == "full" and output_root(profile) == repo_root() / "reports":  # not FRESH=1
        index.update_readme(repo_root() / "README.md", output_root(profile))
    return out


def expected_time(targets: list[Path], profile: str) -> str:
    """One line before a run starts: its expected wall time, from the wall times that the last
    reports of this profile recorded in their provenance.json (caches and artifacts change it)."""
    import json

    known, missing = {}, []
    for nb in targets:
        path = output_root(profile) / nb.stem / "provenance.json"
        try:
            known[nb.stem[:2]] = float(json.loads(path.read_text())["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            missing.append(nb.stem[:2])
    if not known:
        return f"expected time: unknown (no {profile} report recorded a wall time yet)"
    parts = ", ".join(f"{k} {_duration(v)}" for k, v in known.items())
    line = (f"expected time: about {_duration(sum(known.values()))} ({parts}; as the last "
            f"{profile} reports recorded in provenance.json")
    return line + (f"; not recorded: {', '.join(missing)})" if missing else ")")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def clean_stale_staging(final: Path) -> None:
    """Remove staging folders a killed run of this report left beside it (`.NN_name.*.tmp`)."""
    if final.parent.exists():
        for tmp in final.parent.glob(f".{final.name}.*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _report_dir(stage: Path):
    """Point `ReportWriter` (in the kernel, which inherits our environment) at `stage`."""
    before = os.environ.get(ENV)
    os.environ[ENV] = str(stage)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def study_config(nb: Path):
    """The Config class of the study a notebook imports as `study` (None if it imports none)."""
    import importlib

    import nbformat

    book = nbformat.read(nb, as_version=4)
    text = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    m = re.search(r"from sparselab\.studies(?:\.(\w+))? import (\w+) as study", text)
    if not m:
        return None
    module = ".".join(p for p in ("sparselab.studies", m.group(1), m.group(2)) if p)
    return getattr(importlib.import_module(module), "Config", None)


def check_params(nb: Path, params: dict) -> None:
    """Validate `params` against the notebook's study Config (unknown names, types) up front."""
    config = study_config(nb)
    if config is not None:
        config.from_overrides(**params)
