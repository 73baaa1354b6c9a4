"""FastEvaluator equals ir-measures' per-query values (ties, grades, gaps, unjudged queries)."""
import numpy as np
import pandas as pd
import pytest

from sparselab.eval import make_run, per_query
from sparselab.eval.fast import FastEvaluator

MEASURES = ["nDCG@10", "nDCG@3", "AP@1000", "AP@5", "R@100", "R@5", "P@5"]


def random_case(seed, ties):
    rng = np.random.default_rng(seed)
    docs = [f"d{i:02d}" for i in rng.permutation(60)]
    q, d, s = [], [], []
    for qi in range(9):
        if qi == 3:
            continue  # a judged query absent from the run
        picks = rng.choice(60, size=rng.integers(1, 40), replace=False)
        q += [f"q{qi}"] * len(picks)
        d += [docs[i] for i in picks]
        s += list(rng.integers(0, 5, len(picks)) if ties else rng.normal(size=len(picks)))
    q += ["unjudged"] * 3
    d += docs[:3]
    s += [1.0, 2.0, 3.0]
    rows = []
    for qi in range(9):
        for i in rng.choice(60, size=rng.integers(1, 15), replace=False):
            rows.append((f"q{qi}", docs[i], int(rng.choice([-1, 0, 1, 2, 3]))))
        rows.append((f"q{qi}", "outside", 1))  # judged doc not in the collection
    rows.append(("q8", "x", 0))
    qrels = pd.DataFrame(rows, columns=["query_id", "doc_id", "relevance"]).drop_duplicates(
        ["query_id", "doc_id"])
    qrels = qrels[~((qrels["query_id"] == "q7") & (qrels["relevance"] > 0))]  # none relevant
    return make_run(q, d, s), qrels, docs


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_equals_ir_measures(seed, ties):
    run, qrels, docs = random_case(seed, ties)
    want = per_query(run, qrels, MEASURES)
    ev = FastEvaluator(qrels, docs, MEASURES)
    got = ev.per_query(run)
    assert got["query_id"].tolist() == want["query_id"].tolist()
    np.testing.assert_allclose(got[MEASURES].to_numpy(), want[MEASURES].to_numpy(), atol=1e-12)
    cat = run.assign(query_id=pd.Categorical(run["query_id"]),
                     doc_id=pd.Categorical(run["doc_id"], categories=docs))
    np.testing.assert_allclose(ev.per_query(cat)[MEASURES].to_numpy(),
                               want[MEASURES].to_numpy(), atol=1e-12)


def test_rejects_bad_input():
    run, qrels, docs = random_case(0, False)
    with pytest.raises(ValueError, match="not supported"):
        FastEvaluator(qrels, docs, ["RR@10"])
    with pytest.raises(ValueError, match="not in the collection"):
        FastEvaluator(qrels, docs[:5]).per_query(run)


@pytest.mark.parametrize("categorical", [False, True])
def test_drop_self_hits_equals_evaluating_the_run_without_them(categorical):
    """BEIR's evaluator convention: a retrieved doc whose id is the query id is ignored."""
    docs = ["q1", "d1", "d2", "q2", "d3"]  # two documents share an id with a query
    run = make_run(["q1"] * 4 + ["q2"] * 3, ["q1", "d1", "d2", "q2", "q2", "d3", "q1"],
                   [5.0, 4.0, 3.0, 2.0, 9.0, 8.0, 1.0])
    qrels = pd.DataFrame([("q1", "q1", 1), ("q1", "d2", 1), ("q2", "d3", 2), ("q2", "q1", 1)],
                         columns=["query_id", "doc_id", "relevance"])
    measures = ["nDCG@10", "AP@1000", "R@2"]
    want = per_query(run[run["query_id"] != run["doc_id"]], qrels, measures)
    if categorical:
        run = run.assign(query_id=pd.Categorical(run["query_id"]),
                         doc_id=pd.Categorical(run["doc_id"], categories=docs))
    got = FastEvaluator(qrels, docs, measures, drop_self_hits=True).per_query(run)
    np.testing.assert_allclose(got[measures].to_numpy(), want[measures].to_numpy(), atol=1e-12)
    kept = FastEvaluator(qrels, docs, measures).per_query(run)
    assert (kept[measures].to_numpy() != got[measures].to_numpy()).any()  # it mattered here
