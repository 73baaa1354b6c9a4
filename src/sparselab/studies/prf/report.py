"""The prose of study 03's page, written from the results (no number typed by hand)."""
from __future__ import annotations

import pandas as pd

from ...retrieval.search import SELF_HITS
from .blocks import DEFAULT_PRF
from .claims import BLOCK_TEXT, COMPARISONS

CLAIM_TEXT = {"both_best": "Both beats every other placement",
              "post_equiv_both": "Post is equivalent to Both",
              "pre_weakest": "Pre is below Post and Both"}


def _ci(est) -> str:
    return (f"{est.estimate:+.4f} ({est.ci_level:.0%} CI [{est.ci_low:+.4f}, "
            f"{est.ci_high:+.4f}])")


def answer(res, outcome) -> str:
    """One paragraph: per claim, the pooled estimate and verdict in every block."""
    cfg = res.cfg
    n_cells = len(outcome.coincide) // max(1, outcome.coincide["block"].nunique())
    parts = []
    for key, text in CLAIM_TEXT.items():
        a, bs = COMPARISONS[key]
        per_block = []
        for r in outcome.results:
            if not r.claim.id.startswith(f"03.{key}."):
                continue
            block = r.claim.id.rsplit(".", 1)[1]
            label = BLOCK_TEXT[block].format(k=cfg.min_prf_depth)
            if r.estimate is None:
                per_block.append(f"{label}: {r.verdict}")
                continue
            bind = r.estimate.test.split("shown: ")[-1] if "shown: " in r.estimate.test \
                else f"{a} - {bs[0]}"
            per_block.append(f"{label}: {bind} = {_ci(r.estimate)}, **{r.verdict}**")
        parts.append(f"*{text}* — " + "; ".join(per_block) + ".")
    flagged = int((~outcome.coincide["kept"]).sum())
    return (f"Pooled over {n_cells} cells ({', '.join(res.datasets)} × "
            f"{', '.join(cfg.partners)} × {', '.join(cfg.prf_methods)} PRF), on "
            f"{cfg.tune_measure}, with random-effects meta-analysis of the per-cell paired "
            f"differences (A − B; equivalence margin ±{cfg.equiv_margin:g}): "
            + " ".join(parts)
            + f" {flagged} block-cell(s) were left out because two compared placements "
            f"ranked the same top {cfg.coincide_depth} on ≥ {cfg.coincide_share:.0%} of "
            "queries.")


def setup(res) -> pd.DataFrame:
    """The fixed settings of every block, with the values used (parameters are shown by the
    report's parameter table)."""
    cfg = res.cfg
    rows = [
        ("PRF, paper defaults", "; ".join(p.name() for k, p in DEFAULT_PRF.items()
                                          if k in cfg.prf_methods)),
        ("fusion, paper defaults", (f"{cfg.default_alpha:g} · s_sparse + s_dense, raw scores "
                                    "and min–max centred lists; Both uses it before and after")),
        ("tuned grid: PRF depths", ", ".join(map(str, cfg.prf_depths))),
        ("tuned grid: Rocchio (α, β)", ", ".join(f"({a:g}, {b:g})" for a, b in cfg.rocchio_weights)),
        ("tuned grid: fusion weights", ", ".join(f"{a:g}" for a in cfg.alphas)
         + (" (min–max centred)" if cfg.normalize else " (raw scores)")),
        ("tuned_k2 block", f"as tuned, PRF depth ≥ {cfg.min_prf_depth}"),
        ("claims measure", cfg.tune_measure),
        ("equivalence margin (Post ≈ Both)", f"±{cfg.equiv_margin:g}"),
        ("significance level", f"{cfg.significance:g}"),
        ("coincident placements", (f"same top {cfg.coincide_depth} on ≥ "
                                   f"{cfg.coincide_share:.0%} of queries")),
        ("run depth (k0 = k)", str(cfg.depth)),
        ("self-hits (doc id = query id)", SELF_HITS + "; every retriever and pipeline alike"),
    ]
    rows += [(f"first round: {k}", v) for k, v in sorted(res.first_rounds.items())]
    return pd.DataFrame(rows, columns=["setting", "value"]).set_index("setting")


def limitations(res, outcome) -> str:
    """What the numbers cannot say, with the quantities that limit them."""
    cfg = res.cfg
    n_q = {name: len(next(iter(ds.final.values()))) for name, ds in res.datasets.items()}
    load = ""
    if res.latency is not None and "load_1min" in res.latency:
        load = f" (1-minute load average {res.latency['load_1min'].iloc[0]:.1f} when timed)"
    lines = []
    if len(res.datasets) == 1:
        lines.append(f"- Every cell comes from one collection ({next(iter(res.datasets))}), so "
                     "the pooled estimates describe that collection only; the design pools "
                     "across collections as well (see the profile's datasets).")
    lines += [
        (f"- Cells are not independent: within a collection the {len(cfg.partners)} partner(s) "
         f"× {len(cfg.prf_methods)} PRF methods share their queries "
         f"({', '.join(f'{k}: {v}' for k, v in n_q.items())} test queries), so the pooled "
         "CIs, which treat cells as independent studies, are narrower than they should be."),
        ("- The paper's per-table effect sizes are not available here: the claims are "
         "compared in direction and verdict, not in size."),
        ("- Our models are small stand-ins (all-MiniLM-L6-v2; a 2-layer SPLADE), on BEIR-small "
         "and classic collections, not the paper's TREC DL with ANCE / TCT-ColBERT / uniCOIL."),
        (f"- The equivalence margin ±{cfg.equiv_margin:g} {cfg.tune_measure} is our choice; "
         "the paper states none."),
        (f"- Latency was measured once on a shared 2-core machine{load}; it is an artifact, "
         "so rebuilds show the same numbers."),
    ]
    return "\n".join(lines)
