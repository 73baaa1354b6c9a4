"""Study 03's claims on synthetic per-query scores whose answers are known: a Both built to be
better agrees, equal placements pass the equivalence test, noise stays inconclusive, a Both
built to be worse disagrees, and coincident placements are left out of the claim."""
import json

import ir_measures
import numpy as np
import pandas as pd
import pytest

from sparselab import claims as C
from sparselab.studies import prf as study
from sparselab.studies.prf.blocks import PLACEMENTS, Block, system_of
from sparselab.studies.prf.claims import cells, evaluate_claims

CFG = study.Config(datasets=["a", "b", "c"], partners=["bm25", "splade"])
N_QUERIES = 200


def _adder(final, sigs, qids):
    def add(system, values):
        final[system] = pd.DataFrame({"query_id": qids, **{m: values for m in CFG.measures}})
        sigs[system] = pd.Series([f"{system} {q}" for q in qids], index=qids)
    return add


def synthetic(offsets: dict, noise: float = 0.02, seed: int = 0, coincide=()) -> study.Results:
    """Results whose every block scores placement p as base + offsets[p] + noise per query.

    coincide: (dataset, partner, method, placement a, placement b) cells where b ranks like a.
    """
    rng = np.random.default_rng(seed)
    datasets = {}
    for name in CFG.datasets:
        qids = [f"{name}{i}" for i in range(N_QUERIES)]
        base = rng.uniform(0.2, 0.8, N_QUERIES)
        blocks = {}
        for block in study.BLOCKS:
            final, sigs = {}, {}
            add = _adder(final, sigs, qids)
            add("dense", base)
            for s in CFG.partners:
                add(f"sparse/{s}", base - 0.05)
                for m in CFG.prf_methods:
                    for p in PLACEMENTS:
                        add(system_of(p, s, m), base + offsets.get(p, 0.0)
                            + rng.normal(0, noise, N_QUERIES))
            for (d, s, m, a, b) in coincide:
                if d == name:
                    sigs[system_of(b, s, m)] = sigs[system_of(a, s, m)]
            blocks[block] = Block(final, sigs)
        datasets[name] = study.DatasetResult(name, "5-fold CV", pd.DataFrame(), pd.DataFrame(),
                                             blocks["tuned"].final, {}, None, blocks)
    return study.Results(CFG, datasets)


def verdicts(outcome, block="tuned"):
    return {r.claim.id.split(".")[1]: r.verdict for r in outcome.results
            if r.claim.id.endswith("." + block)}


def test_both_built_better_agrees_and_pre_built_worse_agrees():
    out = evaluate_claims(synthetic({"both": 0.03, "post": 0.025, "pre": -0.02}), study.BLOCKS)
    v = verdicts(out)
    assert v["both_best"] == "agrees"
    assert v["pre_weakest"] == "agrees"
    r = next(r for r in out.results if r.claim.id == "03.both_best.tuned")
    # the binding comparison is the closest competitor (Post, 0.005 behind), estimated with a CI
    assert "shown: both - post" in r.estimate.test and r.estimate.ci_low > 0
    assert r.estimate.estimate == pytest.approx(0.005, abs=0.003)
    assert len(out.results) == 3 * len(study.BLOCKS)


def test_equal_placements_pass_the_equivalence_test():
    v = verdicts(evaluate_claims(synthetic({"both": 0.03, "post": 0.03}), ["tuned"]))
    assert v["post_equiv_both"] == "agrees"
    assert v["both_best"] == "inconclusive"  # Both ties with Post: not the most effective


def test_pure_noise_is_never_agreement():
    v = verdicts(evaluate_claims(synthetic({}, noise=0.3), ["tuned"]))
    assert v["both_best"] == "inconclusive"
    assert v["pre_weakest"] == "inconclusive"
    assert v["post_equiv_both"] == "inconclusive"  # CI wider than the margin: not shown


def test_both_built_worse_disagrees():
    v = verdicts(evaluate_claims(synthetic({"both": -0.05, "pre": 0.02}), ["tuned"]))
    assert v["both_best"] == "disagrees"
    assert v["post_equiv_both"] == "disagrees"  # CI wholly outside +-0.01
    assert v["pre_weakest"] == "disagrees"  # Pre significantly above Both


def test_coincident_placements_are_flagged_and_left_out():
    res = synthetic({"both": 0.03, "pre": -0.02}, coincide=[("a", "bm25", "average", "post", "both")])
    kept, table = cells(res, "tuned")
    row = table.set_index("cell").loc["a/bm25/average"]
    assert row["both~post"] == 1.0 and not row["kept"] and "both~post" in row["flagged"]
    assert "a/bm25/average" not in kept and len(kept) == len(table) - 1


def test_fewer_than_two_cells_is_untestable_with_the_quantity():
    cfg = study.Config(datasets=["a"], partners=["bm25"], prf_methods=["average"])
    res = synthetic({"both": 0.03})
    res.cfg = cfg
    res.datasets = {"a": res.datasets["a"]}
    out = evaluate_claims(res, ["tuned"])
    assert {r.verdict for r in out.results} == {"untestable"}
    assert "cells kept = 1" in out.results[0].reason


def test_claims_json_and_metrics_are_deterministic_and_named_by_ir_measures():
    res = synthetic({"both": 0.01})
    a, b = evaluate_claims(res, study.BLOCKS), evaluate_claims(res, study.BLOCKS)
    assert C.claims_json(a.results) == C.claims_json(b.results)
    ma, mb = study.metrics(res, a), study.metrics(res, b)
    assert json.dumps(ma, sort_keys=True) == json.dumps(mb, sort_keys=True)
    for d in CFG.datasets:
        for fusion in ("raw", "minmax"):
            for s in CFG.partners:
                for m in CFG.prf_methods:
                    for p in PLACEMENTS:
                        assert f"paper_default/{fusion}/{d}/{s}/{m}/{p}/nDCG@10" in ma
    for key, value in ma.items():
        if key.startswith(("paper_default/", "tuned/", "tuned_k2/", "baseline/")):
            ir_measures.parse_measure(key.rsplit("/", 1)[1])  # raises on a non-measure name
            assert isinstance(value, float)
    entries = json.loads(C.claims_json(a.results))
    assert {e["id"] for e in entries} >= {"03.both_best.tuned", "03.post_equiv_both.tuned",
                                          "03.pre_weakest.tuned"}
    assert all(e["ci_low"] <= e["estimate"] <= e["ci_high"] for e in entries)


def test_table_block_long_form_keeps_every_cell():
    # 4 collections x 4 measures side by side overflow a 1280 px page: the long form puts
    # (dataset, system) on rows and measures on columns, with the same cells
    from types import SimpleNamespace

    from sparselab.studies.prf.tables import _by_dataset

    measures, datasets, systems = ["nDCG@10", "R@100"], ["scifact", "cisi"], ["bm25", "both"]
    cols = pd.MultiIndex.from_product([datasets, measures])
    wide = pd.DataFrame([[f"{s}/{d}/{m}" for d, m in cols] for s in systems], index=systems,
                        columns=cols)
    res = SimpleNamespace(datasets=dict.fromkeys(datasets), cfg=SimpleNamespace(measures=measures))
    long = _by_dataset(wide, res, systems)
    assert list(long.columns) == measures
    assert list(long.index) == [(d, s) for d in datasets for s in systems]
    assert all(long.loc[(d, s), m] == f"{s}/{d}/{m}" for d in datasets for s in systems
               for m in measures)
