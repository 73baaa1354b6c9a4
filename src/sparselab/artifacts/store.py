"""`ArtifactStore`: committed expensive inputs under `artifacts/`, checked on every load.

An artifact is one file named by a slash-separated `name` (e.g.
`01_sparse_attention/models/xs-L64_128_256-4000steps-seed0`), stored at `<name><suffix>`
under the store's root and listed in the root's `MANIFEST.json` (see `manifest`).
`load` refuses a file whose bytes, sha256 or producing-config fingerprint differ from the
manifest, with an `ArtifactError` that names the artifact and the command that rebuilds it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import manifest as mf
from .manifest import ArtifactError, ArtifactMissing

ROOT_ENV = "SPARSELAB_ARTIFACTS_DIR"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.=+-]*(/[A-Za-z0-9_][A-Za-z0-9_.=+-]*)*$")
_KEEP = {mf.MANIFEST, "README.md"}  # files of the root that are not artifacts


def default_root() -> Path:
    """`$SPARSELAB_ARTIFACTS_DIR`, else `artifacts/` of the checkout."""
    from ..paths import repo_root

    env = os.environ.get(ROOT_ENV)
    return Path(env).resolve() if env else repo_root() / "artifacts"


def rebuild_hint(entry: dict[str, Any] | None, fallback: str | None = None) -> str:
    """The command that rebuilds an artifact (stale ones are replaced in `update` mode)."""
    cmd = (entry or {}).get("command") or fallback
    return f"SPARSELAB_ARTIFACTS=update {cmd}" if cmd else "(no producing command recorded)"


def _git() -> tuple[str | None, bool | None]:
    from ..reports.provenance import git_state

    st = git_state()
    return st["git_sha"], st["git_dirty"]


@dataclass
class VerifyReport:
    """Outcome of `ArtifactStore.verify`: one line per problem, and the total size."""

    problems: list[str] = field(default_factory=list)
    total_bytes: int = 0
    budget_bytes: int = mf.BUDGET_BYTES
    n: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class ArtifactStore:
    """Artifacts under `root` (default `artifacts/`) with their manifest.

    Args:
        root: folder holding `MANIFEST.json` and the files.
        writable: False refuses `save` (a read-only view).
    """

    def __init__(self, root: str | Path | None = None, writable: bool = True):
        self.root = Path(root) if root is not None else default_root()
        self.writable = writable

    @property
    def manifest_path(self) -> Path:
        return self.root / mf.MANIFEST

    def entries(self) -> dict[str, dict[str, Any]]:
        return mf.read(self.manifest_path)["artifacts"]

    def entry(self, name: str) -> dict[str, Any] | None:
        return self.entries().get(name)

    def path(self, name: str, suffix: str = "") -> Path:
        """Where artifact `name` lives (from the manifest when listed)."""
        e = self.entry(name)
        return self.root / (e["path"] if e else f"{_check_name(name)}{suffix}")

    def problem(self, name: str, config: Any = None, version: int | str = 0,
                check_config: bool = True) -> str | None:
        """Why artifact `name` cannot be used (None when it can). Checks existence, bytes,
        sha256 and — when `check_config` — the fingerprint of (`config`, `version`)."""
        e = self.entry(name)
        if e is None:
            return f"artifact {name!r}: not in {self.manifest_path}"
        f = self.root / e["path"]
        where = f"artifact {name!r} ({e['path']})"
        if not f.resolve().is_relative_to(self.root.resolve()):
            return f"{where}: path leaves {self.root} (edited manifest?)"
        if not f.is_file():
            return f"{where}: file missing"
        size = f.stat().st_size
        if size != e["bytes"]:
            return f"{where}: {size} bytes, manifest says {e['bytes']} (corrupted or replaced)"
        digest = mf.sha256_file(f)
        if digest != e["sha256"]:
            return (f"{where}: sha256 {digest[:12]}... does not match the manifest's "
                    f"{e['sha256'][:12]}... (corrupted or edited)")
        if check_config and mf.fingerprint(config, version) != e["fingerprint"]:
            changed = mf.config_diff({"config": e.get("config"), "version": e.get("version")},
                                     {"config": mf.canonical(config), "version": version})
            return (f"{where}: made from another configuration (changed: "
                    f"{', '.join(changed) or 'fingerprint'})")
        return None

    def load(self, name: str, config: Any, version: int | str = 0) -> Path:
        """Path of a verified artifact; raises `ArtifactError` (naming the artifact and its
        rebuild command) when it is missing, corrupted or made from another config."""
        why = self.problem(name, config, version)
        if why is None:
            return self.root / self.entry(name)["path"]
        e = self.entry(name)
        missing = e is None or not (self.root / e["path"]).is_file()
        raise (ArtifactMissing if missing else ArtifactError)(f"{why}; rebuild with: {rebuild_hint(e)}")

    def save(self, name: str, src: str | Path | bytes, config: Any, command: str,
             wall_s: float, version: int | str = 0, kind: str = "bytes",
             suffix: str | None = None) -> Path:
        """Publish `src` (a file or bytes) as artifact `name` and record it in the manifest.

        The file is staged beside its target and renamed into place, and the manifest
        rewritten, under one lock: concurrent saves never leave a manifest that disagrees
        with a file. A rebuilt artifact replaces the old one at the same path.
        """
        if not self.writable:
            raise ArtifactError(f"artifact {name!r}: this store ({self.root}) is read-only")
        _check_name(name)
        if not command:
            raise ValueError(f"artifact {name!r}: `command` (how to rebuild it) is required")
        if isinstance(src, (str, Path)):
            src = Path(src)
            suffix = src.suffix if suffix is None else suffix
            data = src.read_bytes()
        else:
            data = bytes(src)
        rel = f"{name}{suffix or ''}"
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        sha, commit_dirty = hashlib.sha256(data).hexdigest(), _git()
        entry = {
            "path": rel, "kind": kind, "sha256": sha, "bytes": len(data),
            "fingerprint": mf.fingerprint(config, version), "version": version,
            "config": mf.canonical(config), "command": command, "commit": commit_dirty[0],
            "dirty": commit_dirty[1], "wall_s": round(float(wall_s), 1),
            "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        try:
            with mf.locked(self.root):
                data_m = mf.read(self.manifest_path)
                old = data_m["artifacts"].get(name)
                if (old and old["path"] == rel and old["sha256"] == sha and final.is_file()
                        and old["fingerprint"] == entry["fingerprint"]):
                    return final  # same bytes from the same config: keep the entry (no churn)
                os.replace(tmp, final)
                if old and old["path"] != rel:  # same name, other format: drop the old file
                    (self.root / old["path"]).unlink(missing_ok=True)
                data_m["artifacts"][name] = entry
                mf.write(self.manifest_path, data_m)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return final

    def verify(self) -> VerifyReport:
        """Check every listed artifact's file (bytes, sha256), files not listed, and the
        size budget. Config fingerprints are checked at load time, where the config is known."""
        data = mf.read(self.manifest_path)
        rep = VerifyReport(budget_bytes=int(data.get("budget_bytes", mf.BUDGET_BYTES)))
        listed = set()
        for name, e in sorted(data["artifacts"].items()):
            rep.n += 1
            listed.add(e["path"])
            why = self.problem(name, check_config=False)
            if why:
                rep.problems.append(f"{why}; rebuild with: {rebuild_hint(e)}")
            f = self.root / e["path"]
            rep.total_bytes += f.stat().st_size if f.is_file() else 0
        if self.root.exists():
            for f in sorted(self.root.rglob("*")):
                rel = f.relative_to(self.root).as_posix()
                if (f.is_file() and rel not in listed and rel not in _KEEP
                        and not any(part.startswith(".") for part in f.relative_to(self.root).parts)):
                    rep.problems.append(f"{rel}: file under {self.root.name}/ not in the manifest "
                                        "(remove it, or save it through ArtifactStore)")
        if rep.total_bytes > rep.budget_bytes:
            rep.problems.append(f"artifacts total {rep.total_bytes:,} bytes, over the budget of "
                                f"{rep.budget_bytes:,} bytes (budget_bytes in the manifest)")
        return rep


def _check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name.split("/"):
        raise ValueError(f"artifact name {name!r}: use slash-separated [A-Za-z0-9_.=+-] parts")
    return name


__all__ = ["ArtifactError", "ArtifactMissing", "ArtifactStore", "VerifyReport", "default_root"]
