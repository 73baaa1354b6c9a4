"""Data layer: BEIR and SMART parsing, bad input, resolution order, fetch, verify, CLI."""
from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from sparselab.cli import main
from sparselab.data import DataError, load_collection, load_text, resolve_file
from sparselab.data.datasets import DatasetSpec
from sparselab.data.fetching import fetch_spec
from sparselab.data.smart import load_smart
from sparselab.data.verification import compare_counts, verify

TOY = Path(__file__).resolve().parents[2] / "data" / "toy" / "beir-toy"


@pytest.fixture
def toy(tmp_path) -> Path:
    """A writable copy of the committed toy BEIR collection."""
    dst = tmp_path / "toy"
    shutil.copytree(TOY, dst)
    return dst


@pytest.fixture
def empty_roots(tmp_path, monkeypatch) -> Path:
    """No data anywhere: a fake repo root without data/raw or ../shared/data."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("SPARSELAB_ROOT", str(root))
    monkeypatch.delenv("SPARSELAB_DATA", raising=False)
    return root


def test_toy_beir_folder_loads_with_splits_and_grades():
    coll = load_collection(TOY)
    assert list(coll.docs["doc_id"]) == ["d1", "d2", "d3", "d4", "d5", "d6"]
    assert coll.docs.loc[5, "title"] == "Caf\u00e9"
    assert coll.splits == ["test", "train"]
    assert list(coll.queries["test"]["query_id"]) == ["q1", "q2"]
    assert list(coll.queries["train"]["query_id"]) == ["q3"]  # q4 is unjudged: in no split
    test = coll.qrels["test"]
    assert list(test.columns) == ["query_id", "doc_id", "relevance"]
    assert test["relevance"].tolist() == [2, 1, 0, 1]
    assert str(test["relevance"].dtype) == "int64"


def test_gzip_and_plain_copies_give_the_same_collection(toy):
    plain = load_collection(toy)
    raw = (toy / "corpus.jsonl").read_bytes()
    (toy / "corpus.jsonl").unlink()
    (toy / "corpus.jsonl.gz").write_bytes(gzip.compress(raw))
    packed = load_collection(toy)
    assert packed.checksum == plain.checksum
    assert packed.docs.equals(plain.docs)


def test_truncated_gzip_names_file_and_line(toy):
    raw = gzip.compress((toy / "corpus.jsonl").read_bytes() * 200)
    (toy / "corpus.jsonl").unlink()
    (toy / "corpus.jsonl.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"corpus\.jsonl\.gz:\d+: truncated or corrupt gzip"):
        load_collection(toy)


def test_malformed_json_line_names_file_and_line(toy):
    lines = (toy / "corpus.jsonl").read_text().splitlines()
    lines[2] = lines[2][:-5]  # cut the closing of line 3
    (toy / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"corpus\.jsonl:3: malformed JSON"):
        load_collection(toy)


@pytest.mark.parametrize(
    "line, message",
    [
        ("q1\tnope\t1", r"test\.tsv:6: qrels name unknown doc id 'nope'"),
        ("q9\td1\t1", r"test\.tsv:6: qrels name unknown query id 'q9'"),
        ("q1\td1\t1", r"test\.tsv:6: duplicate judgement"),
        ("q2\td1\thigh", r"test\.tsv:6: relevance 'high' is not an integer"),
        ("q2\td1", r"test\.tsv:6: expected 3 columns"),
    ],
)
def test_bad_qrels_line_names_file_and_line(toy, line, message):
    with open(toy / "qrels" / "test.tsv", "a") as fh:
        fh.write(line + "\n")
    with pytest.raises(DataError, match=message):
        load_collection(toy)


def test_not_a_collection_raises_clearly(tmp_path):
    with pytest.raises(KeyError, match="neither a registered collection"):
        load_collection(str(tmp_path / "missing"))
    with pytest.raises(DataError, match="no corpus.jsonl"):
        load_collection(tmp_path)
    with pytest.raises(ValueError, match="use load_text"):
        load_collection("tinyshakespeare")


CRAN_DOCS = """.I 1
.T
first title
.A
someone
.W
first text
 continues here .
.I 2
.T
second
.W
text two
.W
repeated field
"""
CRAN_QRY = """.I 001
.W
query one .
.I 004
.W
query
two .
"""


def _write(folder: Path, files: dict[str, str]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in files}


def test_cranfield_maps_queries_by_position_and_grades(tmp_path):
    qrels = "1 1 1\n1 2 -1\n2 2 4\n2 1 3 \n"
    files = _write(tmp_path, {"cran.all.1400": CRAN_DOCS, "cran.qry": CRAN_QRY,
                              "cranqrel": qrels})
    coll = load_smart(files, "mini", "cranfield")
    assert coll.docs.to_dict("records") == [
        {"doc_id": "1", "title": "first title", "text": "first text continues here ."},
        {"doc_id": "2", "title": "second", "text": "text two repeated field"},
    ]
    assert coll.queries["test"].to_dict("records") == [
        {"query_id": "1", "text": "query one ."}, {"query_id": "2", "text": "query two ."}]
    assert coll.meta["original_query_ids"] == {"1": "1", "2": "4"}
    assert coll.qrels["test"].values.tolist() == [
        ["1", "1", 4], ["1", "2", 0], ["2", "2", 1], ["2", "1", 2]]


def test_smart_binary_qrels_and_bad_lines(tmp_path):
    rel = "1   2   0   0.000000\n4 1 0 0.0\n"
    files = _write(tmp_path, {"ADI.ALL": CRAN_DOCS, "ADI.QRY": CRAN_QRY, "ADI.REL": rel})
    coll = load_smart(files, "mini", "adi")
    assert coll.queries["test"]["query_id"].tolist() == ["1", "4"]
    assert coll.qrels["test"].values.tolist() == [["1", "2", 1], ["4", "1", 1]]
    (tmp_path / "ADI.REL").write_text(rel + "4 7 0 0.0\n")
    with pytest.raises(DataError, match=r"ADI\.REL:3: qrels name unknown doc id '7'"):
        load_smart(files, "mini", "adi")
    (tmp_path / "ADI.QRY").write_text(CRAN_QRY + "stray text\n.I x\n")
    with pytest.raises(DataError, match=r"ADI\.QRY:9: id 'x' is not an integer"):
        load_smart(files, "mini", "adi")


def test_resolution_order_env_then_raw_then_shared(tmp_path, empty_roots, monkeypatch):
    rel = "text/tinyshakespeare/input.txt"
    shared = empty_roots.parent / "shared" / "data" / rel
    raw = empty_roots / "data" / "raw" / f"{rel}.gz"
    env = tmp_path / "env" / rel
    for path in (shared, raw, env):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    assert resolve_file("tinyshakespeare", "input.txt") == raw
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path / "env"))
    assert resolve_file("tinyshakespeare", "input.txt") == env
    raw.unlink()
    monkeypatch.delenv("SPARSELAB_DATA")
    assert resolve_file("tinyshakespeare", "input.txt") == shared


def test_missing_files_point_to_fetch(empty_roots):
    with pytest.raises(DataError, match="sparselab data fetch scifact"):
        load_collection("scifact")
    with pytest.raises(DataError, match="sparselab data fetch tinyshakespeare"):
        resolve_file("tinyshakespeare", "input.txt")


def test_registered_copy_with_wrong_checksum_is_rejected(tmp_path, empty_roots, monkeypatch):
    path = tmp_path / "text" / "tinyshakespeare" / "input.txt"
    path.parent.mkdir(parents=True)
    path.write_text("First Citizen:\nnot the real file\n")
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"input\.txt: sha256 .* differs from the registered"):
        load_text("tinyshakespeare")
    report = verify("tinyshakespeare")
    assert not report["ok"] and "differs" in report["problems"][0]
    assert main(["data", "verify", "tinyshakespeare", "--json"]) == 1


def test_verify_reports_missing_files_and_cli_exit_code(empty_roots, capsys):
    report = verify("adi")
    assert not report["ok"] and "sparselab data fetch adi" in report["problems"][0]
    assert main(["data", "verify", "adi"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    assert main(["data", "verify", "nope"]) == 2


def test_compare_counts_nested_and_unchecked():
    want = {"docs": 3, "queries": {"test": 2}, "judged": {"test": None}}
    assert compare_counts(want, {"docs": 3, "queries": {"test": 2}, "judged": {"test": 9}}) == []
    assert compare_counts(want, {"docs": 4, "queries": {}}) == [
        "docs: expected 3, got 4", "queries.test: expected 2, got None"]


def _toy_spec(kind: str, url: str, payload_sha: str | None = None) -> DatasetSpec:
    files = {}
    for path in sorted(TOY.rglob("*")):
        if path.is_file():
            files[path.relative_to(TOY).as_posix()] = {
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    source = {"kind": kind, "url": url, "strip": "toy/", "sha256": payload_sha}
    return DatasetSpec("toy", "beir/toy", "beir", files, {}, source)


def _zip_toy(prefix: str = "toy/") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(TOY.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(TOY).as_posix())
    return buf.getvalue()


def test_fetch_zip_from_file_url_verifies_and_writes(tmp_path):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(_zip_toy())
    written = fetch_spec(_toy_spec("zip", archive.as_uri()), tmp_path / "raw")
    assert len(written) == 4
    coll = load_collection(tmp_path / "raw" / "beir" / "toy")
    assert coll.checksum == load_collection(TOY).checksum


def test_fetch_rejects_bad_checksum_and_writes_nothing(tmp_path):
    spec = _toy_spec("zip", "https://example.invalid/toy.zip")
    spec.files["corpus.jsonl"]["sha256"] = "0" * 64
    with pytest.raises(DataError, match="corpus.jsonl has sha256 .* nothing was written"):
        fetch_spec(spec, tmp_path / "raw", opener=lambda url, timeout: io.BytesIO(_zip_toy()))
    assert not (tmp_path / "raw").exists()
    spec = _toy_spec("zip", "https://example.invalid/toy.zip", payload_sha="1" * 64)
    with pytest.raises(DataError, match="toy.zip: sha256"):
        fetch_spec(spec, tmp_path / "raw", opener=lambda url, timeout: io.BytesIO(_zip_toy()))


def test_fetch_tar_gz_matches_members_by_name(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for path in sorted(TOY.rglob("*")):
            if path.is_file():
                tf.add(path, "archive/" + path.name)
    payload = buf.getvalue()
    spec = _toy_spec("tar.gz", "https://example.invalid/toy.tar.gz")
    spec = DatasetSpec("toy", "toy", "beir", {k: v for k, v in spec.files.items()
                                              if "/" not in k}, {}, spec.source)
    written = fetch_spec(spec, tmp_path, opener=lambda url, timeout: io.BytesIO(payload))
    assert sorted(p.name for p in written) == ["corpus.jsonl", "queries.jsonl"]
    assert (tmp_path / "toy" / "corpus.jsonl").read_bytes() == (TOY / "corpus.jsonl").read_bytes()


def test_fetch_all_fetches_every_missing_dataset_and_skips_present_ones(empty_roots, monkeypatch,
                                                                        tmp_path, capsys):
    from sparselab.data import fetching
    from sparselab.data.datasets import list_datasets

    present = tmp_path / "text" / "tinyshakespeare" / "input.txt"  # one dataset already here
    present.parent.mkdir(parents=True)
    present.write_text("x")
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path))
    fetched = []
    monkeypatch.setattr(fetching, "fetch", lambda name, dest=None: fetched.append(name) or [])
    assert main(["data", "fetch", "all"]) == 0
    assert fetched == [n for n in list_datasets() if n != "tinyshakespeare"]
    assert "tinyshakespeare: already present" in capsys.readouterr().out
    fetched.clear()
    assert main(["data", "fetch", "all", "--force"]) == 0 and fetched == list_datasets()
    assert main(["data", "fetch", "nope"]) == 2
