"""BEIR-format collections: corpus.jsonl, queries.jsonl, qrels/<split>.tsv (each maybe .gz)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .collection import Collection
from .io import DataError, RawText, combined_checksum, read_text, where


def beir_files(folder: str | Path) -> dict[str, Path]:
    """Raw files of a BEIR folder: relative path (without .gz) -> Path.

    Args:
        folder: holds corpus.jsonl[.gz], queries.jsonl[.gz] and qrels/<split>.tsv[.gz].
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder (expected a BEIR collection folder)")
    files: dict[str, Path] = {}
    for rel in ("corpus.jsonl", "queries.jsonl"):
        for cand in (folder / f"{rel}.gz", folder / rel):
            if cand.is_file():
                files[rel] = cand
                break
        else:
            raise DataError(f"{folder}: no {rel} or {rel}.gz (not a BEIR folder)")
    qrels = sorted((folder / "qrels").glob("*.tsv")) + sorted((folder / "qrels").glob("*.tsv.gz"))
    for path in qrels:
        rel = "qrels/" + path.name.removesuffix(".gz")
        files.setdefault(rel, path)  # .tsv found first; both present -> plain wins (same data)
    if not any(k.startswith("qrels/") for k in files):
        raise DataError(f"{folder}: no qrels/<split>.tsv[.gz] files")
    return files


def _jsonl_records(raw: RawText, fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    """(`_id`, *fields) of every JSON line; blank lines skipped; duplicate ids rejected."""
    out, seen = [], set()
    for i, line in enumerate(raw.lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where(raw.path, i)}: malformed JSON line ({exc.msg})") from None
        if not isinstance(obj, dict) or "_id" not in obj:
            raise DataError(f"{where(raw.path, i)}: JSON line has no '_id' field")
        doc_id = str(obj["_id"])
        if doc_id in seen:
            raise DataError(f"{where(raw.path, i)}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        vals = tuple("" if obj.get(f) is None else str(obj.get(f)) for f in fields)
        out.append((doc_id, *vals))
    return out


def parse_qrels_lines(
    raw: RawText, doc_ids: set[str], query_ids: set[str]
) -> pd.DataFrame:
    """Qrels lines `qid docid rel` (BEIR tsv) or `qid 0 docid rel` (TREC), header optional.

    Every (query, doc) must exist in the collection and appear once.
    """
    rows, seen = [], set()
    for i, line in enumerate(raw.lines, 1):
        parts = line.split()
        if not parts or (i == 1 and parts[0] in ("query-id", "query_id", "qid")):
            continue
        if len(parts) == 4:  # TREC qrels: qid iteration docid rel
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise DataError(f"{where(raw.path, i)}: expected 3 columns query-id, corpus-id, score")
        qid, did, rel = parts
        grade = parse_grade(raw.path, i, rel)
        check_judgement(raw.path, i, qid, did, doc_ids, query_ids, seen)
        rows.append((qid, did, grade))
    return qrels_frame(rows)


def parse_grade(path: Path, lineno: int, text: str) -> int:
    """An integer relevance grade (`1`, `-1`, `2.0`); anything else raises DataError."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = 0.5  # not a number: fails the integer check below
    if not value.is_integer():
        raise DataError(f"{where(path, lineno)}: relevance {text!r} is not an integer grade")
    return int(value)


def check_judgement(
    path: Path, lineno: int, qid: str, did: str, doc_ids: set, query_ids: set, seen: set
) -> None:
    """Raise DataError for an unknown query or document, or a repeated pair."""
    if qid not in query_ids:
        raise DataError(f"{where(path, lineno)}: qrels name unknown query id {qid!r}")
    if did not in doc_ids:
        raise DataError(f"{where(path, lineno)}: qrels name unknown doc id {did!r}")
    if (qid, did) in seen:
        raise DataError(f"{where(path, lineno)}: duplicate judgement for ({qid!r}, {did!r})")
    seen.add((qid, did))


def qrels_frame(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """Qrels rows -> DataFrame query_id (str), doc_id (str), relevance (int64)."""
    df = pd.DataFrame(rows, columns=["query_id", "doc_id", "relevance"])
    return df.astype({"query_id": str, "doc_id": str, "relevance": "int64"})


def load_beir(files: dict[str, Path], name: str, expected_sha: dict[str, str] | None = None):
    """Parse BEIR raw files into a Collection.

    Args:
        files: relative path (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) -> Path.
        name: collection name.
        expected_sha: relative path -> uncompressed sha256 to enforce (registered datasets).
    """
    raws = {rel: read_text(path) for rel, path in files.items()}
    docs = _jsonl_records(raws["corpus.jsonl"], ("title", "text"))
    queries = _jsonl_records(raws["queries.jsonl"], ("text",))
    doc_ids = {d[0] for d in docs}
    query_ids = {q[0] for q in queries}
    qrels = {}
    for rel, raw in raws.items():
        if rel.startswith("qrels/"):
            split = rel.removeprefix("qrels/").removesuffix(".tsv")
            qrels[split] = parse_qrels_lines(raw, doc_ids, query_ids)
    check_checksums(raws, expected_sha)
    docs_df = pd.DataFrame(docs, columns=["doc_id", "title", "text"])
    all_q = pd.DataFrame(queries, columns=["query_id", "text"])
    per_split = {
        split: all_q[all_q["query_id"].isin(set(q["query_id"]))].reset_index(drop=True)
        for split, q in qrels.items()
    }
    checksum = combined_checksum({rel: raw.sha256 for rel, raw in raws.items()})
    judged_any = set().union(*(set(q["query_id"]) for q in qrels.values()))
    meta = {"format": "beir", "files": {rel: str(raw.path) for rel, raw in raws.items()},
            "queries_in_file": len(all_q), "queries_judged_in_no_split": len(query_ids - judged_any)}
    return Collection(name, docs_df, per_split, qrels, checksum, meta)


def check_checksums(raws: dict[str, RawText], expected: dict[str, str] | None) -> None:
    """Raise DataError when a file's content differs from its registered sha256."""
    for rel, want in (expected or {}).items():
        raw = raws.get(rel)
        if raw is not None and raw.sha256 != want:
            raise DataError(
                f"{raw.path}: sha256 {raw.sha256} differs from the registered {want} "
                "(corrupted or different copy; re-fetch it or load the folder by path)"
            )
