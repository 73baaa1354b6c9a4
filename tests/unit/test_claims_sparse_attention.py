"""Study 01's claims on synthetic grids whose answers are known: built to agree, to disagree,
and pure noise (which must never come out as "agrees")."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparselab import claims as C
from sparselab.studies import sparse_attention as study
from sparselab.studies.sparse_attention import claims as SC

TASKS = {"niah_single": ("low", "low"), "mqar": ("low", "high"), "vt": ("high", "low"),
         "cwe": ("high", "high")}
PRE = ("vertical_slash", "block_sparse")
DEC = ("quest", "snapkv")
LEVELS = (2.0, 4.0, 8.0, 16.0)
N = 60


def grid(acc, seed=0, lengths=(64, 128, 256), models=("xs", "s", "m"), share=0.1,
         n=N) -> pd.DataFrame:
    """Cells with Bernoulli scores of probability `acc(model, length, task, phase, method,
    level)`; level-1 rows are the dense scores (as the real grid stores them)."""
    rng = np.random.default_rng(seed)
    rows = []
    for mi, model in enumerate(models):
        for length in lengths:
            for task, (disp, scope) in TASKS.items():
                dense = (rng.random(n) < acc(model, length, task, "prefill", "dense", 1.0)).astype(float)
                base = {"model": model, "n_params": 10 ** (5 + mi), "length": length, "task": task,
                        "dispersion": disp, "scope": scope, "attention_share": share}
                rows.append({**base, "phase": "prefill", "method": "dense", "level": 1.0,
                             "scores": dense, "effective_compression": 1.0, "flops": 1e6 * 10 ** mi})
                for phase, methods in (("prefill", PRE), ("decode", DEC)):
                    for method in methods:
                        rows.append({**base, "phase": phase, "method": method, "level": 1.0,
                                     "scores": dense, "effective_compression": 1.0,
                                     "flops": 1e6 * 10 ** mi})
                        for lv in LEVELS:
                            p = acc(model, length, task, phase, method, lv)
                            rows.append({**base, "phase": phase, "method": method, "level": lv,
                                         "scores": (rng.random(n) < p).astype(float),
                                         "effective_compression": lv * 0.9,
                                         "flops": 1e6 * 10 ** mi / lv})
    df = pd.DataFrame(rows)
    df["accuracy"] = df.scores.map(np.mean)
    return df


def results(cells):
    models = cells.drop_duplicates("model")[["model", "n_params"]].reset_index(drop=True)
    return study.Results(cells, models)


CFG = study.Config(models=["xs", "s", "m"], noninferiority={"margin": 0.05, "alpha": 0.05,
                                                            "min_dense": 0.25})


def const(p):
    return lambda *a: p


def test_vectorised_noninferiority_matches_the_claims_layer():
    rng = np.random.default_rng(3)
    dense = (rng.random(80) < 0.8).astype(float)
    sparse = np.column_stack([(rng.random(80) < p).astype(float) for p in (0.8, 0.7, 0.5)])
    mask = SC._noninferior_mask(dense, sparse, 0.05, 0.05)
    want = [C.noninferiority(sparse[:, k], dense, 0.05, 0.05).p_value < 0.05 for k in range(3)]
    assert mask.tolist() == want


# ----- 2a: decode tolerates more -------------------------------------------------------------
def test_decode_tolerates_more_agrees_disagrees_and_noise():
    def decode_robust(m, L, t, phase, method, lv):
        if method == "dense" or phase == "decode":
            return 0.9
        return 0.9 if lv <= 2 else 0.3

    def prefill_robust(m, L, t, phase, method, lv):
        return decode_robust(m, L, t, "decode" if phase == "prefill" else "prefill", method, lv)

    agree = SC.decode_tolerates_more(grid(decode_robust), CFG, n_boot=300)
    assert agree.verdict == "agrees", agree.reason
    assert agree.estimate.estimate == pytest.approx(np.log2(16 * 0.9) - np.log2(2 * 0.9))
    dis = SC.decode_tolerates_more(grid(prefill_robust), CFG, n_boot=300)
    assert dis.verdict == "disagrees", dis.reason
    # pure noise: both phases as good as dense at every level -> same threshold, no "agrees"
    for seed in range(3):
        noise = SC.decode_tolerates_more(grid(const(0.6), seed=seed), CFG, n_boot=300)
        assert noise.verdict != "agrees", noise.reason


def test_thresholds_table_reads_achieved_compression():
    t = SC.table_thresholds(grid(const(1.0)), CFG)
    assert set(t.columns) == {"prefill", "decode"}
    assert np.allclose(t.to_numpy(), 16 * 0.9)  # every level passes: the largest achieved C


# ----- 3a: no universal winner ---------------------------------------------------------------
def test_no_universal_winner_agrees_disagrees_and_noise():
    def crossing(m, L, t, phase, method, lv):
        if method == "dense":
            return 0.9
        low = TASKS[t][0] == "low"
        first = method in (PRE[0], DEC[0])
        return 0.85 if first == low else 0.35

    def universal(m, L, t, phase, method, lv):
        if method == "dense":
            return 0.9
        return 0.85 if method in (PRE[0], DEC[0]) else 0.35

    for phase in ("prefill", "decode"):
        assert SC.no_universal_winner(grid(crossing), phase).verdict == "agrees"
        r = SC.no_universal_winner(grid(universal), phase)
        assert r.verdict == "disagrees", r.reason
        assert SC.no_universal_winner(grid(const(0.7), seed=5), phase).verdict != "agrees"


# ----- 3b: moderate sparsity hurts at least one task -----------------------------------------
def test_moderate_hurts_agrees_disagrees_and_noise():
    def one_task_hurt(m, L, t, phase, method, lv):
        if method == "dense":
            return 0.9
        return 0.4 if t == "cwe" and lv >= 4 else 0.9

    def sparse_better(m, L, t, phase, method, lv):
        return 0.5 if method == "dense" else 0.95

    r = SC.moderate_hurts(grid(one_task_hurt), "prefill")
    assert r.verdict == "agrees" and "cwe" in r.reason
    assert "achieved C = 3.6" in r.claim.claim  # the stated achieved compression at grid C = 4
    assert SC.moderate_hurts(grid(sparse_better), "decode").verdict == "disagrees"
    for seed in range(3):
        assert SC.moderate_hurts(grid(const(0.7), seed=seed), "prefill").verdict != "agrees"


# ----- 5: relative error falls with length ---------------------------------------------------
def test_rel_error_trend_agrees_disagrees_and_noise():
    def falls(m, L, t, phase, method, lv):
        if method == "dense":
            return 0.9
        return {64: 0.3, 128: 0.5, 256: 0.7}[L] if lv == 16 else 0.9

    def rises(m, L, t, phase, method, lv):
        return falls(m, {64: 256, 128: 128, 256: 64}[L], t, phase, method, lv)

    assert SC.rel_error_falls(grid(falls), "prefill", n_boot=300).verdict == "agrees"
    assert SC.rel_error_falls(grid(rises), "decode", n_boot=300).verdict == "disagrees"
    for seed in range(3):
        r = SC.rel_error_falls(grid(const(0.7), seed=seed), "prefill", n_boot=300)
        assert r.verdict != "agrees", r.reason
    one = SC.rel_error_falls(grid(falls, lengths=(64,)), "prefill", n_boot=300)
    assert one.verdict == "untestable" and "= 1" in one.reason


# ----- 1, 2b and the whole list ----------------------------------------------------------------
def test_isoflops_untestable_below_the_share_and_tested_above_it():
    low = SC.isoflops(grid(const(0.9), share=0.12), {})
    assert low.verdict == "untestable" and "0.12" in low.reason and "0.4" in low.reason

    def big_sparse_wins(m, L, t, phase, method, lv):
        return {"xs": 0.3, "s": 0.6, "m": 0.9}[m]

    cells = grid(big_sparse_wins, share=0.8)
    n_params = dict(zip(cells.model, cells.n_params))
    assert SC.isoflops(cells, n_params).verdict == "agrees"
    assert SC.isoflops(grid(const(0.7), share=0.8), n_params).verdict != "agrees"


def test_evaluate_lists_every_claim_once_and_writes_claims_json(tmp_path):
    res = results(grid(const(0.8)))
    out = SC.evaluate(res, CFG, n_boot=200)
    ids = [r.claim.id for r in out]
    assert len(ids) == len(set(ids)) == 9
    assert {i.split("/")[0] for i in ids} == {
        "01.isoflops", "01.decode_tolerates_more", "01.decode_grows_with_size",
        "01.no_universal_winner", "01.moderate_hurts", "01.rel_error_falls"}
    grows = next(r for r in out if r.claim.id == "01.decode_grows_with_size")
    assert grows.verdict == "untestable" and "training seeds per model size = 1" in grows.reason
    C.save_claims(out, tmp_path)
    assert len(C.load_claims(tmp_path)) == 9


def test_grid_table_round_trips_through_the_artifact_format():
    """The grid artifact (Parquet) gives back the per-sample scores exactly, as arrays."""
    from sparselab.artifacts.formats import codec

    raw = grid(const(0.7))[study.pipeline.RAW_COLUMNS[:9] + ["scores"]]
    for col in study.pipeline.RAW_COLUMNS[10:]:
        raw[col] = 0.25
    raw = raw[study.pipeline.RAW_COLUMNS]
    c = codec("table")
    back = c.decode(c.encode(raw))
    assert list(back.columns) == study.pipeline.RAW_COLUMNS
    assert all(np.array_equal(a, b) for a, b in zip(raw.scores, back.scores, strict=True))
    assert back.drop(columns="scores").equals(raw.drop(columns="scores"))


def test_nothing_learned_makes_every_grid_claim_untestable():
    res = results(grid(const(0.0)))
    out = SC.evaluate(res, CFG, n_boot=200)
    assert len(out) == 9 and all(r.verdict == "untestable" for r in out)
    assert all("learned units = 0" in r.reason for r in out[1:])
