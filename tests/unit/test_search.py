"""search/retrieve: runs equal brute-force rankings; remove_query; CLI errors exit 2."""
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sparselab.cli import main
from sparselab.data.collection import Collection
from sparselab.encoders.base import DenseEncoder, SparseEncoder
from sparselab.retrieval.encoded import encode_collection
from sparselab.retrieval.search import retrieve, search, to_run

DOCS = ["apple banana", "banana", "cherry apple apple", "date", "q2 apple"]


class BagOfLetters(DenseEncoder):
    """Counts of a, b, c, d: a deterministic toy embedding with many score ties."""
    key = "letters"

    def settings(self):
        return {}

    def encode_docs(self, texts):
        return np.array([[t.count(c) for c in "abcd"] for t in texts], np.float32)

    encode_queries = encode_docs


class SparseLetters(BagOfLetters, SparseEncoder):
    key = "sparse_letters"

    def encode_docs(self, texts):
        return sp.csr_matrix(BagOfLetters.encode_docs(self, texts))

    encode_queries = encode_docs


def toy():
    docs = pd.DataFrame({"doc_id": [f"d{i}" for i in range(len(DOCS))], "title": "",
                         "text": DOCS})
    docs.loc[4, "doc_id"] = "q2"  # a document whose id equals a query id
    queries = {"test": pd.DataFrame({"query_id": ["q1", "q2"], "text": ["apple", "d"]})}
    qrels = {"test": pd.DataFrame({"query_id": ["q1", "q2"], "doc_id": ["d0", "d3"],
                                   "relevance": [1, 1]})}
    return Collection("toy", docs, queries, qrels, "c0")


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))


def brute_force(sparse: bool, k: int):
    """(query_id, doc_id, score) rows by a Python sort: score desc, doc index asc."""
    c, enc = toy(), BagOfLetters()
    d = enc.encode_docs(c.doc_texts())
    q = enc.encode_queries(c.queries["test"]["text"].tolist())
    rows = []
    for qi, qid in enumerate(c.queries["test"]["query_id"]):
        s = d @ q[qi]
        order = sorted(range(len(s)), key=lambda j: (-s[j], j))
        if sparse:  # an inverted index only finds documents sharing a term with the query
            order = [j for j in order if s[j] > 0]
        rows += [(qid, c.docs["doc_id"][j], float(s[j])) for j in order[:k]]
    return rows


@pytest.mark.parametrize("encoder", [BagOfLetters(), SparseLetters()])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_retrieve_equals_brute_force(encoder, k):
    run = retrieve(encode_collection(toy(), encoder.key, encoder=encoder), "test", k,
                   remove_query=False)
    got = list(zip(run["query_id"], run["doc_id"], run["score"]))
    assert got == brute_force(isinstance(encoder, SparseEncoder), k)
    assert run.groupby("query_id")["rank"].apply(list).map(
        lambda r: r == list(range(1, len(r) + 1))).all()


def test_remove_query_keeps_k_hits():
    enc = BagOfLetters()
    run = retrieve(encode_collection(toy(), enc.key, encoder=enc), "test", 2, remove_query=True)
    q2 = run[run["query_id"] == "q2"]
    assert "q2" not in set(q2["doc_id"]) and len(q2) == 2
    assert to_run(["q"], ["q", "x"], np.array([[2.0, 1.0]]), np.array([[0, 1]]),
                  remove_query=True)["doc_id"].tolist() == ["x"]


def test_retrieve_with_replacement_query_vectors():
    enc = BagOfLetters()
    encoded = encode_collection(toy(), enc.key, encoder=enc)
    qv = np.array([[0, 0, 1, 0], [0, 1, 0, 0]], np.float32)  # c for q1, b for q2
    run = retrieve(encoded, "test", 1, remove_query=False, query_vectors=qv)
    assert run["doc_id"].tolist() == ["d2", "d0"]
    with pytest.raises(ValueError, match="3 rows for 2"):
        retrieve(encoded, "test", 1, query_vectors=np.zeros((3, 4), np.float32))


def test_search_bad_input():
    with pytest.raises(KeyError, match="unknown retriever 'tfidf'"):
        search(toy(), "tfidf")
    with pytest.raises(KeyError, match="no split 'dev'"):
        search(toy(), "dense", split="dev")


def test_cli_errors_exit_2(capsys, monkeypatch):
    import sparselab.cli

    # only our commands: importing every topic module would make this test slow
    monkeypatch.setattr(sparselab.cli, "COMMANDS", {
        "evaluate": "sparselab.retrieval.cli_evaluate", "search": "sparselab.retrieval.cli_search"})
    assert main(["evaluate", "--dataset", "no-such-set", "--retriever", "dense", "--json"]) == 2
    assert "no-such-set" in capsys.readouterr().err
    assert main(["search", "--dataset", "scifact", "--retriever", "nope", "--out", "x"]) == 2
    assert "unknown retriever 'nope'" in capsys.readouterr().err
