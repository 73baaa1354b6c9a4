"""Empty or unjudged input fails; self-hits follow one recorded policy; cut-offs above --k."""
from __future__ import annotations

import dataclasses
import json

import pytest
from test_search import BagOfLetters, SparseLetters, toy

import sparselab.cli
from sparselab.cli import main
from sparselab.retrieval.encoded import encode_collection
from sparselab.retrieval.search import drops_self_hits, retrieve


@pytest.fixture(autouse=True)
def only_retrieval_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # collections loaded by path are labelled relative to it
    monkeypatch.setattr(sparselab.cli, "COMMANDS", {
        "evaluate": "sparselab.retrieval.cli_evaluate", "search": "sparselab.retrieval.cli_search"})


def beir(folder, docs, queries, qrels: str):
    """A BEIR folder: docs/queries are (id, text) pairs, qrels the body of qrels/test.tsv."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in docs))
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    return str(folder)


DOCS = [("d1", "apple pie"), ("q1", "apple apple tart"), ("d3", "banana split"),
        ("d4", "cherry")]
QUERIES = [("q1", "apple"), ("q2", "banana")]


def evaluate_json(capsys, *args):
    rc = main(["evaluate", "--retriever", "bm25", "--json", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err


def test_empty_corpus_fails_naming_the_file(tmp_path, capsys):
    folder = beir(tmp_path / "c", [], [], "")
    rc, _, err = evaluate_json(capsys, "--dataset", folder)
    assert rc == 2 and "corpus.jsonl: collection 'c' has no documents" in err


def test_queries_without_qrels_fail_and_search_writes_nothing(tmp_path, capsys):
    folder = beir(tmp_path / "c", DOCS, QUERIES, "")
    rc, _, err = evaluate_json(capsys, "--dataset", folder)
    assert rc == 2 and "no query of split 'test' has a judgement (0 qrels lines)" in err
    out = tmp_path / "run.trec"
    assert main(["search", "--dataset", folder, "--retriever", "bm25", "--out", str(out)]) == 2
    assert not out.exists()


def test_no_hit_at_all_is_an_error_not_an_empty_run(tmp_path, capsys):
    folder = beir(tmp_path / "c", DOCS, [("q1", "zebra")], "q1\td1\t1\n")
    out = tmp_path / "run.trec"
    assert main(["search", "--dataset", folder, "--retriever", "bm25", "--out", str(out)]) == 2
    assert "found no document for any query" in capsys.readouterr().err and not out.exists()


def test_partially_judged_queries_warn_with_counts(tmp_path, capsys):
    folder = beir(tmp_path / "c", DOCS, [*QUERIES, ("q3", "cherry")], "q2\td3\t1\n")
    rc, out, err = evaluate_json(capsys, "--dataset", folder)
    assert rc == 0 and out["n_queries"] == 1
    assert ("sparselab: warning: collection 'c': 2 of the 3 queries have no judgement in any "
            "split and are never evaluated; split 'test' evaluates 1") in err


def test_self_hits_ignored_by_default_kept_on_request_and_recorded(tmp_path, capsys):
    # q1's relevant document carries the id q1: BEIR's evaluator ignores it, so does the default
    folder = beir(tmp_path / "c", DOCS, QUERIES, "q1\tq1\t1\nq2\td3\t1\n")
    rc, default, _ = evaluate_json(capsys, "--dataset", folder)
    assert rc == 0 and default["self_hits"].startswith("ignored (BEIR evaluator convention")
    rc, kept, _ = evaluate_json(capsys, "--dataset", folder, "--keep-self-hits")
    assert rc == 0 and kept["self_hits"] == "kept (--keep-self-hits)"
    assert kept["metrics"]["RR@10"] == 1.0 and default["metrics"]["RR@10"] == 0.5


@pytest.mark.parametrize("encoder", [BagOfLetters(), SparseLetters()])
def test_every_retriever_applies_the_same_policy(encoder):
    """Dense and sparse encoders alike: dropped on BEIR-format collections, kept on SMART."""
    coll = toy()
    docs = coll.docs.copy()
    docs.loc[docs["doc_id"] == "q2", "text"] = "dd"  # q2 ("d") now best matches doc q2
    for fmt, dropped in (("beir", True), ("cranfield", False)):
        c = dataclasses.replace(coll, docs=docs, meta={"format": fmt})
        assert drops_self_hits(c) is dropped
        run = retrieve(encode_collection(c, encoder.key, encoder=encoder), "test", 3)
        hits = set(run.loc[run["query_id"] == "q2", "doc_id"])
        assert ("q2" in hits) is not dropped


def test_cut_offs_above_k_are_refused_not_printed(tmp_path, capsys):
    folder = beir(tmp_path / "c", DOCS, QUERIES, "q1\td1\t1\nq2\td3\t1\n")
    rc, out, _ = evaluate_json(capsys, "--dataset", folder, "--k", "10")
    assert rc == 0 and sorted(out["metrics"]) == ["RR@10", "nDCG@10"]
    assert out["not_computed"]["R@100"] == "cut-off 100 > --k 10: would be computed on 10 hits"
    assert set(out["not_computed"]) == {"AP@1000", "R@100", "R@1000"}
    assert main(["evaluate", "--retriever", "bm25", "--dataset", folder, "--k", "10"]) == 0
    text = capsys.readouterr().out
    assert "R@1000     not computed: cut-off 1000 > --k 10" in text
    assert not any(line.split()[0] == "R@100" and "not computed" not in line
                   for line in text.splitlines()[1:])
    rc, _, err = evaluate_json(capsys, "--dataset", folder, "--k", "5")
    assert rc == 2 and "--k 5: every measure needs more hits" in err


def test_own_collection_is_labelled_relative_to_the_working_directory(tmp_path, monkeypatch,
                                                                      capsys):
    folder = beir(tmp_path / "data" / "mine", DOCS, QUERIES, "q1\td1\t1\nq2\td3\t1\n")
    rc, out, _ = evaluate_json(capsys, "--dataset", folder)
    assert rc == 0 and out["collection"] == "data/mine"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    rc, out, _ = evaluate_json(capsys, "--dataset", folder)
    assert rc == 0 and out["collection"] == "../data/mine"
