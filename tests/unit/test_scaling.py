"""The scaling-law fit recovers known coefficients from noisy synthetic data."""
import numpy as np
import pandas as pd
import pytest

from sparselab.scaling import bootstrap, budget_for_error, fit_power, fit_scaling_law, holdout, r2

TRUE = {"alpha": 0.8, "beta": -0.5, "gamma": -0.6, "delta": {"a": 1.0, "b": -0.5, "c": 0.3}}


def synthetic(noise=0.05, seed=0, link="logit"):
    rng = np.random.default_rng(seed)
    rows = []
    for n in (1e5, 3e5, 1e6, 3e6):
        for length in (256, 512, 1024, 2048):
            for c in (1, 2, 4, 8, 16, 32):
                for task, d in TRUE["delta"].items():
                    z = (TRUE["alpha"] * np.log(n / 1e5) + TRUE["beta"] * np.log(length / 256)
                         + TRUE["gamma"] * np.log(c) + d)
                    # express intercept shifts through the logs so the law holds exactly
                    rows.append({"n_params": n, "length": length, "compression": c, "task": task,
                                 "z": z + rng.normal(0, noise)})
    df = pd.DataFrame(rows)
    df["accuracy"] = 1 / (1 + np.exp(-df["z"])) if link == "logit" else df["z"]
    return df


def test_recovers_coefficients_logit():
    fit = fit_scaling_law(synthetic(), link="logit", eps=1e-9)
    assert fit.alpha == pytest.approx(0.8, abs=0.03)
    assert fit.beta == pytest.approx(-0.5, abs=0.03)
    assert fit.gamma == pytest.approx(-0.6, abs=0.03)
    # delta absorbs the reference point of each log: delta_t + alpha*log(1e5) ... checked via gaps
    assert fit.delta["a"] - fit.delta["b"] == pytest.approx(1.5, abs=0.03)


def test_recovers_coefficients_identity_and_predicts():
    df = synthetic(noise=0.01, link="identity")
    fit = fit_scaling_law(df, link="identity")
    assert (fit.alpha, fit.beta, fit.gamma) == pytest.approx((0.8, -0.5, -0.6), abs=0.01)
    assert r2(df["accuracy"].to_numpy(), fit.predict(df)) > 0.99


def test_holdout_reports_r2_and_spearman():
    out = holdout(synthetic(), "C")
    assert out["held_out"] == 32 and out["n_test"] == 4 * 4 * 3
    assert out["r2"] > 0.9
    assert all(r > 0.9 for r, _ in out["spearman"].values())


def test_bootstrap_ci_covers_truth():
    ci = bootstrap(synthetic(noise=0.1), n_boot=200, seed=1)
    for name in ("alpha", "beta", "gamma"):
        assert ci.loc[name, "ci_low"] < TRUE[name] < ci.loc[name, "ci_high"]


def test_bad_input_names_the_problem():
    df = synthetic().drop(columns=["task"])
    with pytest.raises(ValueError, match="task"):
        fit_scaling_law(df)
    with pytest.raises(ValueError, match="unknown link"):
        fit_scaling_law(synthetic(), link="probit")
    with pytest.raises(ValueError, match="unknown axis"):
        holdout(synthetic(), "D")


def test_budget_for_error_and_power_fit():
    df = pd.DataFrame({"length": [100] * 3 + [400] * 3, "compression": [1, 2, 4] * 2,
                       "accuracy": [1.0, 0.96, 0.7, 1.0, 0.99, 0.96]})
    b = budget_for_error(df, target=0.05).set_index("length")
    assert b.loc[100, "budget_fraction"] == 0.5 and b.loc[400, "budget_fraction"] == 0.25
    k, a = fit_power(np.array([1.0, 2, 4]), 3 * np.array([1.0, 2, 4]) ** 0.5)
    assert (k, a) == pytest.approx((0.5, 3.0))


def test_budget_for_error_without_usable_dense_is_an_empty_table():
    df = pd.DataFrame({"length": [100, 100], "compression": [1, 4], "accuracy": [0.0, 0.0]})
    b = budget_for_error(df, target=0.1)
    assert b.empty and list(b.columns) == ["length", "budget_fraction", "budget_tokens"]
