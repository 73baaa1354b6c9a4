"""The claims layer: every test and every verdict on inputs whose answer is known."""
from __future__ import annotations

import json
import math
import re
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sparselab import claims as C
from sparselab.reports.writer import ReportWriter


def claim(hypothesis="greater", margin=None, **kw):
    return C.Claim(id=kw.pop("id", f"t.{hypothesis}"), claim="A vs B", paper_value=0.1,
                   paper_source="synthetic", hypothesis=hypothesis, margin=margin, **kw)


def shifted(shift, n=200, noise=0.05, seed=0):
    """Paired scores b and a = b + shift + noise."""
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.2, 0.8, n)
    return b + shift + rng.normal(0, noise, n), b


# --- paired difference -------------------------------------------------------------------------

def test_paired_difference_matches_scipy_t_interval():
    a, b = shifted(0.02, n=50)
    est = C.paired_difference(a, b)
    d = a - b
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert est.estimate == pytest.approx(d.mean())
    assert (est.ci_low, est.ci_high) == pytest.approx((ci.low, ci.high))
    assert est.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert est.n == 50 and est.ci_level == 0.95


@pytest.mark.parametrize("shift,hyp,verdict", [
    (0.02, "greater", "agrees"), (-0.02, "greater", "disagrees"), (0.0, "greater", "inconclusive"),
    (-0.02, "less", "agrees"), (0.02, "less", "disagrees")])
def test_directional_verdicts(shift, hyp, verdict):
    c = claim(hyp)
    a, b = shifted(shift, seed=1)
    res = C.judge(c, C.paired_test(a, b, claim=c))
    assert res.verdict == verdict, res.reason


def test_constant_difference_is_decided_without_nan():
    b = np.linspace(0, 1, 10)
    assert C.judge(claim(), C.paired_difference(b + 0.1, b)).verdict == "agrees"
    assert C.judge(claim(), C.paired_difference(b, b)).verdict == "inconclusive"


# --- equivalence (TOST) and non-inferiority ------------------------------------------------------

@pytest.mark.parametrize("shift,n,noise,verdict", [
    (0.005, 400, 0.02, "agrees"),       # CI well inside ±0.02
    (0.10, 400, 0.02, "disagrees"),     # CI wholly above +0.02
    (-0.10, 400, 0.02, "disagrees"),    # CI wholly below -0.02
    (0.0, 8, 0.2, "inconclusive")])     # CI wider than the margin
def test_equivalence_verdicts(shift, n, noise, verdict):
    c = claim("equivalent", margin=0.02)
    a, b = shifted(shift, n=n, noise=noise, seed=2)
    est = C.equivalence(a, b, claim=c)
    assert est.ci_level == pytest.approx(0.90) and est.p_kind == "tost"
    res = C.judge(c, est)
    assert res.verdict == verdict, res.reason


def test_tost_p_is_the_larger_one_sided_p():
    a, b = shifted(0.004, n=60, noise=0.03, seed=3)
    d, m = a - b, 0.01
    p_lo = stats.ttest_1samp(d, -m, alternative="greater").pvalue
    p_hi = stats.ttest_1samp(d, m, alternative="less").pvalue
    assert C.equivalence(a, b, m).p_value == pytest.approx(max(p_lo, p_hi))


@pytest.mark.parametrize("shift,n,noise,verdict", [
    (-0.01, 300, 0.02, "agrees"), (-0.2, 300, 0.02, "disagrees"), (-0.05, 10, 0.3, "inconclusive")])
def test_noninferiority_verdicts(shift, n, noise, verdict):
    c = claim("noninferior", margin=0.05)
    a, b = shifted(shift, n=n, noise=noise, seed=4)
    est = C.noninferiority(a, b, claim=c)
    d = a - b
    assert est.p_value == pytest.approx(stats.ttest_1samp(d, -0.05, alternative="greater").pvalue)
    assert C.judge(c, est).verdict == verdict


def test_noninferiority_agrees_when_a_is_better():
    c = claim("noninferior", margin=0.05)
    assert C.judge(c, C.paired_test(*shifted(0.1), claim=c)).verdict == "agrees"


# --- families: Holm, sign test, meta-analysis -------------------------------------------------

def test_holm_matches_hand_computation():
    ests = {k: C.Estimate(0.0, -1, 1, 0.95, 10, "t", p, "two-sided")
            for k, p in zip("abcd", [0.01, 0.04, 0.03, 0.005], strict=True)}
    adj = {k: e.p_value for k, e in C.holm(ests).items()}
    # sorted p: 0.005 (d), 0.01 (a), 0.03 (c), 0.04 (b); times 4, 3, 2, 1; running max
    assert adj == pytest.approx({"d": 0.02, "a": 0.03, "c": 0.06, "b": 0.06})
    assert list(adj) == list("abcd")


def test_holm_adjust_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(13)
    for k in (1, 2, 7, 30):
        p = rng.uniform(0, 0.2, k) ** 2
        p[: k // 3] = p[0]  # ties
        assert C.holm_adjust(p) == pytest.approx(multipletests(p, method="holm")[1])


def test_cell_tests_holm_and_bonferroni_ci():
    c = claim("greater")
    cells = {"strong1": shifted(0.05, seed=5), "strong2": shifted(0.04, seed=6),
             "null": shifted(0.0, seed=7), "worse": shifted(-0.05, seed=8)}
    ests = C.cell_tests(cells, c)
    # the null cell is not rejected: Bonferroni's 1 - alpha/k; rejected cells get their Holm step
    assert ests["null"].ci_level == pytest.approx(1 - 0.05 / 4)
    assert all(1 - 0.05 - 1e-12 <= e.ci_level <= 1 - 0.05 / 4 + 1e-12 for e in ests.values())
    raw = C.paired_difference(*cells["null"]).p_value
    assert ests["null"].p_value >= raw
    verdicts = {r.claim.id: r.verdict for r in C.judge_family(c, ests)}
    assert verdicts == {"t.greater/strong1": "agrees", "t.greater/strong2": "agrees",
                        "t.greater/null": "inconclusive", "t.greater/worse": "disagrees"}


@pytest.mark.parametrize("hypothesis", ["greater", "equivalent"])
def test_cell_tests_ci_agrees_with_holm_verdict(hypothesis):
    # a cell Holm calls significant has a CI that says so (excludes the null / lies inside the
    # margins), and a cell it does not has a CI that does not: no "disagrees" beside a CI that
    # crosses zero. Many random families with effects near the decision boundary.
    c = claim(hypothesis, margin=0.03) if hypothesis == "equivalent" else claim(hypothesis)
    rng = np.random.default_rng(21)
    checked = 0
    for fam in range(40):
        k = int(rng.integers(2, 9))
        cells = {f"c{i}": shifted(float(rng.normal(0, 0.02)), n=int(rng.integers(5, 40)),
                                  noise=0.05, seed=1000 * fam + i) for i in range(k)}
        for key, e in C.cell_tests(cells, c).items():
            sig = e.p_value < c.alpha
            if hypothesis == "greater":
                shown = e.ci_low > 0 or e.ci_high < 0
            else:
                shown = -c.margin < e.ci_low and e.ci_high < c.margin
            assert sig == shown, (fam, key, e)
            checked += sig
    assert checked > 10  # the test saw significant cells, not only nulls


def test_cell_tests_tost_family():
    c = claim("equivalent", margin=0.03)
    ests = C.cell_tests({"same": shifted(0.0, n=300, noise=0.02, seed=9),
                         "far": shifted(0.2, n=300, noise=0.02, seed=10)}, c)
    assert [r.verdict for r in C.judge_family(c, ests)] == ["agrees", "disagrees"]


def test_judge_all_every_cell_must_agree():
    c = claim(id="03.both_best")
    win = {"vs_pre": shifted(0.05, seed=50), "vs_post": shifted(0.04, seed=51)}
    r = C.judge_all(c, {k: C.paired_test(*ab, claim=c) for k, ab in win.items()})
    assert r.verdict == "agrees" and r.claim.id == "03.both_best" and "2 of 2" in r.reason
    tie = win | {"vs_none": shifted(0.0, seed=52)}
    r = C.judge_all(c, {k: C.paired_test(*ab, claim=c) for k, ab in tie.items()})
    assert r.verdict == "inconclusive" and "vs_none" in r.reason
    lose = win | {"vs_none": shifted(-0.05, seed=53)}
    r = C.judge_all(c, {k: C.paired_test(*ab, claim=c) for k, ab in lose.items()})
    assert r.verdict == "disagrees" and "vs_none" in r.reason


def test_judge_any_needs_one_cell_after_holm():
    c = claim("less", id="01.hurts_one_task")
    cells = {f"task{i}": shifted(0.0, seed=60 + i) for i in range(5)}
    ests = {k: C.paired_test(*ab, claim=c) for k, ab in cells.items()}
    assert C.judge_any(c, ests).verdict == "inconclusive"
    ests["task4"] = C.paired_test(*shifted(-0.05, seed=70), claim=c)
    r = C.judge_any(c, ests)
    assert r.verdict == "agrees" and "task4" in r.estimate.test
    all_better = {f"t{i}": C.paired_test(*shifted(0.05, seed=80 + i), claim=c) for i in range(3)}
    assert C.judge_any(c, all_better).verdict == "disagrees"


def test_judge_any_on_noise_is_holm_controlled():
    c = claim()
    hits = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        ests = {f"c{i}": C.paired_difference(rng.normal(0, 1, 20), rng.normal(0, 1, 20))
                for i in range(10)}
        hits += C.judge_any(c, ests).verdict == "agrees"
    assert hits <= 8  # family-wise alpha/2 = 2.5 expected; without Holm about 22


def test_trend_matches_linregress():
    x = np.log2([2, 4, 8, 16, 32])
    y = 0.01 * x + np.array([0.001, -0.002, 0.0, 0.002, -0.001])
    est = C.trend(x, y)
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, 3) * fit.stderr
    assert est.estimate == pytest.approx(fit.slope) and est.p_value == pytest.approx(fit.pvalue)
    assert (est.ci_low, est.ci_high) == pytest.approx((fit.slope - half, fit.slope + half))
    assert C.judge(claim(), est).verdict == "agrees"
    assert C.judge(claim("less"), C.trend(x, -y)).verdict == "agrees"
    assert C.judge(claim(), C.trend(x, [0.1, 0.3, 0.1, 0.3, 0.1])).verdict == "inconclusive"
    with pytest.raises(ValueError, match="x is constant"):
        C.trend([1, 1, 1], [1, 2, 3])


def test_normal_estimate_against_a_paper_value():
    """"Our R^2 skill equals the paper's 0.6 within 0.1": estimate vs a constant."""
    eq = claim("equivalent", margin=0.1)
    est = C.normal_estimate(0.62, 0.02, 40, "R^2 skill", claim=eq, null=0.6)
    assert est.p_kind == "tost" and C.judge(eq, est).verdict == "agrees"
    far = C.normal_estimate(0.2, 0.02, 40, "R^2 skill", claim=eq, null=0.6)
    assert C.judge(eq, far).verdict == "disagrees"
    t = C.normal_estimate(1.0, 0.4, 5, "coef", df=4)
    assert t.p_value == pytest.approx(2 * stats.t.sf(2.5, 4))


def test_families_are_adjusted_once():
    c = claim()
    cells = {"a": shifted(0.03, seed=90), "b": shifted(0.0, seed=7)}
    ests = C.cell_tests(cells, c)
    assert all(e.family == 2 for e in ests.values())
    with pytest.raises(ValueError, match="already adjusted"):
        C.holm(ests)
    r = C.judge_all(c, ests)  # uses the cell_tests p-values, not Holm of Holm
    assert r.estimate.p_value == ests["b"].p_value and r.verdict == "inconclusive"
    boot = C.cell_tests(cells, c, test=C.bootstrap_difference)
    assert boot["a"].ci_level == pytest.approx(0.975) and "Bonferroni over 2" in boot["a"].test
    assert C.judge_any(c, boot).verdict == "agrees"
    raw_boot = {k: C.bootstrap_difference(*ab, claim=c) for k, ab in cells.items()}
    with pytest.raises(ValueError, match="build it with cell_tests"):
        C.judge_any(c, raw_boot)


def test_sign_test_known_counts():
    est = C.sign_test([1, 2, 3, 1, 1, 2, 5, 1, 2, -1, 0])  # 9 wins, 1 loss, 1 tie
    assert est.n == 10 and est.estimate == pytest.approx(0.9)
    assert est.p_value == pytest.approx(22 / 1024)  # 2 * P(X >= 9), X ~ Bin(10, 1/2)
    assert C.judge(claim("greater"), est).verdict == "agrees"
    assert C.judge(claim("less"), est).verdict == "disagrees"
    assert C.judge(claim(), C.sign_test([1, 1, 1, 1, 1, 1, -1, -1, -1, -1])).verdict == \
        "inconclusive"
    with pytest.raises(ValueError, match="sign test only tests"):
        C.sign_test([1, 2], claim=claim("equivalent", margin=0.1))


def _dl_by_hand(y, v):
    w = 1 / v
    fe = (w * y).sum() / w.sum()
    q = (w * (y - fe) ** 2).sum()
    tau2 = max(0.0, (q - (len(y) - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    ws = 1 / (v + tau2)
    mu = (ws * y).sum() / ws.sum()
    return mu, math.sqrt(1 / ws.sum()), tau2


def test_meta_analysis_matches_dersimonian_laird_by_hand():
    y, v = np.array([0.10, 0.30, 0.20, -0.10]), np.array([0.010, 0.020, 0.015, 0.010])
    mu, se, tau2 = _dl_by_hand(y, v)
    assert tau2 > 0  # heterogeneous on purpose, so tau2 matters
    est = C.meta_analysis(y, v)
    assert est.estimate == pytest.approx(mu)
    assert est.extra["tau2"] == pytest.approx(tau2)
    assert (est.ci_low, est.ci_high) == pytest.approx((mu - 1.959964 * se, mu + 1.959964 * se))
    assert est.p_value == pytest.approx(2 * stats.norm.sf(abs(mu) / se))
    assert est.n == 4 and "tau2=" in est.test
    assert C.judge(claim(), est).verdict == "inconclusive"


def test_meta_analysis_truncates_tau2_at_zero_and_holds_its_level_on_noise():
    # cells more alike than their noise (Q < k - 1): DL's tau2 is max(0, .) = 0, the pool is
    # the fixed-effect one; an untruncated negative tau2 would make the CI too narrow
    y, v = np.array([0.001, -0.001, 0.0005, 0.0]), np.array([0.01, 0.01, 0.01, 0.01])
    est = C.meta_analysis(y, v)
    assert est.extra["tau2"] == 0.0 and est.extra["i2"] == 0.0
    assert est.ci_high - est.estimate == pytest.approx(1.959964 * math.sqrt(1 / (1 / v).sum()))
    rng = np.random.default_rng(7)  # 400 pooled tests of 12 noise-only cells: level ~ 0.05
    hits = 0
    for _ in range(400):
        effects = rng.normal(0, 0.002, 12)
        hits += C.meta_analysis(effects, np.full(12, 0.002 ** 2)).p_value < 0.05
    assert hits / 400 < 0.08


def test_meta_verdicts_on_known_effects():
    pos = {f"d{i}": shifted(0.03, n=100, seed=20 + i) for i in range(4)}
    assert C.judge(claim(), C.meta_paired(pos, claim=claim())).verdict == "agrees"
    neg = {f"d{i}": shifted(-0.03, n=100, seed=30 + i) for i in range(4)}
    assert C.judge(claim(), C.meta_paired(neg, claim=claim())).verdict == "disagrees"
    eq = claim("equivalent", margin=0.02)
    same = {f"d{i}": shifted(0.0, n=300, noise=0.02, seed=40 + i) for i in range(3)}
    est = C.meta_paired(same, claim=eq)
    assert est.p_kind == "tost" and C.judge(eq, est).verdict == "agrees"


# --- bootstrap --------------------------------------------------------------------------------

def test_bootstrap_is_seeded_and_matches_vectorised_difference():
    a, b = shifted(0.02, n=80, seed=11)
    data = np.column_stack([a, b])
    gen = C.bootstrap(data, lambda s: float((s[:, 0] - s[:, 1]).mean()), n_boot=500, seed=3)
    vec = C.bootstrap_difference(a, b, n_boot=500, seed=3)
    assert (gen.ci_low, gen.ci_high) == pytest.approx((vec.ci_low, vec.ci_high))
    again = C.bootstrap_difference(a, b, n_boot=500, seed=3)
    assert (again.ci_low, again.ci_high) == (vec.ci_low, vec.ci_high)
    other = C.bootstrap_difference(a, b, n_boot=500, seed=4)
    assert (other.ci_low, other.ci_high) != (vec.ci_low, vec.ci_high)
    assert C.judge(claim(), vec).verdict == "agrees"
    assert C.judge(claim("less"), vec).verdict == "disagrees"


def _clustered(n_clusters=20, rows=10, seed=0):
    """Null data with a strong per-cluster effect: rows of a cluster are not independent."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_clusters), rows)
    d = rng.normal(0, 1, n_clusters)[labels] + rng.normal(0, 0.1, labels.size)
    return d, np.zeros_like(d), labels


def test_cluster_bootstrap_resamples_whole_clusters():
    d, zero, labels = _clustered()
    row = C.bootstrap_difference(d, zero, n_boot=1000)
    clu = C.bootstrap_difference(d, zero, clusters=labels, n_boot=1000, unit="queries")
    assert clu.n == 20 and row.n == 200 and "20 queries" in clu.test
    # the cluster CI is ~sqrt(rows) = 3x wider, as it must be for correlated rows
    assert (clu.ci_high - clu.ci_low) > 2.5 * (row.ci_high - row.ci_low)
    df = pd.DataFrame({"d": d, "q": labels})
    gen = C.bootstrap(df, lambda s: s["d"].mean(), clusters=df["q"], n_boot=1000)
    assert (gen.ci_low, gen.ci_high) == pytest.approx((clu.ci_low, clu.ci_high), abs=0.05)


def test_cluster_bootstrap_is_calibrated_where_row_bootstrap_is_not():
    c = claim()
    agree = {"rows": 0, "clusters": 0}
    for seed in range(100):
        d, zero, labels = _clustered(seed=seed)
        agree["rows"] += C.judge(c, C.bootstrap_difference(d, zero, n_boot=300, seed=seed,
                                                           claim=c)).verdict == "agrees"
        agree["clusters"] += C.judge(c, C.bootstrap_difference(
            d, zero, clusters=labels, n_boot=300, seed=seed, claim=c)).verdict == "agrees"
    assert agree["clusters"] <= 8   # ~alpha/2 = 2.5 expected
    assert agree["rows"] >= 20      # treating rows as units finds effects in noise


def test_largest_passing():
    assert C.largest_passing([8, 1, 2, 4], [False, True, True, True]) == 4
    assert C.largest_passing([1, 2, 4, 8], [True, False, True, True]) == 1
    assert C.largest_passing([2, 4], [False, True], default=1.0) == 1.0
    with pytest.raises(ValueError, match="duplicates"):
        C.largest_passing([1, 1], [True, True])


def test_threshold_comparison_by_bootstrap():
    """A stays within 0.05 of dense up to level 8, B only up to level 2."""
    rng = np.random.default_rng(12)
    n, levels = 300, [2, 4, 8, 16]
    dense = rng.uniform(0.4, 0.9, n)
    loss = {"A": {2: 0.0, 4: 0.01, 8: 0.02, 16: 0.3}, "B": {2: 0.01, 4: 0.2, 8: 0.3, 16: 0.4}}
    cols = [dense] + [dense - loss[m][lv] + rng.normal(0, .02, n) for m in loss for lv in levels]
    data = np.column_stack(cols)  # (n, 1 + 2 * levels): dense, A at each level, B at each level

    def threshold(method):
        first = 1 + len(levels) * list(loss).index(method)
        return lambda s: C.largest_passing(
            levels, (s[:, :1] - s[:, first:first + len(levels)]).mean(0) < 0.05)

    c = claim()
    est = C.bootstrap_compare(data, threshold("A"), threshold("B"), n_boot=300, claim=c,
                              unit="samples", name="largest level within 0.05 of dense")
    assert est.estimate == 6 and est.extra["a"] == 8 and est.extra["b"] == 2
    assert C.judge(c, est).verdict == "agrees"
    eq = claim("equivalent", margin=1.0)
    same = C.bootstrap_compare(data, threshold("A"), threshold("A"), n_boot=300, claim=eq)
    assert C.judge(eq, same).verdict == "agrees"
    assert C.judge(claim("less"), C.bootstrap_compare(data, threshold("A"), threshold("B"),
                                                      n_boot=300)).verdict == "disagrees"


# --- rules on pure noise: a rule that "agrees" with noise must fail here -----------------------

def _agree_rate(rule, c, test, draws=400, n=30):
    hits = 0
    for seed in range(draws):
        rng = np.random.default_rng(1000 + seed)
        a, b = rng.normal(0, 1, n), rng.normal(0, 1, n)
        hits += rule(c, test(a, b, claim=c)).verdict == "agrees"
    return hits / draws


def _naive(c, est):
    """The rule study 03 used: "not significant" scored as "agrees"."""
    verdict = "agrees" if est.p_value >= c.alpha else "disagrees"
    return C.ClaimResult(c, verdict, "naive", est)


def test_noise_does_not_agree_with_directional_or_equivalence_claims():
    greater, tiny = claim("greater"), claim("equivalent", margin=1e-3)
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)  # alpha plus three standard errors
    assert _agree_rate(C.judge, greater, C.paired_test) <= bound
    assert _agree_rate(C.judge, tiny, C.paired_test) <= bound
    assert _agree_rate(C.judge, greater, C.bootstrap_difference) <= bound
    # the check can fail: the naive rule agrees with noise almost always
    assert _agree_rate(_naive, tiny, C.paired_difference) > bound


# --- untestable, output, bad input ------------------------------------------------------------

def test_untestable_needs_a_measured_number():
    r = C.untestable(claim(), "the paper's 7B model does not fit here", quantity="RAM needed (GiB)",
                     measured=28, threshold=16)
    d = r.to_dict()
    assert d["verdict"] == "untestable" and "= 28" in d["reason"] and "16" in d["reason"]
    assert d["estimate"] is None and d["p_value"] is None
    with pytest.raises(ValueError, match="measured"):
        C.untestable(claim(), "too big", quantity="size", measured="large")
    with pytest.raises(ValueError, match="measured"):
        C.untestable(claim(), "too big", quantity="size", measured=float("nan"))
    with pytest.raises(TypeError):
        C.untestable(claim(), "too big")  # quantity and measured are required


def test_to_dict_keys_rounding_and_nan():
    est = C.Estimate(1 / 3, float("nan"), 2 / 3, 0.95, 5, "t", 0.0123456789, "two-sided")
    d = C.ClaimResult(claim(), "inconclusive", "why", est).to_dict()
    assert tuple(d) == C.RESULT_KEYS
    assert d["estimate"] == 0.333333 and d["ci_low"] is None and d["p_value"] == 0.0123457
    assert C.round_sig({"x": [np.float32(2.0) / 3, np.int64(3)]}) == {"x": [0.666667, 3]}
    named = C.Claim(id="e", claim="c", paper_value=None, paper_source="s", hypothesis="greater",
                    estimand="mean nDCG@10 difference, A = RM3, B = BM25")
    d = C.ClaimResult(named, "inconclusive", "why", est).to_dict()
    assert d["test"] == "mean nDCG@10 difference, A = RM3, B = BM25: t"


def _results():
    c1, c2 = claim(id="s.a"), claim("equivalent", margin=0.02, id="s.b")
    return [C.judge(c1, C.paired_test(*shifted(0.02), claim=c1)),
            C.judge(c2, C.paired_test(*shifted(0.2), claim=c2)),
            C.untestable(claim(id="s.c"), "no GPU", quantity="GPUs", measured=0, threshold=1)]


def test_save_claims_is_byte_identical_and_round_trips(tmp_path):
    p1 = C.save_claims(_results(), tmp_path / "one")
    p2 = ReportWriter(tmp_path / "two").save_claims(_results())
    assert p1.read_bytes() == p2.read_bytes() and p2.name == "claims.json"
    data = json.loads(p1.read_text())
    assert [d["id"] for d in data] == ["s.a", "s.b", "s.c"]
    assert C.load_claims(tmp_path / "one") == data
    assert C.verdict_counts(data) == {"agrees": 1, "disagrees": 1, "inconclusive": 0,
                                      "untestable": 1}
    assert not list((tmp_path / "one").glob(".*tmp"))


def test_load_claims_refuses_bad_files(tmp_path):
    (tmp_path / "claims.json").write_text('[{"id": "x"}]')
    with pytest.raises(ValueError, match="missing keys"):
        C.load_claims(tmp_path)
    (tmp_path / "claims.json").write_text("[\n{")
    with pytest.raises(ValueError, match="line 2"):
        C.load_claims(tmp_path)


def test_claims_table_columns():
    t = C.claims_table(_results())
    assert list(t.columns) == ["claim", "paper", "ours", "n", "test", "margin", "p", "verdict",
                               "reason"]
    assert t.loc["s.b", "margin"] == "±0.02" and "[" in t.loc["s.a", "ours"]
    assert t.loc["s.c", "ours"] == "" and "synthetic" in t.loc["s.a", "paper"]


def test_duplicate_ids_refused(tmp_path):
    r = _results()[0]
    with pytest.raises(ValueError, match="duplicate claim id"):
        C.save_claims([r, r], tmp_path)


@pytest.mark.parametrize("kwargs,match", [
    ({"hypothesis": "bigger"}, "hypothesis"),
    ({"hypothesis": "equivalent"}, "margin"),
    ({"hypothesis": "noninferior", "margin": -1}, "margin"),
    ({"hypothesis": "greater", "alpha": 0.7}, "alpha")])
def test_bad_claims(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.Claim(id="x", claim="c", paper_value=None, paper_source="s", **kwargs)


def test_bad_samples():
    with pytest.raises(ValueError, match="a is empty"):
        C.paired_difference([], [])
    with pytest.raises(ValueError, match="lengths 3 != 2"):
        C.paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        C.paired_difference([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="margin"):
        C.equivalence([1, 2], [1, 2])
    with pytest.raises(ValueError, match="effects is empty"):
        C.meta_analysis([], [])
    with pytest.raises(ValueError, match="variance"):
        C.meta_analysis([0.1, 0.2], [0.01, 0.0])
    with pytest.raises(ValueError, match="data is empty"):
        C.bootstrap(np.array([]), np.mean)
    with pytest.raises(ValueError, match="cells is empty"):
        C.cell_tests({}, claim())


def test_judge_refuses_estimates_that_do_not_fit_the_claim():
    a, b = shifted(0.0)
    eq = claim("equivalent", margin=0.02)
    with pytest.raises(ValueError, match="CI at level"):
        C.judge(eq, C.paired_difference(a, b, level=0.8))
    with pytest.raises(ValueError, match="p-value"):
        C.judge(eq, C.paired_difference(a, b))  # 95 % CI is fine, a two-sided p is not
    with pytest.raises(ValueError, match="margin"):
        C.judge(eq, C.equivalence(a, b, margin=0.05))


def test_module_docstring_example_runs(tmp_path):
    """The API example in sparselab.claims' docstring stays runnable."""
    blocks = re.findall(r"::\n\n((?:    .*\n|\n)+)", C.__doc__)
    assert len(blocks) == 2
    code = "\n".join(textwrap.dedent(b) for b in blocks)
    rng = np.random.default_rng(14)
    datasets = ["scifact", "nfcorpus"]
    both = {ds: rng.uniform(0.3, 0.7, 100) for ds in datasets}
    post = {ds: both[ds] - 0.03 + rng.normal(0, 0.02, 100) for ds in datasets}
    a, b = shifted(0.02, n=60, seed=15)
    env = {"both": both["scifact"], "post": post["scifact"], "both_by": both, "post_by": post,
           "datasets": datasets, "seed_of_row": np.repeat(np.arange(6), 10), "a": a, "b": b,
           "CLAIM": claim(), "BIG_MODEL": claim(id="big"), "BOTH_ALL": claim(id="03.both_all"),
           "writer": ReportWriter(tmp_path)}
    exec(code, env)  # noqa: S102 -- our own docstring, run to keep it true
    saved = json.loads((tmp_path / "claims.json").read_text())
    assert [d["verdict"] for d in saved] == ["agrees", "disagrees", "agrees", "agrees",
                                             "agrees", "untestable"]
    assert saved[3]["id"] == "03.both_beats_post/scifact"

