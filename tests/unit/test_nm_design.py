"""Issue 15's design for study 04: claim seeds, opt-in run settings, the plateau check, equal
tuning, the test split. Known answers on synthetic runs; bad input fails naming the value."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import pipeline, tuning
from sparselab.studies.nm_training.plateau import plateau

SPLIT = "ff=1:32,attn=1:8"
DECAYING = ("mdgf_linear", "mdgf_exp", "sdgf_stepwise", "sdgf_geometric")


def _cfg(**kw):
    base = {"steps": 6, "batch_size": 2, "seq_len": 16, "eval_every": 2, "flip_every": 2,
            "val_windows": 4, "workers": 1, "seeds": [0]}
    return study.Config.from_overrides(**{**base, **kw})


@pytest.fixture
def synthetic_text(monkeypatch):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, 6000).astype(np.int64)
    monkeypatch.setattr(pipeline, "char_splits", lambda text, test=False: (
        {"train": ids[:5000], "val": ids[5000:5500], "test": ids[5500:]} if test else
        {"train": ids[:5000], "val": ids[5000:]}, 20))


# ----- grid ----------------------------------------------------------------------------------
def test_claim_seeds_go_to_claim_cells_only():
    cfg = study.Config.from_overrides(
        patterns=["2:4", "1:8", SPLIT], seeds=[0, 1, 2], claim_seeds=[3, 4],
        recipes=["dense", "ste", "sr_ste", "mdgf_exp", "sdgf_geometric"])
    specs = study.run_specs(cfg)
    seeds = {}
    for s in specs:
        seeds.setdefault((s.recipe, s.pattern), set()).add(s.seed)
    for (recipe, pattern), got in seeds.items():
        claim = recipe == "dense" or (recipe != "ste" and pattern != "2:4")
        assert len(got) == (5 if claim else 3), (recipe, pattern)
    assert len(specs) == 3 * (1 + 4 * 3) + 2 * (1 + 3 * 2)


def test_opt_in_settings_stay_out_of_the_cache_key_at_their_defaults():
    spec = study.run_specs(_cfg(recipes=["mdgf_exp"], patterns=["1:8"]))[0]
    assert "kappa_scale" not in study.spec_dict(spec) and "test_split" not in study.spec_dict(spec)
    tuned = dataclasses.replace(spec, kappa_scale=2.0, test_split=True)
    d = study.spec_dict(tuned)
    assert d["kappa_scale"] == 2.0 and d["test_split"] is True
    assert pipeline.RunSpec(**{k: v for k, v in study.spec_cell(tuned).items()
                               if k != "model_config"}) == tuned


def test_kappa_scale_multiplies_the_default_decay_rate():
    spec = study.run_specs(study.Config.from_overrides(recipes=["mdgf_exp"], steps=100))[0]
    base = pipeline._recipe(spec)
    base.set_step(20, 100)
    fast = pipeline._recipe(dataclasses.replace(spec, kappa_scale=2.0))
    fast.set_step(20, 100)
    assert fast.rate() == pytest.approx(2 * base.rate())
    assert fast.beta() < base.beta()


def test_plateau_runs_are_dense_at_half_the_steps_each_annealed_to_its_end():
    cfg = study.Config.from_overrides(steps=400, seeds=[0, 1], claim_seeds=[2],
                                      plateau_check=True)
    half = study.plateau_specs(cfg)
    assert [(s.recipe, s.seed, s.steps, s.lr_warmup) for s in half] == [
        ("dense", 0, 200, 20), ("dense", 1, 200, 20), ("dense", 2, 200, 20)]
    assert study.plateau_specs(dataclasses.replace(cfg, plateau_check=False)) == []


@pytest.mark.parametrize(("overrides", "message"), [
    ({"claim_seeds": [0, 5]}, "claim_seeds: [0, 5] must not repeat or overlap seeds"),
    ({"plateau_check": True, "recipes": ["sr_ste"]}, "plateau_check: needs recipe 'dense'"),
    ({"tune_budget": 2, "tune_pattern": "1:3"}, "tune_pattern: pattern '1:3'"),
    ({"tune_budget": 2, "tune_pattern": "ff=1:8,xx=1:8"}, "unknown layer group 'xx'"),
    ({"tune_budget": 9}, "tune_budget: 9 configurations exceed the 8 of recipe 'dense'"),
    ({"tune_budget": -1}, "tune_budget: -1 must be >= 0"),
    ({"tune_budget": 2, "tune_seeds": []}, "tune_seeds: [] must be non-empty"),
    ({"stages": "per_seed"}, "stages: 'per_seed' is not one of 'one', 'seed', 'seed_recipe'"),
])
def test_bad_design_input_fails_before_training(overrides, message, monkeypatch):
    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(pipeline, "train_run", never)
    monkeypatch.setattr(pipeline, "schedule_flops", never)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        study.run(_cfg(**overrides))


def test_scores_must_fit_the_halved_held_out_text(synthetic_text):
    from sparselab.studies.nm_training.checks import check_config

    check_config(_cfg(test_split=True, val_windows=31))  # 31 x 16 + 1 <= 500
    with pytest.raises(ValueError, match="val_windows: 32 windows of 16 characters need 513 "
                                         "characters, but the val split has 500"):
        check_config(_cfg(test_split=True, val_windows=32))


def test_the_plateau_design_yaml_is_a_valid_config():
    import yaml

    from sparselab.paths import repo_root
    from sparselab.studies.nm_training.checks import check_config

    params = yaml.safe_load((repo_root() / "notebooks" / "params" /
                             "04_nm_training.plateau.yaml").read_text())
    assert sorted(params) == sorted(study.Config.field_names())
    cfg = study.Config.from_params(params)
    check_config(cfg)
    assert cfg.model == "s" and cfg.test_split and cfg.plateau_check and cfg.tune_budget > 0
    specs = study.run_specs(cfg)
    cells = {}
    for s in specs:
        cells.setdefault((s.recipe, s.pattern), set()).add(s.seed)
    assert min(len(v) for v in cells.values()) >= 3
    assert all(len(cells[(r, p)]) >= 5 for r in ("sr_ste", *DECAYING)
               for p in ("1:8", "1:16", "1:32", SPLIT))


# ----- plateau -------------------------------------------------------------------------------
def _run(recipe, seed, steps, bpc, curve=None, pattern="1:1", test=None):
    evals = [(s, 1e9 * s, v) for s, v in (curve or [(steps, bpc)])]
    rec = {"spec": {"recipe": recipe, "pattern": pattern, "seed": seed, "steps": steps},
           "val_bpc": bpc, "train_flops": 1e9 * steps, "evals": evals, "flips": [],
           "phases": []}
    if test is not None:
        rec["test_bpc"] = test
    return rec


def _plateau_df(full, half, curve=None):
    recs = [_run("dense", s, 100, full + 0.01 * s, curve) for s in range(3)]
    recs += [_run("dense", s, 50, half + 0.01 * s) for s in range(3)]
    return study.results_frame(recs, steps=100)


@pytest.mark.parametrize(("full", "half", "ok"), [
    (2.0, 2.015, True),   # 0.75 % better at S: a plateau
    (2.0, 2.0, True),     # no gain at all: a plateau
    (2.0, 2.03, False),   # 1.5 % better: still improving
    (2.0, 1.99, False),   # S worse than S/2: not "no worse"
])
def test_plateau_rule_on_known_numbers(full, half, ok):
    got = plateau(_plateau_df(full, half))
    assert got["plateau"] is ok and got["overfits"] is False and got["plateau_seeds"] == 3
    assert got["dense_val_bpc_half_steps"] == pytest.approx(half + 0.01)
    assert got["plateau_gain"] == pytest.approx(half - full)


def test_a_rising_validation_curve_is_not_a_plateau():
    rising = [(25, 2.5), (50, 2.0), (75, 1.9), (100, 1.95)]  # minimum before the end
    got = plateau(_plateau_df(2.0, 2.01, rising))
    assert got["overfits"] is True and got["plateau"] is False
    assert got["dense_curve_rise"] == pytest.approx(0.05)
    assert plateau(study.results_frame([_run("dense", 0, 100, 2.0)], steps=100)) == {}


def test_plateau_runs_are_not_matched_flops_runs():
    recs = [_run("dense", s, 100, 2.0) for s in range(2)]
    recs += [_run("dense", s, 50, 2.01) for s in range(2)]
    recs += [_run(r, s, 100, 2.5, pattern="1:8") for r in ("sr_ste", "mdgf_exp") for s in range(2)]
    df = study.results_frame(recs, steps=100)
    assert list(df.role).count("half") == 2 and study.table_matched_flops(df).empty
    assert study.table_summary(df).loc[("1:8", "sr_ste"), "gap_to_dense"] == pytest.approx(0.5)


# ----- test split ----------------------------------------------------------------------------
def test_final_numbers_come_from_test_when_held_out():
    recs = [_run("dense", s, 10, 2.0, test=2.2) for s in range(2)]
    recs += [_run("sr_ste", s, 10, 2.5, pattern="1:8", test=2.7) for s in range(2)]
    df = study.results_frame(recs, steps=10)
    m = study.metrics(df)
    assert m["test_bpc/dense"] == pytest.approx(2.2) and "val_bpc/dense" not in m
    assert study.table_summary(df).loc[("1:8", "sr_ste"), "gap_to_dense"] == pytest.approx(0.5)


def test_a_test_split_run_scores_test_apart_from_val(synthetic_text):
    spec = study.run_specs(_cfg(recipes=["dense"], test_split=True))[0]
    rec = study.train_run(spec)
    assert rec["spec"]["test_split"] is True
    assert np.isfinite(rec["test_bpc"]) and rec["test_bpc"] != rec["val_bpc"]


# ----- tuning --------------------------------------------------------------------------------
def test_every_recipe_gets_the_same_budget_defaults_first():
    for recipe in tuning.SPACE:
        confs = tuning.configurations(recipe, 6)
        assert len(confs) == 6 == len({json.dumps(c, sort_keys=True) for c in confs})
        assert confs[0] == {k: v[0] for k, v in tuning.SPACE[recipe].items()}
    # one knob at a time around the defaults, knobs in turn
    assert tuning.configurations("sr_ste", 4)[1:] == [
        {"sr_ste_lambda": 2e-5, "lr_scale": 1.0}, {"sr_ste_lambda": 2e-4, "lr_scale": 0.5},
        {"sr_ste_lambda": 2e-3, "lr_scale": 1.0}]
    with pytest.raises(ValueError, match="recipe 'nope' has no tuning space"):
        tuning.configurations("nope", 2)


def test_tuning_runs_and_overrides():
    cfg = study.Config.from_overrides(recipes=["dense", "sr_ste", "mdgf_exp"], tune_budget=3,
                                      tune_pattern="1:16", tune_seeds=[0, 7], lr=0.004)
    runs = tuning.tuning_specs(cfg)
    assert len(runs) == 3 * 3 * 2
    assert {r[3].pattern for r in runs if r[0] != "dense"} == {"1:16"}
    assert {r[3].seed for r in runs} == {0, 7}
    lrs = sorted({r[3].lr for r in runs if r[0] == "dense"})
    assert lrs == pytest.approx([0.002, 0.004, 0.008])
    kappas = {r[3].kappa_scale for r in runs if r[0] == "mdgf_exp"}
    assert kappas == {1.0, 0.5}


def _tuning_frame(values):
    rows = []
    for recipe, bpcs in values.items():
        for i, confs in enumerate(tuning.configurations(recipe, len(bpcs))):
            for seed, b in enumerate(bpcs[i]):
                rows.append({"recipe": recipe, "config": i,
                             "settings": json.dumps(confs, sort_keys=True), "seed": seed,
                             "val_bpc": b})
    return pd.DataFrame(rows)


def test_the_lowest_mean_validation_bpc_is_chosen_and_carried_to_every_pattern():
    cfg = study.Config.from_overrides(recipes=["dense", "sr_ste"], patterns=["1:8", "1:16"],
                                      lr=0.004)
    frame = _tuning_frame({"dense": [[2.0, 2.2], [2.1, 2.1], [2.2, 2.2]],  # tie: first wins
                           "sr_ste": [[2.5, 2.5], [2.4, 2.5], [2.6, 2.3]]})
    chosen = tuning.choose(frame, cfg)
    assert chosen == {"dense": {"lr": 0.004}, "sr_ste": {"sr_ste_lambda": 2e-5, "lr": 0.004}}
    table = tuning.table_chosen(frame, cfg)
    assert table.loc["sr_ste", "config"] == 1 and table.loc["sr_ste", "val_bpc"] == pytest.approx(2.45)
    specs = study.run_specs(cfg, chosen)
    assert {s.sr_ste_lambda for s in specs if s.recipe == "sr_ste"} == {2e-5}
    assert {s.pattern for s in specs if s.recipe == "sr_ste"} == {"1:8", "1:16"}


def test_tuning_stage_resumes_and_feeds_the_grid(synthetic_text, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "use")
    calls = []
    real = pipeline.train_run
    monkeypatch.setattr(pipeline, "train_run", lambda s: calls.append(s) or real(s))
    cfg = _cfg(recipes=["dense", "sr_ste"], patterns=["1:8"], tune_budget=2,
               tune_pattern="1:8", executor="serial")
    df = study.run(cfg)
    frame = tuning.tune(cfg)  # read back, nothing retrained
    assert len(frame) == 4 and (tmp_path / "artifacts" / "04_nm_training" / "tuning.parquet").is_file()
    chosen = study.tuned(cfg)
    # a grid run at its recipe's default configuration is that tuning run: trained once
    fresh = [chosen[r] != tuning.overrides(tuning.configurations(r, 1)[0], cfg)
             for r in ("dense", "sr_ste")]
    assert len(calls) == 4 + sum(fresh)
    sr = df[df.recipe == "sr_ste"].record.iloc[0]["spec"]
    assert all(sr[k] == v for k, v in chosen["sr_ste"].items())


def test_stages_group_every_run_of_a_seed():
    cfg = _cfg(recipes=["dense", "sr_ste", "mdgf_exp"], patterns=["1:8"], seeds=[0, 1],
               claim_seeds=[2], plateau_check=True, iso_flops_patterns=["1:8"])
    specs = study.run_specs(cfg) + study.iso_flops_specs(cfg) + study.plateau_specs(cfg)
    assert pipeline.stage_specs(specs) == [("04_nm_training/runs", specs)]
    stages = pipeline.stage_specs(specs, "seed")
    assert [n for n, _ in stages] == [f"04_nm_training/runs/seed={k}" for k in (0, 1, 2)]
    assert sorted(repr(s) for _, part in stages for s in part) == sorted(map(repr, specs))
    assert all({s.seed for s in part} == {k} for k, (_, part) in enumerate(stages))
    seed0 = {(s.recipe, s.steps) for s in stages[0][1]}
    assert ("dense", 3) in seed0 and ("sr_ste", 6) in seed0  # S/2 dense; grid SR-STE
    assert any(r == "sr_ste" and n > 6 for r, n in seed0)  # SR-STE at MDGF-exp's FLOPs
    finer = pipeline.stage_specs(specs, "seed_recipe")
    assert finer[0][0] == "04_nm_training/runs/seed=0/dense"
    assert {n for n, _ in finer} == {f"04_nm_training/runs/seed={k}/{r}" for k in (0, 1, 2)
                                     for r in ("dense", "sr_ste", "mdgf_exp")}
    assert all({(s.seed, s.recipe) for s in part} == {(int(n.split("=")[1].split("/")[0]),
                                                       n.rsplit("/", 1)[1])}
               for n, part in finer)


def test_seed_stages_are_saved_as_they_complete_and_resume(synthetic_text, monkeypatch,
                                                          tmp_path):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "use")
    cfg = _cfg(recipes=["dense", "sr_ste"], patterns=["1:8"], seeds=[0, 1], stages="seed",
               executor="serial")
    real = pipeline.train_run

    def dies_on_seed_1(spec):
        if spec.seed == 1:
            raise RuntimeError("machine lost")
        return real(spec)

    monkeypatch.setattr(pipeline, "train_run", dies_on_seed_1)
    with pytest.raises(RuntimeError, match="machine lost"):
        study.run(cfg)
    runs = tmp_path / "artifacts" / "04_nm_training" / "runs"
    assert (runs / "seed=0.parquet").is_file() and not (runs / "seed=1.parquet").exists()
    # another machine: an empty cell cache, only the committed artifacts
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache2"))
    calls = []
    monkeypatch.setattr(pipeline, "train_run", lambda s: calls.append(s) or real(s))
    df = study.run(cfg)
    assert {c.seed for c in calls} == {1} and len(calls) == 2
    assert sorted(df.seed.unique()) == [0, 1] and len(df) == 4
    # tuning of a staged design: one artifact per recipe
    tuned = dataclasses.replace(cfg, tune_budget=2, tune_pattern="1:8")
    frame = tuning.tune(tuned)
    assert sorted(frame.recipe.unique()) == ["dense", "sr_ste"] and len(frame) == 4
    assert sorted(p.name for p in (tmp_path / "artifacts" / "04_nm_training" / "tuning").iterdir()) \
        == ["dense.parquet", "sr_ste.parquet"]
    one = study.run(dataclasses.replace(cfg, stages="one"))  # same runs, one table
    key = ["recipe", "pattern", "seed"]
    pd.testing.assert_frame_equal(
        df.drop(columns=["record", "wall_s", "cpu_s"]).sort_values(key).reset_index(drop=True),
        one.drop(columns=["record", "wall_s", "cpu_s"]).sort_values(key).reset_index(drop=True))


# ----- claims with split settings ------------------------------------------------------------
NOISE = np.array([0.03, -0.03, 0.02, -0.02, 0.0])


def _split_grid(effect_split, effect_18=0.0):
    recs = [_run("dense", s, 10, 2.9 + 0.2 * s) for s in range(5)]
    for p, eff in (("1:8", effect_18), ("1:16", 0.0), ("1:32", 0.0), (SPLIT, effect_split)):
        for s in range(5):
            base = 3.0 + 0.2 * s
            recs.append(_run("sr_ste", s, 10, base, pattern=p))
            for j, r in enumerate(DECAYING):
                recs.append(_run(r, s, 10, base + eff + NOISE[(s + j) % 5], pattern=p))
    return study.results_frame(recs, steps=10)


def test_split_setting_is_a_cell_of_its_own():
    from sparselab.studies.nm_training import claims as NC

    res = NC.by_id(NC.evaluate(_split_grid(-0.2)))
    assert res["04.decaying_beat_sr_ste.split"].verdict == "agrees"
    assert res[f"04.decaying_beat_sr_ste/mdgf_exp@{SPLIT}"].verdict == "agrees"
    assert res["04.decaying_beat_sr_ste"].verdict == "inconclusive"  # uniform cells: no effect
    assert res[f"04.gap_grows/{SPLIT}"].verdict == "agrees"  # larger gap than at 1:8
    assert res["04.gap_grows"].estimate.n == 5 and np.isfinite(res["04.gap_grows"].estimate.estimate)
    # the split setting is no point of the slope over sparsity: 3 uniform patterns
    assert "3 patterns" in res["04.gap_grows"].estimate.test
    assert "split setting" in NC.answer(list(res.values()))
    assert "sr_ste_bpc@1:32" in study.headline(_split_grid(-0.2))  # highest uniform sparsity


def test_an_equal_split_setting_is_inconclusive_and_without_split_there_is_no_entry():
    from sparselab.studies.nm_training import claims as NC

    res = NC.by_id(NC.evaluate(_split_grid(0.0)))
    assert res["04.decaying_beat_sr_ste.split"].verdict == "inconclusive"
    df = _split_grid(0.0)
    plain = NC.evaluate(df[df.pattern != SPLIT])
    assert not any("split" in r.claim.id or SPLIT in r.claim.id for r in plain)


def test_limitations_say_what_the_design_did():
    d = {"model": "s", "n_params": 305664, "d_model": 96, "steps": 1200, "seeds": 3,
         "chars_per_run": 4915200, "train_chars": 1003854, "epochs": 4.9, "dense_val_bpc": 2.2,
         "trigram_val_bpc": 2.9, "dense_curve_drop_last_quarter": 0.01,
         "dense_curve_from_step": 900, "dense_val_bpc_half_steps": 2.21, "plateau_gain": 0.01,
         "plateau_gain_pct": 0.4545, "dense_curve_rise": 0.0, "overfits": False,
         "plateau": True, "plateau_seeds": 5, "seeds_claim_cells": 5}
    cfg = study.Config.from_overrides(patterns=["1:8", SPLIT], claim_seeds=[3, 4], seeds=[0, 1, 2],
                                      tune_budget=4, test_split=True, plateau_check=True)
    text = study.limitations(d, cfg)
    assert "0.45 % above the 1200-step run (5 seeds)" in text and "dense is on a plateau" in text
    assert "3 seeds (5 on the cells the claims rest on)" in text
    assert "same 4 configurations' budget" in text and "test split" in text
    assert f"Split setting(s) {SPLIT}" in text and "output projection o" in text
    overfit = study.limitations({**d, "overfits": True, "plateau": False}, cfg)
    assert "not on a plateau (its validation curve rises at the end: overfitting)" in overfit
