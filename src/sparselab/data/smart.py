"""Classic SMART-format collections (Cranfield, CISI, ADI from the Glasgow distribution).

Records start with `.I <id>`; fields `.T` title, `.A` authors, `.B` source, `.W` text,
`.X` cross-references... each on its own line followed by its content. Repeated fields in one
record (a few exist) are concatenated. Line breaks and runs of spaces become one space.

Relevance:
- Cranfield `cranqrel` lines are `query-position doc code`; the query number is the position
  of the query in `cran.qry` (whose `.I` ids skip numbers), so queries get ids "1".."225" by
  position (the `.I` ids are kept in `meta["original_query_ids"]`). Codes 1 (complete answer)
  .. 4 (minimum interest) become graded relevance 5 - code (4 .. 1); code -1 (one per query,
  unrated) becomes 0: judged, not relevant, so the 1,837 judgements are all kept.
- CISI/ADI `.REL` lines `qid docid 0 0.000000` are binary: relevance 1.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .beir import check_checksums, check_judgement, qrels_frame
from .collection import Collection
from .io import DataError, RawText, combined_checksum, read_text, where

_RECORD = re.compile(r"^\.I\s+(\S+)\s*$")
_FIELD = re.compile(r"^\.([A-Z])\s*$")

#: file roles -> relative file name, per format
LAYOUTS = {
    "cranfield": {"docs": "cran.all.1400", "queries": "cran.qry", "qrels": "cranqrel"},
    "cisi": {"docs": "CISI.ALL", "queries": "CISI.QRY", "qrels": "CISI.REL"},
    "adi": {"docs": "ADI.ALL", "queries": "ADI.QRY", "qrels": "ADI.REL"},
}

CRANFIELD_GRADES = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}


def _int_id(raw: RawText, lineno: int, text: str) -> str:
    """Numeric id without leading zeros ("001" -> "1")."""
    try:
        return str(int(text))
    except ValueError:
        raise DataError(f"{where(raw.path, lineno)}: id {text!r} is not an integer") from None


def parse_records(raw: RawText) -> list[tuple[str, dict[str, str]]]:
    """(id, {field letter: text}) for every `.I` record, in file order."""
    records: list[tuple[str, dict[str, list[str]]]] = []
    field = None
    for i, line in enumerate(raw.lines, 1):
        m = _RECORD.match(line)
        if m:
            records.append((_int_id(raw, i, m.group(1)), {}))
            field = None
            continue
        m = _FIELD.match(line)
        if m:
            if not records:
                raise DataError(f"{where(raw.path, i)}: field .{m.group(1)} before any .I line")
            field = m.group(1)
            records[-1][1].setdefault(field, [])
            continue
        if field is None:
            if line.strip() and not records:
                raise DataError(f"{where(raw.path, i)}: text before the first .I line")
            if line.strip():
                raise DataError(f"{where(raw.path, i)}: text outside any field")
            continue
        records[-1][1][field].append(line)
    seen: set[str] = set()
    out = []
    for rid, fields in records:
        if rid in seen:
            raise DataError(f"{raw.path}: duplicate record .I {rid}")
        seen.add(rid)
        out.append((rid, {k: " ".join(" ".join(v).split()) for k, v in fields.items()}))
    return out


def _cranfield_qrels(raw: RawText, query_ids: set[str], doc_ids: set[str]) -> pd.DataFrame:
    rows, seen = [], set()
    for i, line in enumerate(raw.lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise DataError(f"{where(raw.path, i)}: expected 3 columns query doc code")
        pos, did = _int_id(raw, i, parts[0]), _int_id(raw, i, parts[1])
        code = int(_int_id(raw, i, parts[2]))
        if code not in CRANFIELD_GRADES:
            raise DataError(f"{where(raw.path, i)}: relevance code {code} not in -1, 1..4")
        check_judgement(raw.path, i, pos, did, doc_ids, query_ids, seen)
        rows.append((pos, did, CRANFIELD_GRADES[code]))
    return qrels_frame(rows)


def _binary_qrels(raw: RawText, query_ids: set[str], doc_ids: set[str]) -> pd.DataFrame:
    rows, seen = [], set()
    for i, line in enumerate(raw.lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise DataError(f"{where(raw.path, i)}: expected at least 2 columns query doc")
        qid, did = _int_id(raw, i, parts[0]), _int_id(raw, i, parts[1])
        check_judgement(raw.path, i, qid, did, doc_ids, query_ids, seen)
        rows.append((qid, did, 1))
    return qrels_frame(rows)


def load_smart(
    files: dict[str, Path], name: str, fmt: str, expected_sha: dict[str, str] | None = None
) -> Collection:
    """Parse a classic collection into a Collection with the single split `test`.

    Args:
        files: relative file name -> Path (must hold the LAYOUTS[fmt] files).
        name: collection name.
        fmt: `cranfield`, `cisi` or `adi` (a key of LAYOUTS).
        expected_sha: relative name -> uncompressed sha256 to enforce.
    """
    layout = LAYOUTS[fmt]
    raws = {role: read_text(files[rel]) for role, rel in layout.items()}
    docs = [(rid, f.get("T", ""), f.get("W", "")) for rid, f in parse_records(raws["docs"])]
    queries = [(rid, f.get("W", "")) for rid, f in parse_records(raws["queries"])]
    doc_ids = {d[0] for d in docs}
    meta: dict = {"format": fmt}
    if fmt == "cranfield":
        meta["original_query_ids"] = {str(i): q[0] for i, q in enumerate(queries, 1)}
        queries = [(str(i), q[1]) for i, q in enumerate(queries, 1)]
        qrels = _cranfield_qrels(raws["qrels"], {q[0] for q in queries}, doc_ids)
    else:
        qrels = _binary_qrels(raws["qrels"], {q[0] for q in queries}, doc_ids)
    by_rel = {layout[role]: raw for role, raw in raws.items()}
    check_checksums(by_rel, expected_sha)
    meta["files"] = {rel: str(raw.path) for rel, raw in by_rel.items()}
    return Collection(
        name,
        pd.DataFrame(docs, columns=["doc_id", "title", "text"]),
        {"test": pd.DataFrame(queries, columns=["query_id", "text"])},
        {"test": qrels},
        combined_checksum({rel: raw.sha256 for rel, raw in by_rel.items()}),
        meta,
    )
