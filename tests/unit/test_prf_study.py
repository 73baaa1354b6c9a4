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
                   alphas=[0.5, 1.0], cv_folds=3)


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
    assert len(sw.specs) == 1 + 2 + len(prfs) + 2 + 2 * (2 + 2 + 4)
    for label, spec in sw.specs.items():
        want = ev.per_query(run_pipeline(first, spec))
        pd.testing.assert_frame_equal(sw.values[label], want, obj=label)


def test_select_uses_stage_a_prf_for_placements():
    first = toy_round()
    sw = Sweep(first, FastEvaluator(toy_qrels(1, first.query_ids), first.doc_ids))
    prfs = prf_settings(["average"], [1, 2], [])
    sw.baselines(["bm25"])
    sw.prf(prfs)
    sw.fusion(["bm25"], prfs, [0.5, 1.0])
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


def test_min_depth_keeps_stage_a_to_deeper_prf():
    first = toy_round()
    sw = Sweep(first, FastEvaluator(toy_qrels(1, first.query_ids), first.doc_ids))
    sw.baselines(["bm25"])
    sw.prf(prf_settings(["average"], [1, 2, 3], []))
    values = sw.table("nDCG@10")
    label = select(("x", "dense+prf", None, "average"), sw.specs, values, min_depth=2)
    assert sw.specs[label].prf.depth >= 2
    deeper = [lab for lab, sp in sw.specs.items() if sp.pipeline == "dense+prf" and sp.prf.depth >= 2]
    assert values[label].mean() == values[deeper].mean().max()


def test_paper_default_block_equals_registry_pipelines():
    from sparselab.studies.prf.blocks import default_block, default_specs

    first = toy_round()
    qrels = toy_qrels(1, first.query_ids)
    ev = FastEvaluator(qrels, first.doc_ids)
    cfg = study.Config(partners=["bm25"])
    for fusion, norm in study.FUSIONS.items():
        block = default_block(first, ev, cfg, fusion)
        specs = default_specs(["bm25"], cfg.prf_methods, cfg.default_alpha)
        assert set(block.final) == set(specs)
        assert specs["both/bm25/rocchio"].prf == study.DEFAULT_PRF["rocchio"]
        assert specs["both/bm25/rocchio"].alpha_fb == specs["both/bm25/rocchio"].alpha_out == 0.1
        other = FirstRound(**{**first.__dict__, "normalize": norm})
        for system, spec in specs.items():
            pd.testing.assert_frame_equal(block.final[system], ev.per_query(
                run_pipeline(other, spec)), obj=f"{fusion}/{system}")
    assert study.DEFAULT_PRF["average"].depth == 3
    assert (study.DEFAULT_PRF["rocchio"].depth, study.DEFAULT_PRF["rocchio"].alpha,
            study.DEFAULT_PRF["rocchio"].beta) == (5, 0.4, 0.6)


def test_every_block_scores_every_placement_and_tuned_alphas_are_positive():
    first = toy_round()
    res = study.cv_protocol("toy", first, toy_qrels(1, first.query_ids), CFG)
    assert set(res.blocks) == set(study.BLOCKS)
    for name, block in res.blocks.items():
        for p in ("pre", "post", "both"):
            assert f"{p}/bm25/average" in block.final and f"{p}/bm25/average" in block.signatures
        assert len(block.signatures["both/bm25/rocchio"]) == len(first.query_ids), name
    for lab in res.blocks["tuned"].choices["label"]:
        spec = res.specs[lab]
        assert all(a is None or a > 0 for a in (spec.alpha_fb, spec.alpha_out)), lab
    k2 = res.blocks["tuned_k2"].choices
    for lab in k2.loc[k2["system"].str.contains("prf|pre|post|both"), "label"]:
        assert res.specs[lab].prf.depth >= 2, lab


@pytest.mark.parametrize("bad", [{"alphas": [0.0, 0.5]}, {"alphas": []},
                                 {"prf_depths": [1]},
                                 {"tune_measure": "RR@10"}])
def test_config_rejects_degenerate_settings(bad):
    name = next(iter(bad)) if "prf_depths" not in bad else "prf_depths"
    with pytest.raises(ValueError, match=name):
        study.Config(**bad)
