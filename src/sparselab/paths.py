"""Where things live: repository root, data folders, cache and build outputs."""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """Root of the checkout (folder holding pyproject.toml); `$SPARSELAB_ROOT` overrides."""
    env = os.environ.get("SPARSELAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists():
            return parent
    return Path.cwd()


def cache_dir() -> Path:
    """Root of the on-disk cache (`$SPARSELAB_CACHE` or `data/cache/`)."""
    env = os.environ.get("SPARSELAB_CACHE")
    return Path(env).resolve() if env else repo_root() / "data" / "cache"


def build_dir() -> Path:
    """Ignored build outputs: executed notebooks and smoke reports."""
    return repo_root() / "build"


def reports_dir() -> Path:
    """Committed full-profile reports (`$SPARSELAB_REPORTS_DIR` redirects them: FRESH=1)."""
    env = os.environ.get("SPARSELAB_REPORTS_DIR")
    return Path(env).resolve() if env else repo_root() / "reports"
