"""Vector PRF identities, reference equivalence, pipelines and cross-validation folds."""
import numpy as np
import pandas as pd
import pytest

from sparselab.eval import make_run
from sparselab.eval.tuning import cross_validate, gather, kfold_assign, select_best
from sparselab.retrieval.fusion import fuse, top_k0
from sparselab.retrieval.pipelines import PIPELINES, FirstRound, Spec, run_pipeline
from sparselab.retrieval.prf import (
    PRF_METHODS,
    AveragePRF,
    RocchioPRF,
    expand_reference,
    feedback_ids,
    make_prf,
)


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    docs, queries = unit(rng.normal(size=(30, 8))), unit(rng.normal(size=(6, 8)))
    doc_ids = [f"d{i}" for i in range(30)]
    query_ids = [f"q{i}" for i in range(6)]
    from sparselab.retrieval.pipelines import dense_search
    stub = FirstRound(query_ids, queries, doc_ids, docs, dense=None, k=20, k0=20)
    dense = dense_search(stub, queries)
    sq, sd, ss = [], [], []
    for q in query_ids:  # sparse lists partly overlapping the dense ones
        picks = rng.choice(30, size=12, replace=False)
        sq += [q] * 12
        sd += [doc_ids[i] for i in picks]
        ss += list(rng.gamma(2.0, size=12))
    first = FirstRound(query_ids, queries, doc_ids, docs, dense=dense,
                       sparse={"bm25": make_run(sq, sd, ss)}, k=20, k0=20)
    return first


def test_registry_keys():
    assert PRF_METHODS.keys() == ["average", "rocchio"]
    assert set(PIPELINES.keys()) == {"dense", "sparse", "dense+prf", "interp", "rrf", "pre",
                                     "post", "both"}
    assert make_prf("rocchio", depth=2, alpha=1.0, beta=0.0) == RocchioPRF(2, 1.0, 0.0)


@pytest.mark.parametrize("prf", [AveragePRF(0), RocchioPRF(5, alpha=1.0, beta=0.0),
                                 RocchioPRF(0, alpha=1.0, beta=0.7)])
def test_identities(toy, prf):
    fb = feedback_ids(toy.dense, toy.query_ids, toy.doc_ids, 5)
    np.testing.assert_array_equal(prf.expand(toy.query_vectors, toy.doc_vectors, fb),
                                  toy.query_vectors)
    run = run_pipeline(toy, Spec("dense+prf", prf=prf))
    pd.testing.assert_frame_equal(run, toy.dense)


@pytest.mark.parametrize("prf", [AveragePRF(1), AveragePRF(3), RocchioPRF(2, 0.4, 0.6),
                                 RocchioPRF(7, 0.5, 0.5)])
def test_expand_equals_reference_with_padding(toy, prf):
    fb = feedback_ids(toy.dense, toy.query_ids, toy.doc_ids, 10)
    fb[1, 1:] = -1  # a query with one feedback doc
    fb[2, :] = -1  # and one with none
    got = prf.expand(toy.query_vectors, toy.doc_vectors, fb)
    np.testing.assert_allclose(got, expand_reference(prf, toy.query_vectors, toy.doc_vectors, fb),
                               rtol=1e-5, atol=1e-6)


def test_average_by_hand():
    docs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    q = np.array([[3.0, 3.0]], np.float32)
    fb = np.array([[2, 0, -1]])
    np.testing.assert_allclose(AveragePRF(3).expand(q, docs, fb), [[5 / 3, 4 / 3]])
    np.testing.assert_allclose(RocchioPRF(2, 0.5, 1.0).expand(q, docs, fb), [[2.5, 2.0]])


def test_feedback_ids_follow_rank_and_pad():
    run = make_run(["a", "a", "a", "b"], ["d2", "d0", "d1", "d1"], [0.1, 0.9, 0.5, 1.0])
    fb = feedback_ids(run, ["b", "a", "c"], ["d0", "d1", "d2"], 2)
    np.testing.assert_array_equal(fb, [[1, -1], [0, 1], [-1, -1]])
    with pytest.raises(ValueError, match="no stored vector"):
        feedback_ids(run, ["a"], ["d0", "d1"], 3)
    with pytest.raises(ValueError, match="depth"):
        feedback_ids(run, ["a"], ["d0"], -1)
    with pytest.raises(ValueError, match="depth"):
        AveragePRF(-1)


def test_pipelines_compose(toy):
    prf, s = RocchioPRF(3, 0.4, 0.6), toy.sparse["bm25"]
    kw = {"k0": 20, "k": 20}
    dense_prf = run_pipeline(toy, Spec("dense+prf", prf=prf))
    post = run_pipeline(toy, Spec("post", "bm25", prf, alpha_out=0.3))
    pd.testing.assert_frame_equal(post, fuse(s, dense_prf, 0.3, **kw))
    fused = run_pipeline(toy, Spec("interp", "bm25", alpha_out=0.2))
    pd.testing.assert_frame_equal(fused, fuse(s, toy.dense, 0.2, **kw))
    pre = run_pipeline(toy, Spec("pre", "bm25", prf, alpha_fb=0.2))
    both = run_pipeline(toy, Spec("both", "bm25", prf, alpha_fb=0.2, alpha_out=0.3))
    pd.testing.assert_frame_equal(both, fuse(s, pre, 0.3, **kw))
    # pre with alpha_fb = 0 takes its feedback from the dense list: it is dense+prf
    pd.testing.assert_frame_equal(run_pipeline(toy, Spec("pre", "bm25", prf, alpha_fb=0.0)),
                                  dense_prf)
    # alpha = 0 everywhere: both == dense+prf (alpha_out = 0 keeps the dense ranking)
    both0 = run_pipeline(toy, Spec("both", "bm25", prf, alpha_fb=0.0, alpha_out=0.0))
    assert both0["doc_id"].tolist() == top_k0(dense_prf, 20)["doc_id"].tolist()


def test_spec_validation(toy):
    with pytest.raises(ValueError, match="alpha_out"):
        run_pipeline(toy, Spec("post", "bm25", AveragePRF(3)))
    with pytest.raises(KeyError, match="unknown pipeline"):
        run_pipeline(toy, Spec("sideways"))
    with pytest.raises(KeyError, match="splade"):
        run_pipeline(toy, Spec("sparse", "splade"))
    assert Spec("both", "bm25", AveragePRF(3), 0.1, 0.2).label() == \
        "both/bm25/average(k=3)/fb=0.1/out=0.2"


def test_subset_keeps_alignment(toy):
    sub = toy.subset(["q4", "q1"])
    np.testing.assert_array_equal(sub.query_vectors, toy.query_vectors[[4, 1]])
    assert set(sub.dense["query_id"]) == {"q1", "q4"}
    full = run_pipeline(toy, Spec("both", "bm25", AveragePRF(2), 0.3, 0.3))
    part = run_pipeline(sub, Spec("both", "bm25", AveragePRF(2), 0.3, 0.3))
    want = full[full["query_id"].isin(["q1", "q4"])].astype({"query_id": str, "doc_id": str})
    part = part.astype({"query_id": str, "doc_id": str})
    assert part["query_id"].tolist()[0] == "q4"  # the subset's query order
    key = ["query_id", "rank"]
    pd.testing.assert_frame_equal(part.sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True))


def test_cv_never_tunes_on_held_out_queries():
    rng = np.random.default_rng(1)
    qids = [f"q{i}" for i in range(23)]
    folds = kfold_assign(qids, 5, seed=3)
    assert sorted(folds.value_counts().tolist()) == [4, 4, 5, 5, 5]
    values = pd.DataFrame(rng.random((23, 4)), index=qids, columns=list("abcd"))
    choice, picks = cross_validate(values, folds)
    for f in range(5):
        held = folds.index[folds == f]
        # poison the held-out fold: if it were used for tuning, the pick would change
        poisoned = values.copy()
        poisoned.loc[held, :] = 0.0
        poisoned.loc[held, "d"] = 1e6
        c2, _ = cross_validate(poisoned, folds)
        assert (c2[held] == choice[held]).all()
        tune = values.loc[folds.index[folds != f]]
        assert picks.loc[f, "config"] == select_best(tune)
        assert picks.loc[f, "n_tune"] + picks.loc[f, "n_test"] == 23
    assert kfold_assign(qids, 5, seed=3).equals(folds)


def test_gather_takes_each_query_from_its_config():
    frames = {c: pd.DataFrame({"query_id": ["a", "b", "c"], "m": [v, v, v]})
              for c, v in (("x", 1.0), ("y", 2.0))}
    choice = pd.Series({"a": "y", "b": "x", "c": "y"})
    assert gather(frames, choice)["m"].tolist() == [2.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="n_folds"):
        kfold_assign(["a", "b"], 3)
