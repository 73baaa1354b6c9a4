"""Study 02's claims on synthetic law rows whose answers are known: a law with the paper's
signs (agrees), the opposite signs (disagrees), and pure noise (never "agrees")."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sparselab import claims as C
from sparselab import scaling
from sparselab.studies import scaling_laws as study
from sparselab.studies.scaling_laws import claims as SC

MODELS = {f"m{i}": 10 ** (4.5 + 0.3 * i) for i in range(8)}  # 8: few degenerate resamples
LENGTHS = (64, 128, 256, 512)
LEVELS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
TASKS = {"t1": 1.0, "t2": -0.5}


def law_rows(z_of, seed=0, noise=0.05, phases=("prefill", "decode")) -> pd.DataFrame:
    """Law rows with accuracy = sigmoid(z_of(log N, log L, log C) + task + noise); each model
    gets its own offset (a training run), so rows of a model are not independent."""
    rng = np.random.default_rng(seed)
    rows = []
    for phase in phases:
        for model, n in MODELS.items():
            off = rng.normal(0, noise)
            for length in LENGTHS:
                for c in LEVELS:
                    for task, d in TASKS.items():
                        z = z_of(np.log(n), np.log(length), np.log(c)) + d + off + rng.normal(0, noise)
                        rows.append({"phase": phase, "model": model, "n_params": n, "length": length,
                                     "compression": c, "task": task, "accuracy": 1 / (1 + np.exp(-z))})
    return pd.DataFrame(rows)


def paper_law(ln, ll, lc):
    return 0.8 * (ln - 12) - 0.6 * (ll - 5) - 0.5 * lc


def opposite_law(ln, ll, lc):
    return -paper_law(ln, ll, lc) + 0.5


CFG = study.Config(n_boot=200)


def res_of(df):
    return study.Results(df, None)


def by_id(results):
    return {r.claim.id: r for r in results}


def test_law_arrays_fit_and_holdout_match_the_scaling_module():
    df = law_rows(paper_law)
    df = df[df.phase == "prefill"].reset_index(drop=True)
    arr = SC.LawArrays.of(df, "logit", 0.02)
    fit = scaling.fit_scaling_law(df, link="logit", eps=0.02)
    coef = arr.fit(np.arange(len(df)))
    assert coef[:3] == pytest.approx([fit.alpha, fit.beta, fit.gamma], rel=1e-6)
    for i, axis in enumerate(SC.AXES):
        law, _ = arr.holdout(np.arange(len(df)), i)
        assert law == pytest.approx(scaling.holdout(df, axis, link="logit", eps=0.02)["r2"], rel=1e-6)
    # one model size in the rows: alpha is not identifiable and is set to 0 (the null)
    one = np.flatnonzero(df.model == "m0")
    assert arr.fit(one)[0] == 0.0


def test_signs_and_skill_agree_on_a_law_with_the_papers_signs():
    out, table = SC.evaluate(res_of(law_rows(paper_law, phases=("prefill",))), CFG)
    r = by_id(out)
    for phase in ("prefill",):
        for name in ("02.alpha_positive", "02.beta_negative", "02.gamma_negative"):
            assert r[f"{name}/{phase}"].verdict == "agrees", r[f"{name}/{phase}"].reason
        for axis in SC.AXES:
            assert r[f"02.holdout_skill/{phase}/{axis}"].verdict == "agrees"
            assert r[f"02.spearman/{phase}/{axis}"].verdict == "agrees"
    assert set(table.columns) == {"phase", "axis", "held_out", "r2_law", "r2_null", "skill"}
    assert (table.skill > 0).all()
    ids = [x.claim.id for x in out]
    assert len(ids) == len(set(ids))
    C.claims_json(out)  # serialisable


def test_signs_disagree_on_the_opposite_law():
    r = by_id(SC.evaluate(res_of(law_rows(opposite_law, phases=("decode",))), CFG)[0])
    for name in ("02.alpha_positive", "02.beta_negative", "02.gamma_negative"):
        assert r[f"{name}/decode"].verdict == "disagrees", r[f"{name}/decode"].reason


def test_pure_noise_agrees_no_more_often_than_alpha():
    # accuracy independent of every axis: each claim may "agree" by chance at rate ~alpha
    # (5 %), so over 10 noise grids at most 2 agreements per claim (P(>= 3) ~ 1 %)
    agrees: dict[str, int] = {}
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        df = law_rows(lambda *a: 0.0, seed=seed, phases=("prefill",))
        df["accuracy"] = rng.uniform(0.2, 0.9, len(df))
        arr = SC.LawArrays.of(df, "logit", 0.02)
        out = SC.sign_claims(arr, "prefill", 100) + SC.skill_claims(arr, "prefill", 100)[0]
        out += SC.spearman_claims(arr, df, "prefill")
        for x in out:
            agrees[x.claim.id] = agrees.get(x.claim.id, 0) + (x.verdict == "agrees")
    assert len(agrees) == 9
    assert max(agrees.values()) <= 2, agrees


def _budget_law(sign):
    def z_of(ln, ll, lc):
        # relative error = 0.02 * C * (L / 64)^(sign * 0.5): the C within 10 % grows with L
        # (sign -1: budget ~ L^0.5, sub-linear) or shrinks (sign +1: super-linear)
        rel = 0.02 * np.exp(lc) * np.exp(sign * 0.5 * (ll - np.log(64)))
        acc = 0.9 * (1 - min(rel, 0.9))
        return np.log(acc / (1 - acc))
    return z_of


def test_budget_exponent_agrees_disagrees_and_caps():
    cfg = study.Config(n_boot=200, target_errors=[0.1])
    sub = by_id(SC.evaluate(res_of(law_rows(_budget_law(-1), noise=0.01, phases=("decode",))), cfg)[0])
    r = sub["02.budget_sublinear/decode/err=0.1"]
    assert r.verdict == "agrees" and r.estimate.estimate < 1, r.reason
    sup = by_id(SC.evaluate(res_of(law_rows(_budget_law(+1), noise=0.01, phases=("decode",))), cfg)[0])
    assert sup["02.budget_sublinear/decode/err=0.1"].verdict == "disagrees"
    flat = law_rows(lambda ln, ll, lc: 2.0, noise=0.0, phases=("decode",))
    cap = by_id(SC.evaluate(res_of(flat), cfg)[0])["02.budget_sublinear/decode/err=0.1"]
    assert cap.verdict == "untestable" and "saturates" in cap.reason


def test_constant_accuracy_is_untestable_not_a_verdict_on_rounding_noise():
    # models that learned nothing (accuracy 0 everywhere): an exact fit whose coefficients are
    # rounding residue (~1e-16) must not read as a significant sign
    df = law_rows(lambda *a: 0.0, noise=0.0, phases=("decode",))
    df["accuracy"] = 0.0
    out, table = SC.evaluate(res_of(df), CFG)
    verdicts = {r.claim.id: r.verdict for r in out}
    assert all(v == "untestable" for k, v in verdicts.items() if not k.startswith("02.budget")), verdicts
    assert table.empty


def _seeded_sizes(offsets=(-1.0, 0.0, 1.0), seeds=4, seed=0):
    """Three sizes, `seeds` training seeds each; accuracy does not depend on N except through
    one random offset per *size* (what a size's training recipe happens to give), tiny per seed."""
    rng = np.random.default_rng(seed)
    rows = []
    for (size, n), off in zip({"a": 1e4, "b": 1e5, "c": 1e6}.items(), offsets):
        for k in range(seeds):
            inst = f"{size}-seed{k}"
            s_off = rng.normal(0, 0.02)
            for length in LENGTHS:
                for c in LEVELS:
                    for task, d in TASKS.items():
                        z = off + s_off + d - 0.5 * np.log(c) + rng.normal(0, 0.02)
                        rows.append({"phase": "prefill", "model": inst, "n_params": n,
                                     "length": length, "compression": c, "task": task,
                                     "accuracy": 1 / (1 + np.exp(-z))})
    return pd.DataFrame(rows)


def test_seeds_of_one_size_are_one_cluster():
    assert list(SC.family_member(["d64_l2-seed1", "d64_l2", "xs"])) == ["d64_l2", "d64_l2", "xs"]
    df = _seeded_sizes()
    arr = SC.LawArrays.of(df, "logit", 0.02)
    assert sorted(set(arr.model)) == ["a", "b", "c"]
    alpha = by_id(SC.sign_claims(arr, "prefill", 300))["02.alpha_positive/prefill"]
    # three sizes are three observations of N: a CI from 12 seed-clusters would exclude 0
    assert alpha.verdict == "inconclusive", alpha.reason
    by_seed = dataclasses.replace(arr, model=df.model.to_numpy())
    assert by_id(SC.sign_claims(by_seed, "prefill", 300))["02.alpha_positive/prefill"].verdict \
        == "agrees"
