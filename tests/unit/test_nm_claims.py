"""Study 04's claims on synthetic runs whose answers are known (built better, equal, worse)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sparselab import claims as C
from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import claims as NC

DECAYING = ("mdgf_linear", "mdgf_exp", "sdgf_stepwise", "sdgf_geometric")
PATTERNS = ("2:4", "1:4", "1:8", "1:16", "1:32")
SEEDS = range(5)
# zero-mean seed noise with spread: an "equal" recipe has a paired mean of exactly 0
NOISE = np.array([0.03, -0.03, 0.02, -0.02, 0.0])


def _rec(recipe, pattern, seed, bpc, steps=10):
    return {"spec": {"recipe": recipe, "pattern": pattern, "seed": seed, "steps": steps},
            "val_bpc": float(bpc), "train_flops": 1e9 * steps, "wall_s": 1.0, "evals": [], "flips": [],
            "phases": []}


def _sr(pattern, seed):
    """SR-STE bpc: worse with sparsity and differing by seed (so pairing by seed matters)."""
    n, m = (int(v) for v in pattern.split(":"))
    return 3.0 + 0.05 * np.log2(m / n) + 0.2 * seed


def _runs(effect, slope=0.0, matched=None, patterns=PATTERNS, seeds=SEEDS):
    """Runs where every decaying recipe's bpc = SR-STE's + effect + slope * log2(M/N) + noise;
    `matched`: MDGF-exp minus SR-STE trained to equal FLOPs (None: no matched runs)."""
    recs = [_rec("dense", "1:1", s, 2.9 + 0.2 * s) for s in seeds]
    for k, p in enumerate(patterns):
        n, m = (int(v) for v in p.split(":"))
        x = np.log2(m / n)
        for s in seeds:
            recs.append(_rec("sr_ste", p, s, _sr(p, s)))
            for j, r in enumerate(DECAYING):
                noise = NOISE[(s + j + 2 * k) % len(NOISE)]
                recs.append(_rec(r, p, s, _sr(p, s) + effect + slope * x + noise))
            if matched is not None and 1 - n / m >= NC.HIGH:
                mdgf = recs[-len(DECAYING) + 1]["val_bpc"]  # mdgf_exp, the matched recipe
                recs.append(_rec("sr_ste", p, s, mdgf - matched - NOISE[s] / 2, steps=17))
    return study.pipeline.results_frame(recs, steps=10)


def _verdicts(df):
    return {r.claim.id: r.verdict for r in NC.evaluate(df)}


def test_better_recipe_agrees_in_bpc_percent_and_every_cell():
    v = _verdicts(_runs(effect=-0.1, matched=-0.1))
    assert v["04.decaying_beat_sr_ste"] == "agrees"
    assert v["04.decaying_beat_sr_ste.relative"] == "agrees"
    cells = [k for k in v if k.startswith("04.decaying_beat_sr_ste/")]
    assert len(cells) == len(DECAYING) * 3  # 1:8, 1:16, 1:32 only
    assert all(v[k] == "agrees" for k in cells)
    assert v["04.win_at_equal_flops"] == "agrees"


def test_equal_recipe_is_inconclusive_not_agrees():
    v = _verdicts(_runs(effect=0.0, matched=0.0))
    for key in ("04.decaying_beat_sr_ste", "04.decaying_beat_sr_ste.relative",
                "04.win_at_equal_flops", "04.gap_grows"):
        assert v[key] == "inconclusive", key
    assert all(x == "inconclusive" for k, x in v.items() if "/" in k)


def test_worse_recipe_disagrees():
    v = _verdicts(_runs(effect=+0.1, matched=+0.1))
    assert v["04.decaying_beat_sr_ste"] == "disagrees"
    assert v["04.decaying_beat_sr_ste.relative"] == "disagrees"
    assert v["04.win_at_equal_flops"] == "disagrees"
    assert v["04.decaying_beat_sr_ste/mdgf_exp@1:32"] == "disagrees"


def test_matched_flops_is_judged_apart_from_equal_steps():
    # better at equal steps, worse once SR-STE gets the same training FLOPs
    v = _verdicts(_runs(effect=-0.1, matched=+0.1))
    assert v["04.decaying_beat_sr_ste"] == "agrees"
    assert v["04.win_at_equal_flops"] == "disagrees"
    assert {k for k in v if k.startswith("04.win_at_equal_flops/")} == {
        f"04.win_at_equal_flops/{p}" for p in ("1:8", "1:16", "1:32")}


@pytest.mark.parametrize(("slope", "verdict"), [(-0.03, "agrees"), (0.0, "inconclusive"),
                                                (+0.03, "disagrees")])
def test_gap_grows_with_sparsity(slope, verdict):
    df = _runs(effect=-0.05, slope=slope)
    assert _verdicts(df)["04.gap_grows"] == verdict
    np.testing.assert_allclose(NC.gap_slopes(df).mean(), slope, atol=0.01)


def test_pooled_estimate_is_the_mean_paired_difference_over_cells():
    df = _runs(effect=-0.1)
    r = NC.by_id(NC.evaluate(df))["04.decaying_beat_sr_ste"]
    assert r.estimate.n == len(SEEDS)
    # decaying - SR-STE = -0.1 + noise; over 4 recipes x 3 patterns the noise averages out
    cells = NC.decaying_cells(df)
    expect = np.mean([np.mean(a - b) for a, b, _ in cells.values()])
    assert r.estimate.estimate == pytest.approx(expect)
    assert expect == pytest.approx(-0.1, abs=0.02)
    assert r.estimate.ci_low < expect < r.estimate.ci_high
    rel = NC.by_id(NC.evaluate(df))["04.decaying_beat_sr_ste.relative"]
    assert rel.estimate.estimate == pytest.approx(np.mean(
        [np.mean(100 * (a - b) / b) for a, b, _ in cells.values()]))


def test_what_the_grid_cannot_test_is_untestable_with_the_count():
    one_seed = _verdicts(_runs(effect=-0.1, seeds=[0]))
    assert one_seed["04.decaying_beat_sr_ste"] == "untestable"
    few = NC.by_id(NC.evaluate(_runs(effect=-0.1, patterns=("1:8", "1:16"))))
    assert few["04.gap_grows"].verdict == "untestable"
    assert "patterns = 2" in few["04.gap_grows"].reason
    assert few["04.win_at_equal_flops"].verdict == "untestable"  # no matched runs
    low = _verdicts(_runs(effect=-0.1, patterns=("2:4", "1:4")))
    assert low["04.decaying_beat_sr_ste"] == "untestable"  # nothing at >= 1:8


def test_claims_json_is_written_and_reproducible(tmp_path):
    results = NC.evaluate(_runs(effect=-0.1, matched=-0.05))
    path = C.save_claims(results, tmp_path)
    first = path.read_bytes()
    C.save_claims(NC.evaluate(_runs(effect=-0.1, matched=-0.05)), tmp_path)
    assert path.read_bytes() == first
    data = json.loads(first)
    assert [d["id"] for d in data][:2] == ["04.decaying_beat_sr_ste",
                                          "04.decaying_beat_sr_ste.relative"]
    assert {d["verdict"] for d in data} <= set(C.VERDICTS)
    assert len(NC.headline_claims(results)) == 4
    assert len(NC.cell_claims(results)) == len(results) - 4


def test_ngram_baseline_on_known_text():
    from sparselab.studies.nm_training.design import ngram_bpc

    periodic = np.tile(np.array([1, 2, 3], np.int64), 400)
    # a trigram predicts a period-3 text almost surely; a unigram pays ~log2(3) bits
    assert ngram_bpc(periodic, periodic, seq_len=30, windows=5, order=3) < 0.25
    train, val = np.array([0, 0, 1, 2], np.int64), np.array([0, 1, 2, 0, 1], np.int64)
    # add-one unigram over the 3 characters: p = (count + 1) / (4 + 3); targets 1, 2, 0, 1
    p = {0: 3 / 7, 1: 2 / 7, 2: 2 / 7}
    expect = -np.mean([np.log2(p[c]) for c in (1, 2, 0, 1)])
    assert ngram_bpc(train, val, seq_len=4, windows=1, order=1) == pytest.approx(expect)
