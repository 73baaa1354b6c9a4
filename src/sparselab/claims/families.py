"""Tests across cells: Holm per-cell tests, compound claims, sign test, trend, meta-analysis.

A "cell" is one setting of a sweep (dataset, model, length, level...). `cell_tests` tests every
cell and controls the family-wise error with Holm; `judge_all` / `judge_any` turn a family into
one verdict ("A beats every other placement", "sparsity hurts at least one task"); `sign_test`
asks whether A beats B in more cells than chance; `trend` tests a slope across levels;
`meta_analysis` pools per-cell effects with DerSimonian-Laird.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import numpy as np
from scipy import stats

from .model import Claim, ClaimResult, Estimate, judge
from .paired import _check_level, as_scores, normal_estimate, paired_diffs, paired_test

_RANK = {"agrees": 0, "inconclusive": 1, "disagrees": 2}


def holm_adjust(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order.

    Equal to statsmodels `multipletests(p, method="holm")[1]` (the unit test checks it); written
    out because multipletests runs `gc.collect()` on every call, which costs ~1 s per family
    inside a large process and makes a notebook with hundreds of families crawl.
    """
    p = as_scores(pvalues, "pvalues")
    order = np.argsort(p, kind="stable")
    k = p.size
    stepped = np.maximum.accumulate((k - np.arange(k)) * p[order])
    out = np.empty(k)
    out[order] = np.minimum(stepped, 1.0)
    return out


def holm(estimates: Mapping[str, Estimate]) -> dict[str, Estimate]:
    """Holm-adjusted p-values across a family, same order as given.

    CIs are left as they are; use `cell_tests` to also widen them to a Bonferroni level.
    """
    if not estimates:
        raise ValueError("holm: estimates is empty (need at least one cell)")
    missing = [k for k, e in estimates.items() if e.p_value is None]
    if missing:
        raise ValueError(f"holm: cells without a p-value: {missing[:5]}")
    done = [k for k, e in estimates.items() if e.family > 1]
    if done:
        raise ValueError(f"holm: cells {done[:5]} are already adjusted over a family")
    keys = list(estimates)
    adj = holm_adjust([estimates[k].p_value for k in keys])
    k = len(keys)
    return {key: dataclasses.replace(estimates[key], p_value=float(p), family=k,
                                     test=f"{estimates[key].test}, Holm over {k} cells")
            for key, p in zip(keys, adj, strict=True)}


def cell_tests(cells: Mapping[str, tuple], claim: Claim,
               test: Callable[..., Estimate] = paired_test) -> dict[str, Estimate]:
    """Test every cell for `claim`, Holm-adjust the p-values, widen the CIs to match.

    A cell's CI is at the level of the Holm step that decides it: a cell Holm rejects at rank r
    (0-based, by raw p) gets the 1 - alpha/(k - r) CI (so its CI excludes the null, or lies
    inside the TOST margins, exactly as its verdict says), every other cell the Bonferroni
    1 - alpha/k CI (which then contains the null: a raw p below alpha/k is always rejected).
    Without p-values (bootstrap) every CI is Bonferroni's.

    Args:
        cells: {cell key: (a, b)} paired per-unit scores of each cell.
        claim: the claim each cell is judged against (its hypothesis picks the test).
        test: callable(a, b, claim=...) -> Estimate; `paired_test` by default, or e.g.
            `bootstrap_difference` (CI only: the Bonferroni-widened CI is the adjustment).
    Returns {cell key: Estimate}; judge them with `judge_family`, `judge_all` or `judge_any`.
    """
    if not cells:
        raise ValueError("cell_tests: cells is empty (need at least one cell)")
    k = len(cells)
    # alpha / k makes each CI a simultaneous (Bonferroni) interval, so "disagrees", which reads
    # the CI, is family-wise controlled too; the p-values themselves do not depend on alpha.
    per_cell = dataclasses.replace(claim, alpha=claim.alpha / k)
    ests = {key: test(*ab, claim=per_cell) for key, ab in cells.items()}
    with_p = sum(e.p_value is not None for e in ests.values())
    if with_p == k:
        adj = holm(ests)
        keys = list(ests)
        order = np.argsort([ests[key].p_value for key in keys], kind="stable")  # holm_adjust's
        for r, i in enumerate(order):
            key = keys[i]
            if adj[key].p_value < claim.alpha and r > 0:  # r = 0: the Bonferroni level already
                step = test(*cells[key], claim=dataclasses.replace(claim, alpha=claim.alpha / (k - r)))
                adj[key] = dataclasses.replace(adj[key], ci_low=step.ci_low, ci_high=step.ci_high,
                                               ci_level=step.ci_level)
        return adj
    if with_p == 0:
        return {key: dataclasses.replace(e, family=k, test=f"{e.test}, Bonferroni over {k} cells")
                for key, e in ests.items()}
    raise ValueError(f"cell_tests: {with_p} of {k} cells have a p-value; use one kind of test")


def _adjusted(estimates: Mapping[str, Estimate], who: str) -> dict[str, Estimate]:
    """The family adjusted once: as given when `cell_tests`/`holm` did it, else Holm here."""
    k = len(estimates)
    fam = {e.family for e in estimates.values()}
    if fam == {k}:
        return dict(estimates)
    if fam == {1} and all(e.p_value is not None for e in estimates.values()):
        return holm(estimates)
    raise ValueError(f"{who}: cannot adjust this family of {k} cells (estimates without a "
                     f"p-value, or adjusted over {sorted(fam)} cells): build it with cell_tests")


def judge_family(claim: Claim, estimates: Mapping[str, Estimate]) -> list[ClaimResult]:
    """One ClaimResult per cell, with id `<claim.id>/<cell>` and the cell named in the claim."""
    out = []
    for key, est in estimates.items():
        cell = dataclasses.replace(claim, id=f"{claim.id}/{key}", claim=f"{claim.claim} [{key}]")
        out.append(judge(cell, est))
    return out


def _weakest(results: list[ClaimResult], worst: bool) -> ClaimResult:
    """The cell closest to losing (worst=True) or to winning, by verdict then p / CI."""
    def key(r):
        e = r.estimate
        gap = e.p_value if e.p_value is not None else -abs(e.estimate - e.null)
        return (_RANK[r.verdict], gap)
    return (max if worst else min)(results, key=key)


def judge_all(claim: Claim, estimates: Mapping[str, Estimate]) -> ClaimResult:
    """One verdict for "the claim holds in every cell" (intersection-union test).

    Agrees only when every cell agrees (each at level alpha: an intersection-union test needs
    no multiplicity correction); disagrees when any cell disagrees after Holm across the cells
    (so one noisy cell of many does not overturn the claim); else inconclusive. The reported
    estimate is the weakest cell's. Estimates from `cell_tests` are used as they are (already
    adjusted; their Bonferroni CIs also control the CI-read rules); raw estimates are
    Holm-adjusted here, which needs p-values.
    """
    if not estimates:
        raise ValueError(f"judge_all({claim.id}): estimates is empty")
    raw = judge_family(claim, estimates)
    adjusted = judge_family(claim, _adjusted(estimates, f"judge_all({claim.id})"))
    k, keys = len(raw), list(estimates)
    n_agree = sum(r.verdict == "agrees" for r in raw)
    against = [key for key, r in zip(keys, adjusted, strict=True) if r.verdict == "disagrees"]
    if n_agree == k:
        verdict, cell = "agrees", _weakest(raw, worst=True)
    elif against:
        verdict, cell = "disagrees", adjusted[keys.index(against[0])]
    else:
        verdict, cell = "inconclusive", _weakest(raw, worst=True)
    name = cell.claim.id.rsplit("/", 1)[-1]
    reason = (f"{n_agree} of {k} cells agree, {len(against)} disagree after Holm; "
              f"cell {name}: {cell.reason}")
    est = dataclasses.replace(cell.estimate, test=f"{cell.estimate.test}; all of {k} cells "
                              f"(intersection-union), shown: {name}")
    return ClaimResult(claim, verdict, reason, est)


def judge_any(claim: Claim, estimates: Mapping[str, Estimate]) -> ClaimResult:
    """One verdict for "the claim holds in at least one cell".

    Agrees when some cell agrees after Holm across the cells; disagrees only when every cell
    disagrees (each at level alpha); else inconclusive. The reported estimate is the strongest
    cell's (Holm-adjusted p).
    """
    if not estimates:
        raise ValueError(f"judge_any({claim.id}): estimates is empty")
    adjusted = judge_family(claim, _adjusted(estimates, f"judge_any({claim.id})"))
    raw = judge_family(claim, estimates)
    k = len(raw)
    hits = [r for r in adjusted if r.verdict == "agrees"]
    if hits:
        verdict, cell = "agrees", _weakest(hits, worst=False)
    elif all(r.verdict == "disagrees" for r in raw):
        verdict, cell = "disagrees", _weakest(raw, worst=False)
    else:
        verdict, cell = "inconclusive", _weakest(adjusted, worst=False)
    name = cell.claim.id.rsplit("/", 1)[-1]
    n_against = sum(r.verdict == "disagrees" for r in raw)
    reason = (f"{len(hits)} of {k} cells agree after Holm, {n_against} disagree; "
              f"cell {name}: {cell.reason}")
    est = dataclasses.replace(cell.estimate, test=f"{cell.estimate.test}; any of {k} cells, "
                              f"shown: {name}")
    return ClaimResult(claim, verdict, reason, est)


def trend(x, y, level: float = 0.95, *, claim: Claim | None = None) -> Estimate:
    """Least-squares slope of y on x (scipy `linregress`) with a t CI on n - 2 df.

    E.g. "the advantage grows with sparsity": x = log2(M) of each cell, y = the cell's
    advantage; "greater" tests slope > 0. For rows clustered within units use
    `bootstrap(..., clusters=...)` with a slope statistic instead.
    """
    xs, ys = as_scores(x, "x"), as_scores(y, "y")
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length: {xs.size} != {ys.size}")
    if xs.size < 3:
        raise ValueError(f"trend: need at least 3 points, got {xs.size}")
    if np.ptp(xs) == 0:
        raise ValueError("trend: x is constant, no slope to estimate")
    fit = stats.linregress(xs, ys)
    return normal_estimate(float(fit.slope), float(fit.stderr), int(xs.size),
                           f"least-squares slope, t on {xs.size - 2} df", level, claim=claim,
                           df=xs.size - 2, extra={"intercept": float(fit.intercept),
                                                   "r": float(fit.rvalue)})


def sign_test(a, b=None, level: float = 0.95, *, claim: Claim | None = None) -> Estimate:
    """Binomial sign test across cells: is A > B in more cells than chance? (scipy `binomtest`)

    Args:
        a: (k,) per-cell differences A - B, or per-cell scores of A when `b` is given.
        b: (k,) per-cell scores of B, optional.
    The estimate is the share of non-tied cells where A > B (null 0.5) with an exact
    Clopper-Pearson CI; ties are dropped (counted in the test name).
    """
    if claim is not None:
        if claim.hypothesis not in ("greater", "less"):
            raise ValueError(f"sign_test: claim {claim.id} is {claim.hypothesis!r}; a sign test "
                             "only tests greater/less")
        level = claim.ci_level
    level = _check_level(level)
    d = as_scores(a, "a") if b is None else paired_diffs(a, b, min_n=1)
    wins, losses = int((d > 0).sum()), int((d < 0).sum())
    n = wins + losses
    if n == 0:
        raise ValueError(f"sign_test: all {d.size} cells are ties (no cell where A != B)")
    res = stats.binomtest(wins, n, 0.5)
    ci = res.proportion_ci(confidence_level=level, method="exact")
    test = f"sign test, A > B in {wins} of {n} cells ({d.size - n} ties)"
    return Estimate(wins / n, float(ci.low), float(ci.high), level, n, test,
                    float(res.pvalue), "two-sided", null=0.5)


def meta_analysis(effects, variances, level: float = 0.95, *, claim: Claim | None = None,
                  names=None) -> Estimate:
    """DerSimonian-Laird random-effects pooled effect across cells (statsmodels).

    Args:
        effects: (k,) per-cell effects (e.g. mean paired differences), k >= 2.
        variances: (k,) their sampling variances (se**2), all > 0.
        claim: sets the CI level and the p-value's null (two-sided, TOST or non-inferiority).
        names: optional (k,) cell names, kept in `extra`.
    Returns an Estimate of the pooled effect; `extra` holds tau2, i2, q and per-cell weights;
    the test name carries k and tau2 so claims.json shows the heterogeneity.
    """
    from statsmodels.stats.meta_analysis import combine_effects

    eff, var = as_scores(effects, "effects"), as_scores(variances, "variances")
    if eff.shape != var.shape:
        raise ValueError(f"effects and variances differ in length: {eff.size} != {var.size}")
    if eff.size < 2:
        raise ValueError(f"meta_analysis: need at least 2 cells, got {eff.size}")
    if np.any(var <= 0):
        raise ValueError("meta_analysis: every variance must be > 0 (a cell with no noise "
                         "would get infinite weight)")
    with np.errstate(invalid="ignore"):  # sqrt of the untruncated RE variance, replaced below
        res = combine_effects(eff, var, method_re="dl")
    # DerSimonian-Laird truncates tau2 at 0; statsmodels' "dl" does not, and a negative tau2
    # (cells more alike than their noise, Q < k - 1) shrinks every weight's variance below
    # the cell's own: CIs too narrow, false "significant" pooled effects. tau2 = 0 is the
    # fixed-effect pool.
    if res.tau2 > 0:
        tau2, mean, se, weights = (float(res.tau2), res.mean_effect_re, res.sd_eff_w_re,
                                   res.weights_rel_re)
    else:
        tau2, mean, se, weights = 0.0, res.mean_effect_fe, res.sd_eff_w_fe, res.weights_rel_fe
    extra = {"tau2": tau2, "i2": max(0.0, float(res.i2)), "q": float(res.q),
             "weights": [float(w) for w in weights]}
    if names is not None:
        extra["names"] = [str(x) for x in names]
    test = f"random-effects meta-analysis (DerSimonian-Laird), k={eff.size}, tau2={tau2:.3g}"
    return normal_estimate(float(mean), float(se), int(eff.size), test, level, claim=claim,
                           extra=extra)


def meta_paired(cells: Mapping[str, tuple], level: float = 0.95, *,
                claim: Claim | None = None) -> Estimate:
    """Random-effects meta-analysis of per-cell mean paired differences A - B.

    Args:
        cells: {cell key: (a, b)} paired per-unit scores; each cell's effect is mean(a - b)
            with variance var(a - b) / n.
    """
    if not cells:
        raise ValueError("meta_paired: cells is empty")
    effects, variances = [], []
    for key, (a, b) in cells.items():
        d = paired_diffs(a, b)
        v = float(d.var(ddof=1) / d.size)
        if v == 0 or not math.isfinite(v):
            raise ValueError(f"meta_paired: cell {key!r} has zero variance of a - b")
        effects.append(float(d.mean()))
        variances.append(v)
    return meta_analysis(effects, variances, level, claim=claim, names=list(cells))
