"""Every registered dataset loads from the shared data folder with the MANIFEST counts (slow)."""
from __future__ import annotations

from pathlib import Path

import pytest

from sparselab.data import list_datasets, load_collection, load_text
from sparselab.data.verification import collection_counts, verify
from sparselab.paths import repo_root

# Counts stated in shared/data/MANIFEST.md (checked independently of data/expected.py).
MANIFEST = {
    "scifact": {"docs": 5183, "queries": {"test": 300, "train": 809},
                "qrels": {"test": 339, "train": 919}},
    "nfcorpus": {"docs": 3633, "queries": {"dev": 324, "test": 323, "train": 2590},
                 "qrels": {"dev": 11385, "test": 12334, "train": 110575}},
    "cranfield": {"docs": 1400, "queries": {"test": 225}, "qrels": {"test": 1837},
                  "judged": {"test": 225}},
    "cisi": {"docs": 1460, "queries": {"test": 112}, "qrels": {"test": 3114},
             "judged": {"test": 76}},
    "adi": {"docs": 82, "queries": {"test": 35}, "qrels": {"test": 170}},
}


def _shared() -> Path | None:
    for cand in (repo_root().parent / "shared" / "data", Path("/work/shared/data")):
        if (cand / "MANIFEST.md").exists():
            return cand
    return None


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    root = _shared()
    if root is None:
        pytest.skip("shared data folder not available")
    monkeypatch.setenv("SPARSELAB_DATA", str(root))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_collection_counts_match_manifest(shared_data, name):
    counts = collection_counts(load_collection(name))
    for key, want in MANIFEST[name].items():
        assert counts[key] == want, key
    coll = load_collection(name)
    for split, qrels in coll.qrels.items():
        assert set(qrels["doc_id"]) <= set(coll.docs["doc_id"])
        assert set(coll.split_queries(split)["query_id"]) == set(qrels["query_id"])


@pytest.mark.slow
def test_text_datasets(shared_data):
    shakespeare = load_text("tinyshakespeare")
    assert len(shakespeare) == 1_115_394 and shakespeare.startswith("First Citizen:")
    stories = load_text("tinystories-sample")
    assert len(stories.encode()) == 197_290
    assert sum(1 for p in stories.split("\n\n") if p.strip()) == 1230


@pytest.mark.slow
def test_verify_every_registered_dataset(shared_data):
    for name in list_datasets():
        report = verify(name)
        assert report["ok"], (name, report["problems"])
        assert all(f["gz_sha256_ok"] for f in report["files"].values())
