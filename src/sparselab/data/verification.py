"""Check a registered dataset: file checksums, then parsed counts vs the expected ones."""
from __future__ import annotations

import hashlib

from .collection import Collection
from .datasets import data_roots, find_file, get_spec
from .io import DataError, read_bytes, sha256_file


def collection_counts(coll: Collection) -> dict:
    """docs; queries, qrels and judged queries per split."""
    return {
        "docs": len(coll.docs),
        "queries": {s: len(q) for s, q in sorted(coll.queries.items())},
        "qrels": {s: len(q) for s, q in sorted(coll.qrels.items())},
        "judged": {s: int(q["query_id"].nunique()) for s, q in sorted(coll.qrels.items())},
    }


def text_counts(text: str) -> dict:
    """chars, UTF-8 bytes and paragraphs (non-blank blocks between blank lines)."""
    paragraphs = sum(1 for p in text.split("\n\n") if p.strip())
    return {"chars": len(text), "bytes": len(text.encode("utf-8")), "paragraphs": paragraphs}


def compare_counts(expected: dict, actual: dict, prefix: str = "") -> list[str]:
    """Mismatch messages for every expected count (None = not checked)."""
    problems = []
    for key, want in expected.items():
        got = actual.get(key)
        if isinstance(want, dict):
            problems += compare_counts(want, got or {}, f"{prefix}{key}.")
        elif want is not None and got != want:
            problems.append(f"{prefix}{key}: expected {want}, got {got}")
    return problems


def _check_files(name: str) -> tuple[dict, list[str]]:
    """Per-file checksum report from the first data root holding all files."""
    spec = get_spec(name)
    root = next(
        (r for r in data_roots() if all(find_file(r / spec.folder, f) for f in spec.files)), None
    )
    if root is None:
        return {}, [f"files missing (run `sparselab data fetch {name}`)"]
    files, problems = {}, []
    for rel, info in spec.files.items():
        path = find_file(root / spec.folder, rel)
        entry = {"path": str(path), "expected_sha256": info["sha256"]}
        try:
            entry["sha256"] = hashlib.sha256(read_bytes(path)).hexdigest()
        except DataError as exc:
            entry["sha256"], entry["error"] = None, str(exc)
            problems.append(str(exc))
        if path.suffix == ".gz":  # informational: the stored .gz itself is the manifest's
            entry["gz_sha256_ok"] = sha256_file(path) == info["gz_sha256"]
        entry["ok"] = entry["sha256"] == info["sha256"]
        if entry["sha256"] is not None and not entry["ok"]:
            problems.append(f"{path}: sha256 {entry['sha256']} differs from {info['sha256']}")
        files[rel] = entry
    return files, problems


def verify(name: str) -> dict:
    """Checksums and counts of registered dataset `name` against the expected ones.

    Returns: {"name", "ok", "files": {rel: {...}}, "counts", "expected_counts", "problems"}.
    Never raises for a bad or missing file; problems are listed instead.
    """
    from .loaders import load_collection, load_text

    spec = get_spec(name)
    files, problems = _check_files(name)
    counts: dict = {}
    if files and not problems:
        try:
            if spec.is_text:
                counts = text_counts(load_text(name))
            else:
                counts = collection_counts(load_collection(name))
        except DataError as exc:
            problems.append(str(exc))
        problems += compare_counts(spec.counts, counts) if counts else []
    return {
        "name": name,
        "ok": not problems,
        "files": files,
        "counts": counts,
        "expected_counts": spec.counts,
        "problems": problems,
    }
