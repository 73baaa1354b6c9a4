"""Study 02's page prose: the answer and the limitations, every number from the claims/tables."""
from __future__ import annotations

import math

import pandas as pd

from ..sparse_attention.claims import attention_share
from ..sparse_attention.text import table_saturation
from .claims import family_member


def _fmt_est(r) -> str:
    e = r.estimate
    return "–" if e is None else f"{e.estimate:+.3f} [{e.ci_low:+.3f}, {e.ci_high:+.3f}]"


def degenerate_share(n_models: int) -> float:
    """Probability that a model-cluster resample holds < 3 distinct models (then holding out
    the largest N leaves one training size, and the law cannot extrapolate in N)."""
    if n_models < 1:
        return math.nan
    # P(k distinct of n draws from n) via inclusion-exclusion (Stirling numbers of the 2nd kind)
    def p_distinct(k: int) -> float:
        s = sum((-1) ** j * math.comb(k, j) * (k - j) ** n_models for j in range(k + 1))
        return math.comb(n_models, k) * s / n_models ** n_models
    return sum(p_distinct(k) for k in (1, 2) if k <= n_models)


def answer(res, results, skill: pd.DataFrame) -> str:
    """One paragraph: signs, held-out skill over the null per axis, budget exponent."""
    by = {r.claim.id: r for r in results}
    counts = pd.Series([x.verdict for x in results]).value_counts()
    count_txt = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in ("agrees", "disagrees", "inconclusive", "untestable"))
    parts = []
    for phase in ("prefill", "decode"):
        signs = ", ".join(f"{n} {_fmt_est(by[f'{cid}/{phase}'])} ({by[f'{cid}/{phase}'].verdict})"
                          for n, cid in (("alpha", "02.alpha_positive"), ("beta", "02.beta_negative"),
                                         ("gamma", "02.gamma_negative")) if f"{cid}/{phase}" in by)
        sk = skill[skill.phase == phase]
        sk_txt = "; ".join(
            f"{r.axis}: R² {r.r2_law:.2f} vs {r.r2_null:.2f} without {r.axis} "
            f"({by[f'02.holdout_skill/{phase}/{r.axis}'].verdict}) and {r.r2_no_NL:.2f} without N "
            f"and L ({by[f'02.holdout_skill_vs_no_NL/{phase}/{r.axis}'].verdict})"
            for r in sk.itertuples())
        if signs or sk_txt:
            parts.append(f"**{phase}**: {signs}; held-out {sk_txt or 'none'}")
    n_models = int(res.data.model.nunique()) if len(res.data) else 0
    rows = "rows" if "method" not in res.data else "rows, one per method at its achieved compression"
    return (f"The law fitted on study 01's grid ({n_models} models, {len(res.data)} {rows}) gives "
            f"{len(results)} claims: {count_txt}. " + ". ".join(parts) + ". CIs resample whole models "
            "(a cluster bootstrap), so they carry the model-to-model variation a law over N must survive.")


def _levels_used(data: pd.DataFrame) -> str:
    """'prefill/block_sparse 1, 4, 16; ...': the levels kept per phase and method."""
    lv = data.groupby(["phase", "method"])["level"].unique()
    return "; ".join(f"{ph}/{m} " + ", ".join(f"{x:g}" for x in sorted(v)) for (ph, m), v in lv.items())


def limitations(res, cfg) -> str:
    """The regime and the design's limits, measured."""
    cells = res.grid.cells
    share = attention_share(cells)
    sat = table_saturation(cells)
    top = int(cells.length.max())
    n_models = int(res.data.model.nunique())
    n_sizes = len(set(family_member(res.data.model.unique())))
    sat_txt = "; ".join(f"{ph}/{m} {row.max():.2f}x" for (ph, m), row in sat.iterrows()) if len(sat) else "none"
    return "\n".join([
        (f"* **Models.** {n_sizes} model sizes, {n_models} trained models (a size's seeds are "
        f"one cluster); {degenerate_share(n_sizes):.0%} of model-cluster resamples hold fewer "
        "than 3 distinct sizes, where holding out the largest N leaves one training size and the "
        "law's N term drops out (skill 0 there, which pulls the N-axis CI to 0)."),
        (f"* **Length.** L <= {top} tokens (the paper: 16K-128K); attention is at most "
        f"{share.max():.1%} of a dense prefill's FLOPs at L = {top}."),
        (f"* **Compression.** The law uses the grid's compression labels; achieved compression at "
        f"L = {top} saturates at {sat_txt}, so the labels above those values repeat a layout."
         if cfg.compression == "label" else
         f"* **Compression.** The law uses each cell's achieved compression (one row per method); "
         f"units (phase, model, length, task) with dense accuracy below "
         f"{cfg.min_dense_accuracy:g} are left out, and so are the levels a method was not scored "
         "at in all its units (an adaptive grid scores high levels only where lower ones pass). "
         f"Levels used: {_levels_used(res.data)}. The C axis is held out by level (the largest "
         "calibrated target). The pooled law has no method term, and each method brings its own "
         f"dense (C = 1) rows. Largest achieved compression per phase and method at L = {top}: "
         f"{sat_txt}."),
        (f"* **Rows.** Accuracy per grid point is the mean over the real methods of a phase "
        f"(excluded: {', '.join(cfg.exclude_methods)}), {len(res.data)} rows in all."
         if cfg.compression == "label" else
         f"* **Rows.** One row per (phase, method, model, length, level, task), excluded methods: "
         f"{', '.join(cfg.exclude_methods)}; {len(res.data)} rows in all. Rows of one model share "
         "its training run, and rows of one method share its prompts: the CIs resample model "
         "sizes, each with all its seeds."),
    ])
