"""Download a registered dataset from its official public source into data/raw/.

Every file is checked against its registered sha256 before anything is written, and each is
then written atomically, so an interrupted or corrupted download leaves nothing behind.
The network is reached only through `opener` (default `urllib.request.urlopen`), which tests
replace with a fake or point at a file:// URL.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..cache import atomic_write_bytes
from .datasets import DatasetSpec, get_spec, raw_dir
from .io import DataError

Opener = Callable[..., object]


def download(url: str, opener: Opener | None = None, timeout: float = 60.0) -> bytes:
    """The bytes at `url` (read in 1 MiB blocks with a progress bar)."""
    from sparselab.progress import bar as progress_bar  # terminal only, never the report

    if opener is None:
        from urllib.request import urlopen as opener
    try:
        resp = opener(url, timeout=timeout)
    except OSError as exc:
        raise DataError(f"cannot download {url}: {exc}") from None
    total = getattr(resp, "length", None)
    chunks = []
    with resp, progress_bar(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar:
        for block in iter(lambda: resp.read(1 << 20), b""):
            chunks.append(block)
            bar.update(len(block))
    return b"".join(chunks)


def extract_files(spec: DatasetSpec, payload: bytes) -> dict[str, bytes]:
    """The registered files of `spec` out of a downloaded payload (zip, tar.gz or plain file).

    Zip members are `<strip><relpath>`; tar members are matched by base name.
    """
    src, want = spec.source, list(spec.files)
    kind = src["kind"]
    if src.get("sha256"):
        got = hashlib.sha256(payload).hexdigest()
        if got != src["sha256"]:
            raise DataError(f"{src['url']}: sha256 {got} differs from the registered "
                            f"{src['sha256']}")
    try:
        if kind == "file":
            if len(want) != 1:
                raise DataError(f"dataset {spec.name!r}: a plain-file source needs exactly 1 file")
            return {want[0]: payload}
        if kind == "zip":
            with zipfile.ZipFile(io.BytesIO(payload)) as zf:
                names = set(zf.namelist())
                out = {}
                for rel in want:
                    member = src.get("strip", "") + rel
                    if member not in names:
                        raise DataError(f"{src['url']}: archive has no member {member!r}")
                    out[rel] = zf.read(member)
                return out
        if kind == "tar.gz":
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tf:
                members = {Path(m.name).name: m for m in tf.getmembers() if m.isfile()}
                out = {}
                for rel in want:
                    if rel not in members:
                        raise DataError(f"{src['url']}: archive has no member named {rel!r}")
                    out[rel] = tf.extractfile(members[rel]).read()
                return out
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DataError(f"{src['url']}: corrupt {kind} archive ({exc})") from None
    raise DataError(f"dataset {spec.name!r}: unknown source kind {kind!r}")


def fetch_spec(spec: DatasetSpec, dest_root: Path, opener: Opener | None = None) -> list[Path]:
    """Download, verify and write the files of `spec` under `dest_root/spec.folder`."""
    files = extract_files(spec, download(spec.source["url"], opener))
    for rel, data in files.items():
        got, want = hashlib.sha256(data).hexdigest(), spec.files[rel]["sha256"]
        if got != want:
            raise DataError(f"{spec.source['url']}: {rel} has sha256 {got}, registered {want}; "
                            "nothing was written")
    folder = Path(dest_root) / spec.folder
    return [atomic_write_bytes(folder / rel, data) for rel, data in files.items()]


def fetch(name: str, dest_root: str | Path | None = None, opener: Opener | None = None):
    """Fetch registered dataset `name` into `dest_root` (default `<repo>/data/raw`).

    Returns: the written paths.
    """
    return fetch_spec(get_spec(name), Path(dest_root) if dest_root else raw_dir(), opener)
