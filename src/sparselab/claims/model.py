"""Claims, estimates, verdict rules and the JSON form of a result.

A `Claim` is what the paper says (statement, number, source) plus how we test it (hypothesis,
margin, alpha). An `Estimate` is what a test function measured. `judge(claim, estimate)` applies
the rules of issue 13 and returns a `ClaimResult`; `untestable(...)` records a claim we cannot
test here, with the measured quantity that stops us.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

HYPOTHESES = ("greater", "less", "equivalent", "noninferior")
VERDICTS = ("agrees", "disagrees", "inconclusive", "untestable")
# p-value kinds: what null the p_value of an Estimate was computed against.
P_KINDS = ("two-sided", "tost", "noninferior")
# Floats in claims.json carry this many significant digits, so reruns are byte-identical even
# when the last bits of a float differ across BLAS builds or thread counts.
SIG_DIGITS = 6
RESULT_KEYS = ("id", "claim", "paper_value", "paper_source", "estimate", "ci_low", "ci_high",
               "n", "test", "margin", "p_value", "verdict", "reason")


def round_sig(value: Any, digits: int = SIG_DIGITS) -> Any:
    """Round floats (also inside lists/dicts) to `digits` significant digits; NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): round_sig(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_sig(v, digits) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if value != 0 else 0.0
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to claims.json")


@dataclass(frozen=True)
class Claim:
    """One statement of a paper and how we test it.

    Args:
        id: stable key, e.g. "03.rm3_beats_bm25" (unique within a study; sorts the JSON).
        claim: the paper's statement in words ("RM3 improves nDCG@10 over BM25").
        paper_value: the paper's number(s): a float, a string ("+2.1 nDCG points"), a list
            or a dict; None when the paper states no number.
        paper_source: where the number comes from ("Lin et al. 2021, Table 3; METHODS.md §03").
        hypothesis: "greater" (A > B), "less" (A < B), "equivalent" (A ≈ B within ±margin) or
            "noninferior" (A not worse than B by more than margin; higher is better).
        margin: positive, in the estimate's unit; required for "equivalent" and "noninferior".
        alpha: significance level of the test.
        unit: unit of the estimate and margin ("nDCG@10", "accuracy points"), for the page's
            prose and axis labels.
        estimand: what is estimated, in words ("mean paired nDCG@10 difference, A = RM3,
            B = BM25"); claims.json shows it in front of the test's name.
    """

    id: str
    claim: str
    paper_value: Any
    paper_source: str
    hypothesis: str
    margin: float | None = None
    alpha: float = 0.05
    unit: str = ""
    estimand: str = ""

    def __post_init__(self):
        if not self.id or not isinstance(self.id, str):
            raise ValueError(f"Claim id must be a non-empty string, got {self.id!r}")
        if self.hypothesis not in HYPOTHESES:
            raise ValueError(f"Claim {self.id}: hypothesis={self.hypothesis!r} is not one of "
                             f"{HYPOTHESES}")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"Claim {self.id}: alpha={self.alpha} must lie in (0, 0.5)")
        bounded = self.hypothesis in ("equivalent", "noninferior")
        if bounded and (self.margin is None or not math.isfinite(self.margin) or self.margin <= 0):
            raise ValueError(f"Claim {self.id}: hypothesis={self.hypothesis!r} needs a "
                             f"positive margin, got margin={self.margin!r}")

    @property
    def ci_level(self) -> float:
        """CI level the rule needs: 1 - alpha (directional) or 1 - 2 alpha (TOST / non-inf.)."""
        return 1 - self.alpha if self.hypothesis in ("greater", "less") else 1 - 2 * self.alpha

    @property
    def p_kind(self) -> str:
        """Which p-value the rule reads (see P_KINDS)."""
        return {"greater": "two-sided", "less": "two-sided", "equivalent": "tost",
                "noninferior": "noninferior"}[self.hypothesis]


@dataclass(frozen=True)
class Estimate:
    """What a test measured: a point estimate with its CI and (optionally) a p-value.

    `estimate` is oriented as A - B (or a statistic of A vs B) with `null` its value under no
    effect (0 for differences, 0.5 for a sign test's proportion). `p_kind` says what the p-value
    tests: "two-sided" (effect = null), "tost" (|effect - null| >= margin) or "noninferior"
    (effect - null <= -margin); None when only a CI is available (bootstrap). `family` > 1
    marks a p-value / CI already adjusted over that many cells (`holm`, `cell_tests`).
    """

    estimate: float
    ci_low: float
    ci_high: float
    ci_level: float
    n: int
    test: str
    p_value: float | None = None
    p_kind: str | None = None
    margin: float | None = None
    null: float = 0.0
    extra: dict = field(default_factory=dict)
    family: int = 1  # cells the p-value / CI are already adjusted over (1: not adjusted)

    def __post_init__(self):
        if self.p_kind is not None and self.p_kind not in P_KINDS:
            raise ValueError(f"Estimate p_kind={self.p_kind!r} is not one of {P_KINDS}")
        if self.p_value is not None and self.p_kind is None:
            raise ValueError("Estimate with a p_value needs p_kind (what the p-value tests)")


@dataclass(frozen=True)
class ClaimResult:
    """A claim with its verdict; `to_dict()` is one entry of claims.json."""

    claim: Claim
    verdict: str
    reason: str
    estimate: Estimate | None = None
    n: int | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is not one of {VERDICTS}")

    def to_dict(self, digits: int = SIG_DIGITS) -> dict[str, Any]:
        """The claims.json entry: exactly RESULT_KEYS, floats rounded, NaN -> None."""
        c, e = self.claim, self.estimate
        n = e.n if e is not None else self.n
        out = {
            "id": c.id, "claim": c.claim, "paper_value": c.paper_value,
            "paper_source": c.paper_source,
            "estimate": None if e is None else float(e.estimate),
            "ci_low": None if e is None else float(e.ci_low),
            "ci_high": None if e is None else float(e.ci_high),
            "n": None if n is None else int(n),
            "test": None if e is None else (f"{c.estimand}: {e.test}" if c.estimand else e.test),
            "margin": None if c.margin is None else float(c.margin),
            "p_value": None if e is None or e.p_value is None else float(e.p_value),
            "verdict": self.verdict, "reason": self.reason,
        }
        return {k: round_sig(out[k], digits) for k in RESULT_KEYS}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _check_compatible(claim: Claim, est: Estimate) -> None:
    """Refuse an estimate whose CI level, p-value or margin does not fit the claim's rule."""
    need = claim.ci_level
    if est.ci_level + 1e-9 < need:
        raise ValueError(
            f"Claim {claim.id} ({claim.hypothesis}, alpha={claim.alpha}) needs a CI at level "
            f">= {need:g}, the estimate's ci_level is {est.ci_level:g}: pass level=claim.ci_level "
            f"(or claim=claim) to the test function")
    if est.p_value is not None and est.p_kind != claim.p_kind:
        raise ValueError(
            f"Claim {claim.id} ({claim.hypothesis}) reads a {claim.p_kind!r} p-value, the estimate "
            f"({est.test}) carries a {est.p_kind!r} one: use the matching test "
            f"(paired_test(..., claim=claim) picks it)")
    if est.margin is not None and claim.margin is not None and \
            not math.isclose(est.margin, claim.margin, rel_tol=1e-9):
        raise ValueError(f"Claim {claim.id}: estimate tested margin={est.margin}, the claim "
                         f"states margin={claim.margin}")
    values = (est.estimate, est.ci_low, est.ci_high)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"Claim {claim.id}: estimate/CI not finite {values} ({est.test})")


def _directional(claim: Claim, est: Estimate) -> tuple[str, str]:
    sign = 1 if claim.hypothesis == "greater" else -1
    eff = est.estimate - est.null
    ci = f"{est.ci_level:.0%} CI [{_fmt(est.ci_low)}, {_fmt(est.ci_high)}]"
    if est.p_value is not None:
        sig = est.p_value < claim.alpha
        why = f"p = {est.p_value:.3g} {'<' if sig else '>='} alpha = {claim.alpha:g}"
    else:
        sig = est.ci_low > est.null or est.ci_high < est.null
        why = f"{ci} {'excludes' if sig else 'contains'} {_fmt(est.null)}"
    if not sig:
        return "inconclusive", f"no significant effect: {why}"
    want = "A > B" if sign > 0 else "A < B"
    if sign * eff > 0:
        return "agrees", (f"significant effect in the paper's direction ({want}): "
                          f"{_fmt(est.estimate)}, {why}")
    return "disagrees", (f"significant effect opposite to the paper ({want}): "
                         f"{_fmt(est.estimate)}, {why}")


def _bounded(claim: Claim, est: Estimate) -> tuple[str, str]:
    m, lo, hi = claim.margin, est.ci_low - est.null, est.ci_high - est.null
    ci = f"{est.ci_level:.0%} CI [{_fmt(est.ci_low)}, {_fmt(est.ci_high)}]"
    if claim.hypothesis == "equivalent":
        passed = est.p_value < claim.alpha if est.p_value is not None else (-m < lo and hi < m)
        if passed:
            p = "" if est.p_value is None else f"TOST p = {est.p_value:.3g}, "
            return "agrees", f"equivalent within ±{_fmt(m)}: {p}{ci} inside ±{_fmt(m)}"
        if lo > m or hi < -m:
            return "disagrees", f"not equivalent: {ci} lies wholly outside ±{_fmt(m)}"
        return "inconclusive", f"equivalence not shown: {ci} overlaps ±{_fmt(m)}"
    passed = est.p_value < claim.alpha if est.p_value is not None else lo > -m
    if passed:
        p = "" if est.p_value is None else f"p = {est.p_value:.3g}, "
        return "agrees", f"non-inferior within {_fmt(m)}: {p}{ci} above -{_fmt(m)}"
    if hi < -m:
        return "disagrees", f"inferior by more than {_fmt(m)}: {ci} lies wholly below -{_fmt(m)}"
    return "inconclusive", f"non-inferiority not shown: {ci} contains -{_fmt(m)}"


def judge(claim: Claim, estimate: Estimate) -> ClaimResult:
    """Apply the verdict rule of `claim.hypothesis` to `estimate`.

    - greater / less: "agrees" only with a significant effect (p < alpha, or the 1 - alpha CI
      excluding the null when there is no p) in the paper's direction; "disagrees" with a
      significant effect in the opposite direction; else "inconclusive".
    - equivalent: "agrees" only when TOST passes (p < alpha, or the 1 - 2 alpha CI inside
      ±margin); "disagrees" when that CI lies wholly outside ±margin; else "inconclusive".
    - noninferior: "agrees" when the one-sided test rejects "A worse by >= margin" (CI low bound
      above -margin); "disagrees" when the CI lies wholly below -margin; else "inconclusive".
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"judge(claim=...) needs a Claim, got {type(claim).__name__}")
    if not isinstance(estimate, Estimate):
        raise TypeError(f"judge(estimate=...) needs an Estimate, got {type(estimate).__name__}")
    _check_compatible(claim, estimate)
    if claim.hypothesis in ("greater", "less"):
        verdict, reason = _directional(claim, estimate)
    else:
        verdict, reason = _bounded(claim, estimate)
    return ClaimResult(claim, verdict, reason, estimate)


def untestable(claim: Claim, reason: str, *, quantity: str, measured: float,
               threshold: float | None = None, n: int | None = None) -> ClaimResult:
    """A claim we cannot test here, with the measured quantity that stops us.

    Args:
        reason: why, in words ("the paper's 7B model does not fit this machine").
        quantity: what was measured ("GPU memory needed / available").
        measured: its value (a finite number: an opinion is not a reason).
        threshold: the value it would need to reach, if there is one.
        n: sample size available, if that is the limit.
    """
    if not isinstance(claim, Claim):
        raise TypeError(f"untestable(claim=...) needs a Claim, got {type(claim).__name__}")
    if not reason or not quantity:
        raise ValueError(f"untestable({claim.id}): reason and quantity must be non-empty")
    try:
        value = float(measured)
    except (TypeError, ValueError):
        raise ValueError(f"untestable({claim.id}): measured={measured!r} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"untestable({claim.id}): measured={measured!r} must be finite")
    text = f"{reason} ({quantity} = {_fmt(value)}"
    if threshold is not None:
        text += f"; needs {_fmt(float(threshold))}"
    return ClaimResult(claim, "untestable", text + ")", None, n)
