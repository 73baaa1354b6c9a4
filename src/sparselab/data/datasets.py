"""Registry of named datasets and where their raw files are found on disk."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..paths import repo_root
from ..registry import Registry
from .expected import EXPECTED
from .io import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """What a named dataset is made of.

    name: registry key (`scifact`).
    folder: folder relative to a data root (`beir/scifact`).
    format: `beir`, `cranfield`, `smart` (CISI/ADI) or `text`.
    files: relative path (without `.gz`) -> {"sha256": uncompressed sha256, "bytes": size,
        "gz_sha256": ..., "gz_bytes": ...} as listed in shared/data/MANIFEST.md.
    counts: expected counts (docs, queries/qrels/judged per split; chars/bytes for text).
    source: how `sparselab data fetch` downloads it: {"kind": "zip"|"tar.gz"|"file", "url": ...}.
    """

    name: str
    folder: str
    format: str
    files: dict[str, dict]
    counts: dict
    source: dict
    title: str = ""
    citation: str = ""
    license: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_text(self) -> bool:
        return self.format == "text"


DATASETS: Registry[DatasetSpec] = Registry("dataset")
for _name, _d in EXPECTED.items():
    DATASETS.add(_name, DatasetSpec(name=_name, **_d))


def list_datasets() -> list[str]:
    """Names of every registered dataset, sorted."""
    return DATASETS.keys()


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset (KeyError listing the known names otherwise)."""
    return DATASETS.get(name)


def data_roots() -> list[Path]:
    """Folders searched for raw files, in order: $SPARSELAB_DATA, data/raw/, ../shared/data."""
    roots = []
    env = os.environ.get("SPARSELAB_DATA")
    if env:
        roots.append(Path(env).expanduser())
    root = repo_root()
    roots += [root / "data" / "raw", root.parent / "shared" / "data"]
    return roots


def raw_dir() -> Path:
    """Where `sparselab data fetch` writes (`<repo>/data/raw`)."""
    return repo_root() / "data" / "raw"


def find_file(folder: Path, relpath: str) -> Path | None:
    """`folder/relpath.gz` or `folder/relpath` if either exists (gzip preferred)."""
    for cand in (folder / f"{relpath}.gz", folder / relpath):
        if cand.is_file():
            return cand
    return None


def resolve_file(name: str, relpath: str) -> Path:
    """Path of one raw file of dataset `name`, looked up in `data_roots()` order.

    Args:
        name: registered dataset name.
        relpath: file path inside the dataset folder, without `.gz` (`qrels/test.tsv`).
    """
    spec = get_spec(name)
    if relpath not in spec.files:
        raise KeyError(f"dataset {name!r} has no file {relpath!r}; has {sorted(spec.files)}")
    roots = data_roots()
    for root in roots:
        hit = find_file(root / spec.folder, relpath)
        if hit is not None:
            return hit
    tried = ", ".join(str(r / spec.folder) for r in roots)
    raise DataError(
        f"dataset {name!r}: {relpath}[.gz] not found (looked in {tried}); "
        f"run `sparselab data fetch {name}` to download it"
    )


def resolve_dataset(name: str) -> dict[str, Path]:
    """All files of `name` from the first data root that holds every one of them."""
    spec = get_spec(name)
    roots = data_roots()
    for root in roots:
        hits = {rel: find_file(root / spec.folder, rel) for rel in spec.files}
        if all(hits.values()):
            return hits  # type: ignore[return-value]
    tried = ", ".join(str(r / spec.folder) for r in roots)
    raise DataError(
        f"dataset {name!r}: no folder holds all of {sorted(spec.files)} (looked in {tried}); "
        f"run `sparselab data fetch {name}` to download it"
    )
