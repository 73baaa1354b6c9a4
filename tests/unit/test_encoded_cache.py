"""Encoded-collection cache: reuse when complete, never trust an interrupted write."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sparselab.cache import is_complete
from sparselab.data.collection import Collection
from sparselab.encoders.base import DenseEncoder, SparseEncoder
from sparselab.retrieval import encoded as enc_mod
from sparselab.retrieval.encoded import encode_collection, make_encoder


class CountingDense(DenseEncoder):
    key = "toy_dense"

    def __init__(self):
        self.calls = 0

    def settings(self):
        return {"dim": 3}

    def _vec(self, texts):
        self.calls += 1
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], np.float32)

    encode_docs = encode_queries = _vec


class ToySparse(SparseEncoder):
    key = "toy_sparse"

    def settings(self):
        return {}

    def encode_docs(self, texts):
        return sp.csr_matrix(np.array([[len(t), 0, t.count("a")] for t in texts], np.float32))

    encode_queries = encode_docs


def toy_collection(checksum="abc", texts=("banana", "apple", "cherry"), grades=(1, 1)):
    docs = pd.DataFrame({"doc_id": ["d1", "d2", "d3"], "title": ["a", "", "b"],
                         "text": list(texts)})
    queries = {"test": pd.DataFrame({"query_id": ["q1", "q2"], "text": ["a", "bb"]})}
    qrels = {"test": pd.DataFrame({"query_id": ["q1", "q2"], "doc_id": ["d1", "d3"],
                                   "relevance": list(grades)})}
    return Collection("toy", docs, queries, qrels, checksum)


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))


def test_cache_reused_and_keyed_by_what_the_encoder_reads():
    e = CountingDense()
    first = encode_collection(toy_collection(), "toy_dense", encoder=e)
    np.testing.assert_array_equal(first.doc_vectors[:, 0], [8, 5, 8])
    first.queries("test")
    assert e.calls == 2
    again = encode_collection(toy_collection(), "toy_dense", encoder=e)
    again.queries("test")
    assert e.calls == 2  # both read from disk
    np.testing.assert_array_equal(again.doc_vectors, first.doc_vectors)
    # a qrels edit (new raw-file checksum, another grade) re-encodes neither docs nor queries
    edited = encode_collection(toy_collection(checksum="other", grades=(2, 1)), "toy_dense",
                               encoder=e)
    edited.queries("test")
    assert e.calls == 2
    encode_collection(toy_collection(texts=("banana", "apple", "plum")), "toy_dense", encoder=e)
    assert e.calls == 3  # a document changed -> new key


def test_qrels_edit_of_a_beir_folder_does_not_re_encode(tmp_path):
    """The situation of the issue: one qrels line edited in a BEIR folder loaded by path."""
    import json

    from sparselab.data import load_collection

    folder = tmp_path / "mine"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n"
        for i, t in enumerate(["apple pie", "banana split", "cherry tart"])))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "apple"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    e = CountingDense()
    encode_collection(load_collection(folder), "toy_dense", encoder=e).queries("test")
    assert e.calls == 2
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td0\t2\n")
    coll = load_collection(folder)
    encode_collection(coll, "toy_dense", encoder=e).queries("test")
    assert e.calls == 2  # both reused
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "apples"}) + "\n")
    encode_collection(load_collection(folder), "toy_dense", encoder=e).queries("test")
    assert e.calls == 3  # the query text changed: queries re-encoded, documents not


def test_sparse_roundtrip():
    a = encode_collection(toy_collection(), "toy_sparse", encoder=ToySparse())
    b = encode_collection(toy_collection(), "toy_sparse", encoder=ToySparse())
    assert sp.issparse(b.doc_vectors) and b.doc_vectors.dtype == np.float32
    assert (a.doc_vectors != b.doc_vectors).nnz == 0


def test_interrupted_write_leaves_no_complete_cache(monkeypatch, tmp_path):
    e = CountingDense()
    real_save = enc_mod.save_vectors

    def save_then_crash(folder, vectors, ids):
        real_save(folder, vectors, ids)  # the files exist, the write is not finished
        raise KeyboardInterrupt

    monkeypatch.setattr(enc_mod, "save_vectors", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        encode_collection(toy_collection(), "toy_dense", encoder=e)
    encoded_dir = tmp_path / "encoded"
    leftovers = list(encoded_dir.iterdir()) if encoded_dir.exists() else []
    assert not any(is_complete(p) for p in leftovers)
    assert not [p for p in leftovers if not p.name.startswith(".")]  # no final folder
    monkeypatch.setattr(enc_mod, "save_vectors", real_save)
    encode_collection(toy_collection(), "toy_dense", encoder=e)
    assert e.calls == 2  # recomputed, not read from the broken write
    assert any(is_complete(p) for p in encoded_dir.iterdir())


def test_unknown_encoder():
    with pytest.raises(KeyError, match="unknown encoder 'nope'"):
        make_encoder("nope")
