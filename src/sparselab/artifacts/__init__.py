"""Committed expensive inputs of the full reports (`artifacts/` + `MANIFEST.json`).

Studies call `get_or_build(name, config, build_fn, kind=..., command=...)`; the mode
(`$SPARSELAB_ARTIFACTS`: use, update, require, fresh, off) decides whether it loads, builds or
saves. Formats: safetensors checkpoints (fp16/bf16), Parquet or CSV tables, JSON.
`sparselab artifacts verify|list` check and list them. Format of the manifest:
`artifacts/README.md` and `manifest`.
"""
from .build import MODE_ENV, MODES, current_mode, default_mode, get_or_build
from .formats import read, read_checkpoint, write_checkpoint
from .manifest import BUDGET_BYTES, ArtifactError, ArtifactMissing, fingerprint
from .store import ArtifactStore

__all__ = [
    "BUDGET_BYTES", "MODES", "MODE_ENV", "ArtifactError", "ArtifactMissing", "ArtifactStore",
    "current_mode", "default_mode", "fingerprint", "get_or_build", "read", "read_checkpoint",
    "write_checkpoint",
]
