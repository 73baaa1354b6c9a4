"""Claims layer: the paper's statements, tested here with rules that can disagree.

Declare each claim next to its study (`studies/<name>/claims.py`), as module-level constants
(the numbers below are placeholders; take the paper's from METHODS.md)::

    from sparselab import claims as C

    BOTH_BEATS_POST = C.Claim(
        id="03.both_beats_post", claim="Interpolating before and after PRF beats after only",
        paper_value="Both > Post", paper_source="Li et al. SIGIR 2022 (METHODS.md §1)",
        hypothesis="greater", unit="nDCG@10", estimand="mean paired nDCG@10, Both - Post")
    POST_SAME = C.Claim(
        id="03.post_equiv_both", claim="Post is as effective as Both",
        paper_value="n.s.", paper_source="METHODS.md §1", hypothesis="equivalent", margin=0.01)

Test them on per-unit scores (A first, oriented so A - B > 0 is the paper's direction).
Each claim id gives one entry of claims.json (`judge_family` gives one per cell, `<id>/<cell>`)::

    r1 = C.judge(BOTH_BEATS_POST, C.paired_test(both, post, claim=BOTH_BEATS_POST))  # t-test
    r2 = C.judge(POST_SAME, C.paired_test(post, both, claim=POST_SAME))              # TOST
    # several datasets: tests per dataset with Holm, then "on every dataset" or one per cell
    ests = C.cell_tests({ds: (both_by[ds], post_by[ds]) for ds in datasets}, BOTH_BEATS_POST)
    r3 = C.judge_all(BOTH_ALL, ests)
    r4 = C.judge_family(BOTH_BEATS_POST, ests)       # a list, ids 03.both_beats_post/<ds>
    pooled = C.meta_paired({ds: (both_by[ds], post_by[ds]) for ds in datasets},
                           claim=BOTH_BEATS_POST)    # random-effects pooled difference
    # rows clustered in units (seeds, queries at many lengths): resample whole units
    est = C.bootstrap_difference(a, b, clusters=seed_of_row, claim=CLAIM, unit="seeds")
    r9 = C.untestable(BIG_MODEL, "the paper's 7B model does not fit in memory here",
                      quantity="model memory (GiB)", measured=28.0, threshold=16.0)
    writer.save_claims([r1, r2, r3, *r4, r9])  # claims.json (or C.save_claims(results, folder))
    C.claims_table([r1, r2, r3, *r4, r9])      # the page's table (a DataFrame of strings)

Hypotheses (A is the paper's "better"/new method, estimates are oriented as A - B):
    "greater" A > B, "less" A < B, "equivalent" |A - B| < margin,
    "noninferior" A - B > -margin (higher is better: negate losses and latencies).
Rules (`judge`): directional claims agree only with a significant effect (p < alpha) in the
paper's direction, disagree with a significant one in the opposite direction, else are
inconclusive. "equivalent" agrees only when TOST passes (1 - 2 alpha CI inside ±margin) and
disagrees when that CI lies wholly outside ±margin; "noninferior" agrees when the CI's low
bound is above -margin and disagrees when the whole CI is below it. Estimates whose CI level
or p-value do not fit the claim are refused; pass `claim=` to a test to get the right ones.

Tests (each returns one `Estimate`: estimate, ci_low, ci_high, ci_level, n, test, p_value):
    paired_difference / equivalence / noninferiority / paired_test   per-unit paired scores
    cell_tests(cells, claim) + judge_family                 per-cell tests, Holm across cells
    holm(estimates)                                          Holm-adjust a family's p-values
    judge_all(claim, estimates) / judge_any(claim, estimates)  one verdict for "in every
        cell" (intersection-union) / "in at least one cell" (Holm)
    trend(x, y)                                              slope across levels, t CI
    sign_test(diffs)                                         binomial sign test across cells
    meta_analysis(effects, variances) / meta_paired(cells)   DerSimonian-Laird random effects
    bootstrap(data, statistic, clusters=...)                 percentile (cluster) bootstrap
    bootstrap_difference(a, b, clusters=...)                 mean difference, vectorised
    bootstrap_compare(data, stat_a, stat_b, clusters=...)    threshold estimands (A vs B)
    largest_passing(levels, passed)                          e.g. largest non-inferior level
    normal_estimate(value, se, n, test, claim=, null=, df=)  any estimate with a standard
        error (normal, or t with df), e.g. a coefficient against the paper's value
Output: `ClaimResult.to_dict()` (the keys of claims.json, floats to SIG_DIGITS significant
digits, NaN -> null), `save_claims`, `load_claims`, `claims_table`, `verdict_counts`.
"""
from .bootstrap import N_BOOT, bootstrap, bootstrap_compare, bootstrap_difference, largest_passing
from .families import (
    cell_tests,
    holm,
    holm_adjust,
    judge_all,
    judge_any,
    judge_family,
    meta_analysis,
    meta_paired,
    sign_test,
    trend,
)
from .model import (
    HYPOTHESES,
    RESULT_KEYS,
    SIG_DIGITS,
    VERDICTS,
    Claim,
    ClaimResult,
    Estimate,
    judge,
    round_sig,
    untestable,
)
from .output import FILENAME, claims_json, claims_table, load_claims, save_claims, verdict_counts
from .paired import equivalence, noninferiority, normal_estimate, paired_difference, paired_test

__all__ = [
    "FILENAME", "HYPOTHESES", "N_BOOT", "RESULT_KEYS", "SIG_DIGITS", "VERDICTS", "Claim",
    "ClaimResult", "Estimate", "bootstrap", "bootstrap_compare", "bootstrap_difference",
    "cell_tests", "claims_json", "claims_table", "equivalence", "holm", "holm_adjust", "judge", "judge_all",
    "judge_any", "judge_family", "largest_passing", "load_claims", "meta_analysis",
    "meta_paired", "noninferiority", "normal_estimate", "paired_difference", "paired_test",
    "round_sig", "save_claims", "sign_test", "trend", "untestable", "verdict_counts",
]
