"""Reports: a user's own collection in provenance (checksums, relative label); fresh metrics."""
from __future__ import annotations

import hashlib
import json

from sparselab.reports import provenance
from sparselab.reports.writer import ENV, ReportWriter
from sparselab.retrieval.search import SELF_HITS


def test_interactive_metrics_are_rewritten_whole_on_each_run(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("SPARSELAB_ROOT", str(tmp_path))
    first = ReportWriter.open("99_toy")
    first.add_metrics({"old/key": 1.0, "shared": 1.0})
    again = ReportWriter.open("99_toy")  # the notebook run again, other parameters
    again.add_metrics({"shared": 2.0})
    path = tmp_path / "build" / "interactive" / "99_toy" / "metrics.json"
    assert json.loads(path.read_text()) == {"shared": 2.0}


def test_provenance_records_own_collection_checksums_and_relative_label(tmp_path, monkeypatch):
    nbdir = tmp_path / "repo" / "notebooks"
    folder = tmp_path / "repo" / "data" / "mine"
    (folder / "qrels").mkdir(parents=True)
    nbdir.mkdir(parents=True)
    files = {"corpus.jsonl": b'{"_id": "d1", "text": "x"}\n',
             "queries.jsonl": b'{"_id": "q1", "text": "x"}\n',
             "qrels/test.tsv": b"q1\td1\t1\n"}
    for rel, data in files.items():
        (folder / rel).write_bytes(data)
    monkeypatch.chdir(tmp_path / "repo")
    params = {"datasets": ["cranfield", "../data/mine"], "depth": 10, "note": "not/a/folder"}
    got = provenance.user_collections(params, nbdir)  # relative to the notebook's folder
    assert got == {"data/mine": {rel: hashlib.sha256(d).hexdigest() for rel, d in files.items()}}
    monkeypatch.setenv("SPARSELAB_DATA", str(tmp_path / "nodata"))
    prov = provenance.collect(params, "smoke", 1.0, "99_toy.ipynb", nbdir)
    assert prov["user_collections_sha256"] == got and prov["self_hits"] == SELF_HITS
    assert str(tmp_path) not in json.dumps(prov["user_collections_sha256"])
