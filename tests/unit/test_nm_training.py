"""Study 04 plumbing: grid, one tiny training run (synthetic text), FLOPs, caching, tables."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import pipeline
from sparselab.studies.nm_training.tables import _curve_at


@pytest.fixture
def synthetic_text(monkeypatch):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, 6000).astype(np.int64)
    monkeypatch.setattr(pipeline, "char_splits", lambda text: ({"train": ids[:5000],
                                                              "val": ids[5000:]}, 20))


def _cfg(**kw):
    base = {"steps": 6, "batch_size": 2, "seq_len": 16, "eval_every": 2, "flip_every": 2,
            "val_windows": 4, "workers": 1, "seeds": [0]}
    base.update(kw)
    return study.Config.from_overrides(**base)


def test_grid_runs_dense_once_per_seed():
    cfg = study.Config.from_overrides(patterns=["2:4", "1:8"], seeds=[0, 1, 2],
                                      recipes=["dense", "ste", "sr_ste"])
    specs = study.run_specs(cfg)
    assert len(specs) == 3 * (1 + 2 * 2)
    assert sum(s.recipe == "dense" for s in specs) == 3
    assert len({s.slug() for s in specs}) == len(specs)


def test_tiny_run_records_curves_flips_and_flops(synthetic_text):
    from sparselab.models.lm import flops_per_token

    spec = study.run_specs(_cfg(recipes=["dense", "mdgf_exp"], patterns=["1:8"]))
    dense, mdgf = (study.train_run(s) for s in spec)
    for rec in (dense, mdgf):
        assert [e[0] for e in rec["evals"]] == [2, 4, 6]
        assert np.isfinite(rec["val_bpc"]) and rec["val_bpc"] > 0
        assert [f[0] for f in rec["flips"]] == [2, 4, 6]
    # dense: every step costs 3 x forward FLOPs of the whole model (mean causal context)
    from sparselab.models.lm import build_model

    tokens, model_cfg = 2 * 16, build_model("xs", vocab_size=20).cfg
    per_step = 3 * flops_per_token(model_cfg, 17 / 2) * tokens
    assert dense["train_flops"] == pytest.approx(6 * per_step)
    # mdgf: 1 warm-up + 4 decay steps dense; the final step's N:M layers cost (1/8 + 1/8 + 1)/3.
    # xs: 3 layers of q, k, v, o (64 x 64 each) and an MLP 64 -> 128 -> 64.
    assert (model_cfg.n_layers, model_cfg.n_kv_heads * model_cfg.head_dim, model_cfg.d_mlp) == (3, 64, 128)
    nm = 3 * 2 * tokens * (3 * (64 * 64 * 4 + 64 * 128 * 2))
    final = per_step - nm + nm * (1 / 8 + 1 / 8 + 1) / 3
    assert mdgf["train_flops"] == pytest.approx(5 * per_step + final)
    assert [p[1] for p in mdgf["phases"]] == ["dense", "decay", "final"]


def test_cached_run_is_reused(synthetic_text, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))
    calls = []
    real = pipeline.train_run
    monkeypatch.setattr(pipeline, "train_run", lambda s: calls.append(s) or real(s))
    spec = study.run_specs(_cfg(recipes=["ste"], patterns=["1:4"]))[0]
    first = study.cached_run(spec)
    second = study.cached_run(spec)
    assert len(calls) == 1 and first["val_bpc"] == second["val_bpc"]


def _fake(recipe, pattern, seed, bpc, flops, evals=()):
    return {"spec": {"recipe": recipe, "pattern": pattern, "seed": seed, "steps": 10},
            "val_bpc": bpc, "train_flops": flops, "wall_s": 1.0, "cpu_s": 1.0,
            "evals": list(evals), "flips": [(5, 0.02), (10, 0.01)], "phases": []}


def test_tables_on_known_numbers():
    g = 1e9
    recs = [_fake("dense", "1:1", s, 2.0 + 0.1 * s, 600 * g) for s in range(3)]
    recs += [_fake("sr_ste", "1:8", s, 2.5 + 0.1 * s, 300 * g,
                   [(5, 150 * g, 3.0), (10, 300 * g, 2.5)]) for s in range(3)]
    recs += [_fake("mdgf_exp", "1:8", s, 2.4 + 0.1 * s + 0.01 * (s == 2), 600 * g,
                   [(5, 300 * g, 3.2), (10, 600 * g, 2.4)]) for s in range(3)]
    df = study.results_frame(recs)
    summ = study.table_summary(df)
    assert summ.loc[("1:8", "sr_ste"), "gap_to_dense"] == pytest.approx(0.5)
    pv = study.paired_vs(df)
    assert pv.loc[("1:8", "mdgf_exp"), "diff_bpc"] == pytest.approx(-0.1 + 0.01 / 3, abs=1e-4)
    iso = study.table_iso_flops(df)
    assert iso.loc[("1:8", "sr_ste"), "budget_gflops"] == pytest.approx(300)
    assert iso.loc[("1:8", "mdgf_exp"), "bpc_at_budget"] == pytest.approx(3.2)  # first point
    assert iso.loc[("1:8", "mdgf_exp"), "flops_used_x"] == pytest.approx(2.0)
    assert study.metrics(df)["val_bpc/dense"] == pytest.approx(2.1)
    assert isinstance(study.table_flips(df), pd.DataFrame)


def test_curve_interpolation_outside_range_is_nan():
    rec = {"evals": [(5, 100.0, 3.0), (10, 200.0, 2.0)]}
    assert _curve_at(rec, 150.0) == pytest.approx(2.5)
    assert np.isnan(_curve_at(rec, 50.0)) and np.isnan(_curve_at(rec, 250.0))


def test_iso_flops_specs_match_mdgf_flops():
    cfg = study.Config.from_overrides(steps=40, seeds=[0], iso_flops_patterns=["1:8"])
    (spec,) = study.iso_flops_specs(cfg)
    assert spec.recipe == "sr_ste" and spec.steps > 40
    target = study.schedule_flops(dataclasses.replace(spec, recipe="mdgf_exp", steps=40))
    assert study.schedule_flops(spec) == pytest.approx(target, rel=0.03)


def test_matched_flops_table_uses_extended_runs():
    g = 1e9
    recs = [_fake("dense", "1:1", s, 2.0, 600 * g) for s in range(2)]
    recs += [_fake("sr_ste", "1:8", s, 2.5, 300 * g, [(10, 300 * g, 2.5)]) for s in range(2)]
    recs += [_fake("mdgf_exp", "1:8", s, 2.4 + 0.1 * s, 600 * g, [(10, 600 * g, 2.4)])
             for s in range(2)]
    long = [_fake("sr_ste", "1:8", s, 2.3, 600 * g, [(20, 600 * g, 2.3)]) for s in range(2)]
    for r in long:
        r["spec"]["steps"] = 20
    df = study.results_frame(recs + long, steps=10)
    assert df.extended.sum() == 2
    assert study.table_summary(df).loc[("1:8", "sr_ste"), "bpc"] == pytest.approx(2.5)
    t = study.table_matched_flops(df)
    assert t.loc["1:8", "sr_ste_long"] == pytest.approx(2.3)
    assert t.loc["1:8", "mdgf_exp_minus_long"] == pytest.approx(0.15)
    assert t.loc["1:8", "flops_ratio"] == pytest.approx(1.0)
    assert study.headline(df)["sr_ste_bpc@1:8"] == pytest.approx(2.5)  # extended runs left out


@pytest.mark.parametrize(("overrides", "message"), [
    ({"recipes": ["dense", "sr_stee"]}, "unknown recipe 'sr_stee'"),
    ({"patterns": ["1:8", "8:8"]}, "pattern '8:8' has N = 8 >= M = 8"),
    ({"patterns": ["5:4"]}, "'5:4'"),
    ({"patterns": ["1:8", "one in eight"]}, "'one in eight' is not an N:M pattern"),
    ({"patterns": ["1:3"]}, "M = 3 does not divide the input width 64 of layer"),
    ({"patterns": ["1:256"]}, "M = 256 does not divide the input width 64"),
    ({"iso_flops_patterns": ["1:48"]}, "iso_flops_patterns: pattern '1:48'"),
    ({"iso_flops_patterns": ["1:16"]}, "'1:16' is not in patterns"),
    ({"model": "xxl"}, "unknown model 'xxl'"),
    ({"patterns": ["1:8", "ff=1:32,mlp=1:8"]}, "unknown layer group 'mlp'"),
    ({"patterns": ["ff=1:32,attn=8:8"]}, "attn=8:8 has N = 8 >= M = 8"),
    ({"seeds": []}, "seeds: [] must be non-empty"),
])
def test_bad_input_fails_naming_the_value_before_training(overrides, message, monkeypatch):
    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(pipeline, "train_run", never)
    monkeypatch.setattr(pipeline, "schedule_flops", never)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        study.run(_cfg(**overrides))


def test_good_profiles_pass_the_checks():
    import yaml

    from sparselab.paths import repo_root
    from sparselab.studies.nm_training.checks import check_config

    for profile in ("smoke", "full"):
        params = yaml.safe_load((repo_root() / "notebooks" / "params" /
                                 f"04_nm_training.{profile}.yaml").read_text())
        check_config(study.Config.from_params(params))


def test_runs_artifact_round_trip_without_retraining(synthetic_text, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "use")
    cfg = _cfg(recipes=["dense", "sr_ste", "mdgf_exp"], patterns=["1:8"], seeds=[0, 1],
               iso_flops_patterns=["1:8"])
    built = study.run(cfg)
    assert (tmp_path / "artifacts" / "04_nm_training" / "runs.parquet").is_file()
    assert built.extended.sum() == 2 and len(built) == 2 * 3 + 2
    monkeypatch.setattr(pipeline, "train_run", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "require")
    loaded = study.run(cfg)
    cols = ["recipe", "pattern", "seed", "steps", "extended", "val_bpc", "train_flops", "cpu_s"]
    pd.testing.assert_frame_equal(built[cols], loaded[cols])
    assert [r["evals"] for r in built.record] == [r["evals"] for r in loaded.record]
    assert study.metrics(built) == study.metrics(loaded)
    assert "cpu_s/total" not in study.metrics(loaded) and study.timings(loaded)["runs"] == 8
