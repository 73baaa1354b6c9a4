"""Claims layer: the paper's statements, tested here with rules that can disagree.

Declare each claim next to its study (`studies/<name>/claims.py`), as module-level constants::

    from sparselab import claims as C

    RM3_HELPS = C.Claim(
        id="03.rm3_beats_bm25", claim="RM3 improves nDCG@10 over BM25",
        paper_value=0.021, paper_source="Lin et al. 2021, Table 2 (METHODS.md, study 03)",
        hypothesis="greater", unit="nDCG@10")
    DENSE_SAME = C.Claim(
        id="03.dense_equiv", claim="PRF on dense vectors changes nDCG@10 by less than 0.01",
        paper_value=None, paper_source="METHODS.md, study 03",
        hypothesis="equivalent", margin=0.01)

Test them on per-unit scores and write claims.json::

    r1 = C.judge(RM3_HELPS, C.paired_test(rm3, bm25, claim=RM3_HELPS))    # paired t-test
    r2 = C.judge(DENSE_SAME, C.paired_test(prf, dense, claim=DENSE_SAME))  # TOST
    r3 = C.untestable(BIG_MODEL, "the paper's 7B model does not fit in memory here",
                      quantity="model memory / RAM (GiB)", measured=28.0, threshold=16.0)
    writer.save_claims([r1, r2, r3])          # or C.save_claims(results, report_folder)
    C.claims_table([r1, r2, r3])              # the page's table (a DataFrame of strings)

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
