"""Fusion: interpolation vs a brute-force loop, fills, normalisation, alpha=0, RRF by hand."""
import numpy as np
import pandas as pd
import pytest

from sparselab.eval import make_run
from sparselab.retrieval.fusion import fuse, fuse_reference, rrf, top_k0


def random_run(rng, n_queries, n_docs, depth, ties=False):
    q, d, s = [], [], []
    for qi in range(n_queries):
        docs = rng.choice(n_docs, size=min(depth, n_docs), replace=False)
        scores = rng.integers(0, 4, len(docs)) if ties else rng.normal(size=len(docs))
        q += [f"q{qi}"] * len(docs)
        d += [f"d{x:03d}" for x in docs]
        s += list(scores.astype(float))
    return make_run(q, d, s)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0, 3.0])
@pytest.mark.parametrize("ties", [False, True])
def test_fuse_equals_brute_force(normalize, alpha, ties):
    rng = np.random.default_rng(7)
    a = random_run(rng, 5, 40, 15, ties)
    b = random_run(rng, 5, 40, 12, ties)
    got = fuse(a, b, alpha, k0=10, k=14, normalize=normalize)
    ref = fuse_reference(a, b, alpha, k0=10, k=14, normalize=normalize)
    assert list(got["query_id"]) == list(ref["query_id"])
    assert list(got["doc_id"]) == list(ref["doc_id"])
    assert list(got["rank"]) == list(ref["rank"])
    np.testing.assert_allclose(got["score"], ref["score"], rtol=1e-12, atol=1e-12)


def test_missing_scores_take_list_minimum():
    sparse = make_run(["q"] * 3, ["a", "b", "c"], [9.0, 5.0, 1.0])
    dense = make_run(["q"] * 2, ["b", "d"], [0.8, 0.6])
    got = fuse(sparse, dense, alpha=0.5).set_index("doc_id")["score"]
    # a: 0.5*9 + min dense 0.6; b: 0.5*5 + 0.8; c: 0.5*1 + 0.6; d: 0.5*min sparse 1 + 0.6
    assert got.to_dict() == pytest.approx({"a": 5.1, "b": 3.3, "c": 1.1, "d": 1.1})
    ranked = fuse(sparse, dense, alpha=0.5)["doc_id"].tolist()
    assert ranked == ["a", "b", "d", "c"]  # c and d tie: d is in the dense list, c is not


def test_normalised_scores_by_hand():
    sparse = make_run(["q"] * 3, ["a", "b", "c"], [10.0, 6.0, 2.0])
    dense = make_run(["q"] * 2, ["a", "d"], [0.9, 0.5])
    got = fuse(sparse, dense, alpha=1.0, normalize=True).set_index("doc_id")["score"]
    # sparse centred: (s - 6) / 8; dense centred: (s - 0.7) / 0.4; fills at each minimum
    assert got["a"] == pytest.approx(0.5 + 0.5)
    assert got["b"] == pytest.approx(0.0 - 0.5)
    assert got["d"] == pytest.approx(-0.5 - 0.5)
    assert got["c"] == pytest.approx(-0.5 - 0.5)


def test_alpha_zero_gives_dense_run():
    rng = np.random.default_rng(3)
    sparse = random_run(rng, 4, 60, 30)
    dense = random_run(rng, 4, 60, 20, ties=True)
    got = fuse(sparse, dense, alpha=0.0, k0=20, k=20)
    want = top_k0(dense, 20)
    assert list(got["doc_id"]) == list(want["doc_id"])
    np.testing.assert_array_equal(got["score"], want["score"])


def test_k_cuts_and_queries_in_one_run_only():
    sparse = make_run(["q1", "q1", "q2"], ["a", "b", "c"], [2.0, 1.0, 3.0])
    dense = make_run(["q1"], ["b"], [0.5])
    got = fuse(sparse, dense, alpha=1.0, k=1)
    assert got.groupby("query_id", observed=True).size().to_dict() == {"q1": 1, "q2": 1}
    assert got.set_index("query_id").loc["q2", "score"] == pytest.approx(3.0)  # dense fill 0


def test_fuse_rejects_bad_input():
    run = make_run(["q"], ["a"], [1.0])
    with pytest.raises(ValueError, match="alpha"):
        fuse(run, run, alpha=-1)
    with pytest.raises(ValueError, match="k0"):
        fuse(run, run, alpha=0.1, k0=0)
    with pytest.raises(ValueError, match="twice"):
        fuse(pd.concat([run, run]), run, alpha=0.1)
    with pytest.raises(ValueError, match="lacks columns"):
        fuse(run.drop(columns="score"), run, alpha=0.1)


def test_rrf_hand_example():
    r1 = make_run(["q"] * 3, ["a", "b", "c"], [3.0, 2.0, 1.0])
    r2 = make_run(["q"] * 2, ["c", "a"], [5.0, 4.0])
    got = rrf([r1, r2], c=60)
    # a: 1/61 + 1/62; c: 1/63 + 1/61; b: 1/62
    assert got["doc_id"].tolist() == ["a", "c", "b"]
    assert got["score"].tolist() == pytest.approx([1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62])
    assert got["rank"].tolist() == [1, 2, 3]


def test_rrf_ties_by_doc_id_and_depth():
    r1 = make_run(["q"] * 2, ["b", "a"], [2.0, 1.0])
    r2 = make_run(["q"] * 2, ["a", "b"], [2.0, 1.0])
    assert rrf([r1, r2])["doc_id"].tolist() == ["a", "b"]
    assert rrf([r1, r2], k0=1)["doc_id"].tolist() == ["a", "b"]  # 1/61 each
    assert len(rrf([r1, r2], k=1)) == 1
