"""Provenance of a report: code version, parameters, environment, data, machine, wall time."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from ..paths import repo_root

PACKAGES = (
    "sparselab", "torch", "numpy", "scipy", "pandas", "numba", "transformers", "ir-measures",
    "PyStemmer", "matplotlib", "seaborn", "papermill", "nbconvert", "bm25s", "pyseismic-lsr",
)


def git_state(root: Path | None = None) -> dict[str, Any]:
    """Current commit and whether the work tree differs from it."""
    root = root or repo_root()

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], check=False, cwd=root, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    sha = git("rev-parse", "HEAD")
    # reports/ is what the run itself writes (staging folders included): not a code change
    dirty = git("status", "--porcelain", "--", ".", ":(exclude)reports")
    return {"git_sha": sha or None, "git_dirty": bool(dirty) if sha else None}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def data_checksums() -> dict[str, str]:
    """sha256 of every registered dataset file found on this machine (relative path -> hash)."""
    from .. import data
    from ..data.datasets import resolve_dataset
    from ..data.io import sha256_file

    sums: dict[str, str] = {}
    for name in data.list_datasets():
        try:
            files = resolve_dataset(name)
        except data.DataError:  # not on this machine: nothing to record
            continue
        for rel, path in files.items():
            gz = ".gz" if path.suffix == ".gz" else ""
            sums[f"{name}/{rel}{gz}"] = sha256_file(path)
    return sums


def collect(params: dict[str, Any], profile: str, wall_s: float, notebook: str) -> dict[str, Any]:
    """Everything `provenance.json` records."""
    import datetime
    import os

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "notebook": notebook,
        "profile": profile,
        "parameters": params,
        **git_state(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "data_sha256": data_checksums(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_s, 1),
    }
