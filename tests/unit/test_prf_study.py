"""Study 03 on a synthetic first round: the sweep equals the registry pipelines, and tuning
never sees the queries it is scored on (CV folds, split protocol)."""
import numpy as np
import pandas as pd
import pytest

from sparselab.eval.fast import FastEvaluator
from sparselab.eval.tuning import kfold_assign
from sparselab.retrieval.pipelines import FirstRound, dense_search, run_pipeline
from sparselab.studies import prf as study
from sparselab.studies.prf.grid import Sweep, prf_settings, select, systems

CFG = study.Config(partners=["bm25"], prf_depths=[1, 2], rocchio_weights=[[0.4, 0.6]],
                   alphas=[0.0, 0.5, 1.0], cv_folds=3)


def toy_round(seed=0, n_queries=12, n_docs=40):
    rng = np.random.default_rng(seed)
    docs = rng.normal(size=(n_docs, 6)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = rng.normal(size=(n_queries, 6)).astype(np.float32)
    qids, dids = [f"q{i}" for i in range(n_queries)], [f"d{i}" for i in range(n_docs)]
    first = FirstRound(qids, queries, dids, docs, dense=None, k=15, k0=15, normalize=True)
    first.dense = dense_search(first, queries)
    rows = [(q, dids[j], float(s)) for q in qids
            for j, s in zip(rng.choice(n_docs, 10, replace=False), rng.gamma(2.0, size=10))]
    sparse = pd.DataFrame(rows, columns=["query_id", "doc_id", "score"])
    first.sparse = {"bm25": first.categorical(sparse.sort_values(
        ["query_id", "score"], ascending=[True, False]).reset_index(drop=True))}
    return first


def toy_qrels(seed, qids, n_docs=40):
    rng = np.random.default_rng(seed)
    rows = [(q, f"d{j}", int(rng.integers(1, 3))) for q in qids
            for j in rng.choice(n_docs, 5, replace=False)]
    return pd.DataFrame(rows, columns=["query_id", "doc_id", "relevance"])


def test_sweep_equals_registry_pipelines():
    first = toy_round()
    qrels = toy_qrels(1, first.query_ids)
    ev = FastEvaluator(qrels, first.doc_ids)
    sw = Sweep(first, ev)
    prfs = prf_settings(CFG.prf_methods, CFG.prf_depths, CFG.rocchio_weights)
    sw.baselines(CFG.partners)
    sw.prf(prfs)
    sw.fusion(CFG.partners, prfs[:2], CFG.alphas)
    assert len(sw.specs) == 1 + 2 + len(prfs) + 3 + 2 * (3 + 3 + 9)
    for label, spec in sw.specs.items():
        want = ev.per_query(run_pipeline(first, spec))
        pd.testing.assert_frame_equal(sw.values[label], want, obj=label)


def test_select_uses_stage_a_prf_for_placements():
    first = toy_round()
    sw = Sweep(first, FastEvaluator(toy_qrels(1, first.query_ids), first.doc_ids))
    prfs = prf_settings(["average"], [1, 2], [])
    sw.baselines(["bm25"])
    sw.prf(prfs)
    sw.fusion(["bm25"], prfs, [0.0, 1.0])
    values = sw.table("nDCG@10")
    best_prf = sw.specs[select(("x", "dense+prf", None, "average"), sw.specs, values)].prf
    for pipe in ("pre", "post", "both"):
        label = select(("x", pipe, "bm25", "average"), sw.specs, values)
        assert sw.specs[label].prf == best_prf
        cands = [lab for lab, sp in sw.specs.items() if sp.pipeline == pipe and sp.prf == best_prf]
        assert values[label].mean() == values[cands].mean().max()


def test_cv_choices_ignore_the_held_out_fold():
    first = toy_round()
    qrels = toy_qrels(1, first.query_ids)
    res = study.cv_protocol("toy", first, qrels, CFG)
    folds = kfold_assign(first.query_ids, CFG.cv_folds, CFG.seed)
    assert set(res.final) == {s[0] for s in systems(CFG.partners, CFG.prf_methods)}
    for f in range(CFG.cv_folds):
        held = set(folds.index[folds == f])
        other = toy_qrels(99, sorted(held))  # different judgements for the held-out queries
        changed = pd.concat([qrels[~qrels["query_id"].isin(held)], other], ignore_index=True)
        res2 = study.cv_protocol("toy", first, changed, CFG)
        a = res.choices[res.choices["fold"] == f].reset_index(drop=True)
        b = res2.choices[res2.choices["fold"] == f].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    # each held-out value is the chosen grid point's value for that query
    sw_vals = {lab: v.set_index("query_id") for lab, v in
               study.cv_protocol("toy", first, qrels, CFG).final.items()}
    assert all(len(v) == len(first.query_ids) for v in sw_vals.values())


def test_split_choices_do_not_depend_on_test_qrels():
    tune, test = toy_round(0), toy_round(5)
    r1 = study.split_protocol("toy", tune, toy_qrels(1, tune.query_ids), test,
                              toy_qrels(2, test.query_ids), CFG)
    r2 = study.split_protocol("toy", tune, toy_qrels(1, tune.query_ids), test,
                              toy_qrels(3, test.query_ids), CFG)
    pd.testing.assert_frame_equal(r1.choices, r2.choices)
    assert (r1.choices["fold"] == -1).all()
    label = r1.choices.set_index("system").loc["both/bm25/rocchio", "label"]
    want = FastEvaluator(toy_qrels(2, test.query_ids), test.doc_ids).per_query(
        run_pipeline(test, r1.specs[label]))
    pd.testing.assert_frame_equal(r1.final["both/bm25/rocchio"], want)


def test_findings_and_metrics_keys():
    first = toy_round()
    res = study.Results(CFG, {"toy": study.cv_protocol("toy", first, toy_qrels(1, first.query_ids),
                                                       CFG)})
    fnd = study.findings(res)
    assert set(fnd["claim"]) == {"both_best", "post_approx_both", "pre_weakest"}
    assert fnd["p_holm"].between(0, 1).all()
    m = study.metrics(res, fnd)
    assert "ndcg@10/toy/both/bm25/rocchio" in m and "recall@1000/toy/dense" in m
    table = study.table_main(res, numeric=True)
    assert m["ap@1000/toy/post/bm25/average"] == pytest.approx(
        table.loc["post/bm25/average", ("toy", "AP@1000")])
    assert len(study.headline(res, fnd)) == 3
