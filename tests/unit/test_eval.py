"""Evaluation: metric values vs hand computation, TREC round trip, t-test and Holm."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sparselab.eval import (
    compare_runs,
    evaluate,
    holm,
    make_run,
    paired_ttest,
    per_query,
    read_trec_run,
    run_from_topk,
    write_trec_run,
)
from sparselab.eval.metrics import PartialJudgementWarning

# q1 graded (d1 = 2, d2 = 1, d5 judged non-relevant); q2 one relevant; q3 not in the run.
QRELS = pd.DataFrame(
    [("q1", "d1", 2), ("q1", "d2", 1), ("q1", "d5", 0), ("q2", "d3", 1), ("q3", "d4", 1)],
    columns=["query_id", "doc_id", "relevance"],
)
RUN = make_run(
    ["q1", "q1", "q1", "q2", "q2", "q2", "q9"],
    ["d2", "d9", "d1", "d7", "d8", "d3", "d1"],
    [3.0, 2.0, 1.0, 5.0, 4.0, 3.0, 1.0],
)


def test_per_query_matches_hand_computation():
    pq = per_query(RUN, QRELS, ["nDCG@10", "AP@1000", "R@1", "R@100", "RR@10"]).set_index(
        "query_id")
    assert list(pq.index) == ["q1", "q2", "q3"]  # qrels' queries; q9 (no qrels) ignored
    # q1 ranking d2 (gain 1), d9 (0), d1 (gain 2); ideal d1, d2. Linear gains, log2(r+1).
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert pq.loc["q1", "nDCG@10"] == pytest.approx(dcg / idcg)
    assert pq.loc["q1", "AP@1000"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert pq.loc["q1", "R@1"] == pytest.approx(0.5)
    assert pq.loc["q1", "RR@10"] == pytest.approx(1.0)
    # q2: the only relevant doc at rank 3
    assert pq.loc["q2", "nDCG@10"] == pytest.approx(1 / math.log2(4))
    assert pq.loc["q2", "AP@1000"] == pytest.approx(1 / 3)
    assert pq.loc["q2", "RR@10"] == pytest.approx(1 / 3)
    assert pq.loc["q2", "R@100"] == pytest.approx(1.0)
    # q3 is missing from the run: 0 everywhere
    assert (pq.loc["q3"] == 0).all()


def test_evaluate_averages_over_judged_queries_with_default_measures():
    with pytest.warns(PartialJudgementWarning, match="covers 2 of 3 judged queries; the other 1 score 0"):
        res = evaluate(RUN, QRELS)
    assert list(res) == ["nDCG@10", "AP@1000", "R@100", "R@1000", "RR@10"]
    ndcg_q1 = (1 + 2 / math.log2(4)) / (2 + 1 / math.log2(3))
    assert res["nDCG@10"] == pytest.approx((ndcg_q1 + 0.5 + 0) / 3)
    assert res["AP@1000"] == pytest.approx((5 / 6 + 1 / 3) / 3)
    assert res["R@1000"] == pytest.approx(2 / 3)
    assert res["RR@10"] == pytest.approx((1 + 1 / 3) / 3)


def test_cutoff_and_empty_run():
    deep = make_run(["q2"] * 12, [f"x{i}" for i in range(11)] + ["d3"], np.arange(12, 0, -1))
    pq = per_query(deep, QRELS, ["RR@10", "R@100"]).set_index("query_id")
    assert pq.loc["q2", "RR@10"] == 0.0 and pq.loc["q2", "R@100"] == 1.0
    empty = RUN.iloc[:0]
    assert per_query(empty, QRELS, ["nDCG@10"])["nDCG@10"].tolist() == [0.0, 0.0, 0.0]


def test_nothing_judged_is_an_error_never_a_zero():
    with pytest.raises(ValueError, match="the run has no judged query: none of its 0 queries"):
        evaluate(RUN.iloc[:0], QRELS, ["nDCG@10"])
    other = RUN.assign(query_id=RUN["query_id"] + "-other")
    with pytest.raises(ValueError, match=r"none of its \d queries is among the 3 judged ones"):
        evaluate(other, QRELS, ["nDCG@10"])
    with pytest.raises(ValueError, match="the qrels hold no judgement"):
        evaluate(RUN, QRELS.iloc[:0], ["nDCG@10"])
    extra = pd.concat([RUN, RUN.iloc[:1].assign(query_id="q9")])
    with pytest.warns(PartialJudgementWarning, match="1 of the run's 3 queries have no judgement"):
        evaluate(extra, QRELS, ["nDCG@10"])


def test_bad_measure_and_columns_raise():
    with pytest.raises(ValueError, match="unknown measure 'nDCG@ten'"):
        evaluate(RUN, QRELS, ["nDCG@ten"])
    with pytest.raises(ValueError, match="run lists doc 'd2' twice for query 'q1'"):
        evaluate(pd.concat([RUN, RUN.iloc[:1]]), QRELS)
    with pytest.raises(ValueError, match=r"qrels lacks columns \['relevance'\]"):
        evaluate(RUN, QRELS.rename(columns={"relevance": "rel"}))


def test_make_run_ranks_by_score_stably():
    run = make_run(["a", "a", "a", "b"], ["x", "y", "z", "x"], [1.0, 2.0, 1.0, 0.5])
    assert run.values.tolist() == [
        ["a", "y", 2.0, 1], ["a", "x", 1.0, 2], ["a", "z", 1.0, 3], ["b", "x", 0.5, 1]]


def test_run_from_topk_drops_padding():
    run = run_from_topk(["q1", "q2"], ["d0", "d1", "d2"],
                        np.array([[2, 0], [1, -1]]), np.array([[0.9, 0.1], [0.5, 0.0]]))
    assert run[["query_id", "doc_id", "rank"]].values.tolist() == [
        ["q1", "d2", 1], ["q1", "d0", 2], ["q2", "d1", 1]]
    with pytest.raises(ValueError, match="must both be"):
        run_from_topk(["q1"], ["d0"], np.zeros((1, 2), int), np.zeros((1, 3)))


def test_trec_round_trip(tmp_path):
    path = write_trec_run(RUN, tmp_path / "run.trec", tag="bm25")
    first = path.read_text().splitlines()[0]
    assert first == "q1 Q0 d2 1 3.0 bm25"
    back = read_trec_run(path)
    pd.testing.assert_frame_equal(back, RUN)
    with pytest.raises(ValueError, match="whitespace"):
        write_trec_run(RUN, tmp_path / "x.trec", tag="my run")
    (tmp_path / "bad.trec").write_text("q1 Q0 d1 1 0.5 t\nq1 Q0 d2 x 0.4 t\n")
    with pytest.raises(ValueError, match=r"bad\.trec:2: rank or score"):
        read_trec_run(tmp_path / "bad.trec")


def test_holm_against_hand_computation():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .02 .03 .06 .06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError):
        holm([1.5])


def test_paired_ttest_hand_value():
    a = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    b = pd.Series([2.0, 2.0, 2.0, 0.0], index=list("dcba"))  # aligned by query id
    # differences 1, 0, 1, 2: mean 1, sd sqrt(2/3), t = 1 / (sd / 2)
    t, p = paired_ttest(a, b)
    assert t == pytest.approx(1 / (math.sqrt(2 / 3) / 2))
    assert 0.05 < p < 0.1  # two-sided, df = 3: t = 2.449 lies between t_.95 and t_.975
    assert paired_ttest(a, a) == (0.0, 1.0)
    with pytest.raises(ValueError, match="same queries"):
        paired_ttest(a, b.iloc[:3])


def test_compare_runs_applies_holm():
    qids = [f"q{i}" for i in range(8)]
    base = pd.DataFrame({"query_id": qids, "m": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]})
    better = base.assign(m=base["m"] + [0.2, 0.25, 0.2, 0.3, 0.2, 0.22, 0.2, 0.21])
    same = base.assign(m=base["m"] + [0.01, -0.01, 0.02, -0.02, 0.0, 0.01, -0.01, 0.0])
    out = compare_runs({"bm25": base, "new": better, "noise": same}, "bm25", "m")
    assert out["system"].tolist() == ["bm25", "new", "noise"]
    assert np.isnan(out.loc[0, "p"]) and not out.loc[0, "significant"]
    np.testing.assert_allclose(out.loc[1:, "p_holm"], holm(out.loc[1:, "p"].to_numpy()))
    assert out.loc[1, "significant"] and not out.loc[2, "significant"]
    assert out.loc[1, "delta"] == pytest.approx(better["m"].mean() - base["m"].mean())
    with pytest.raises(KeyError, match="baseline"):
        compare_runs({"a": base}, "b", "m")
