"""Reading raw data files (plain or gzip) with errors that name the file and line."""
from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path


class DataError(ValueError):
    """A data file is missing, malformed, truncated or fails its checksum."""


def where(path: str | Path, lineno: int | None = None) -> str:
    """`path` or `path:lineno`, the prefix of every DataError message."""
    return f"{path}:{lineno}" if lineno is not None else str(path)


@dataclass(frozen=True)
class RawText:
    """The decoded content of one raw file.

    path: the file read (maybe `x.gz`).
    lines: content split into lines, without line endings (line i is line number i + 1).
    sha256: hex sha256 of the uncompressed bytes (independent of the compression).
    """

    path: Path
    lines: list[str]
    sha256: str

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def read_bytes(path: str | Path) -> bytes:
    """Uncompressed bytes of `path` (gunzipped when it ends in `.gz`).

    A truncated or corrupt gzip raises DataError naming the last complete line.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        good = _decompressible_prefix(raw)
        line = good.count(b"\n") + 1
        raise DataError(
            f"{where(path, line)}: truncated or corrupt gzip data at line {line} "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _decompressible_prefix(raw: bytes) -> bytes:
    """As much of a broken gzip stream as still decompresses (to locate the damage)."""
    dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = []
    for i in range(0, len(raw), 1 << 16):
        try:
            out.append(dec.decompress(raw[i : i + (1 << 16)]))
        except zlib.error:
            break
    return b"".join(out)


def read_text(path: str | Path) -> RawText:
    """Decode a raw file as UTF-8 and split it into lines (CRLF tolerated)."""
    path = Path(path)
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{where(path, line)}: not valid UTF-8 ({exc.reason})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln.removesuffix("\r") for ln in lines]
    return RawText(path, lines, hashlib.sha256(data).hexdigest())


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of the bytes of `path` as stored (no decompression)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def combined_checksum(parts: dict[str, str]) -> str:
    """One sha256 over {relative path: content sha256} (the Collection checksum)."""
    blob = "\n".join(f"{k}\t{v}" for k, v in sorted(parts.items()))
    return hashlib.sha256(blob.encode()).hexdigest()
