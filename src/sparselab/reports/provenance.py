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


def _strings(value: Any):
    """Every string inside a parameter value (lists and dicts walked)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in (*value.keys(), *value.values()):
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def user_collections(params: dict[str, Any], base: Path) -> dict[str, dict[str, str]]:
    """sha256 of the files of every BEIR folder a parameter names by path (a user's own data).

    base: folder relative paths are resolved against (the notebook's, the kernel's cwd).
    Keys are the collections' labels, relative to the working directory (`data.loaders`).
    """
    from ..data.beir import beir_files
    from ..data.io import DataError, sha256_file
    from ..data.loaders import folder_label

    out: dict[str, dict[str, str]] = {}
    for text in _strings(params):
        path = Path(text).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_dir():
            continue
        try:
            files = beir_files(path)
        except DataError:
            continue
        out[folder_label(path)] = {
            f"{rel}{'.gz' if p.suffix == '.gz' else ''}": sha256_file(p) for rel, p in files.items()}
    return out


def collect(params: dict[str, Any], profile: str, wall_s: float, notebook: str,
            base: Path | None = None) -> dict[str, Any]:
    """Everything `provenance.json` records (base: where relative data paths resolve)."""
    import datetime
    import os

    from ..retrieval.search import SELF_HITS  # the one policy of every retriever

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "notebook": notebook,
        "profile": profile,
        "parameters": params,
        **git_state(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "data_sha256": data_checksums(),
        "user_collections_sha256": user_collections(params, base or Path.cwd()),
        "self_hits": SELF_HITS,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "wall_time_s": round(wall_s, 1),
    }
