"""Study 03's claims (Li et al., SIGIR 2022), tested through `sparselab.claims`.

A cell is one collection x sparse partner x PRF method; within a cell the placements are
Pre, Post, Both, PRF only (`dense+prf`) and interpolation only (`interp`), scored per test
query on the claims measure. Each claim is tested in every block (`pipeline.BLOCKS`):

- Both is the most effective placement: Both - X > 0 for X in Pre, Post, PRF only, interp.
  Per cell: paired t-tests, Holm across the four. Pooled: per X, a random-effects
  meta-analysis of the cells' mean differences and a sign test across cells. The claim agrees
  only if Both beats every X significantly (an intersection-union test), disagrees if any X
  beats Both significantly, else is inconclusive; its estimate is the binding comparison.
- Post is as effective as Both: pooled Both - Post inside +-margin by TOST (equivalence).
- Pre is the weakest placement: Pre - X < 0 for X in Post, Both, as for the first claim.

A cell where two compared placements rank the same top documents on >= `coincide_share` of
its queries (or score identically on every query) is flagged and left out: its difference
is zero by construction, not by measurement.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import claims as C
from .blocks import PLACEMENTS, coincidence, system_of

SOURCE = ("Li et al., SIGIR 2022, abstract (verified); METHODS.md §1, 'Interpolation ... and "
          "its placement around PRF'")
SOURCE_SECONDARY = ("secondary summary of Li et al., SIGIR 2022, not verified against the "
                    "paper's tables (METHODS.md §1)")

BOTH_BEST = C.Claim(
    id="03.both_best", claim="Both (interpolate before and after PRF) is the most effective "
    "placement: better than Pre, Post, PRF only and interpolation only",
    paper_value="most effective across most datasets and metrics (no effect size available)",
    paper_source=SOURCE, hypothesis="greater", unit="nDCG@10",
    estimand="pooled mean paired difference Both - X, X the binding competitor")
POST_EQUIV_BOTH = C.Claim(
    id="03.post_equiv_both", claim="Post is as effective as Both",
    paper_value="Post close to Both, difference not significant", paper_source=SOURCE_SECONDARY,
    hypothesis="equivalent", margin=0.01, unit="nDCG@10",
    estimand="pooled mean paired difference Both - Post")
PRE_WEAKEST = C.Claim(
    id="03.pre_weakest", claim="Pre is the weakest placement: below Post and Both",
    paper_value="Pre is the weakest placement", paper_source=SOURCE_SECONDARY,
    hypothesis="less", unit="nDCG@10",
    estimand="pooled mean paired difference Pre - X, X the binding competitor")

# claim -> (placement A, competitors B); the estimate is A - B
COMPARISONS = {"both_best": ("both", ("pre", "post", "prf_only", "interp")),
               "post_equiv_both": ("both", ("post",)),
               "pre_weakest": ("pre", ("post", "both"))}
BASES = {"both_best": BOTH_BEST, "post_equiv_both": POST_EQUIV_BOTH, "pre_weakest": PRE_WEAKEST}
BLOCK_TEXT = {"default_raw": "paper defaults, fusion on raw scores",
              "default_minmax": "paper defaults, fusion on min-max centred scores",
              "tuned": "tuned without the test queries",
              "tuned_k2": "tuned without the test queries, PRF depth >= {k}"}
PAIRS = [(a, b) for key, (a, bs) in COMPARISONS.items() for b in bs]


@dataclass
class Outcome:
    """Everything the claims produce: claims.json entries and the tables behind them."""

    results: list  # ClaimResult, in declaration order
    pooled: pd.DataFrame  # block, claim, comparison: pooled estimate, CI, p, tau2, sign test
    cells: pd.DataFrame  # block, claim, cell, comparison: per-cell Holm tests and verdicts
    coincide: pd.DataFrame  # block, cell: share of identical top lists per compared pair


def declare(cfg, block: str, key: str) -> C.Claim:
    """The claim `key` as tested in `block` with the study's measure, margin and alpha."""
    base = BASES[key]
    text = BLOCK_TEXT[block].format(k=cfg.min_prf_depth)
    return dataclasses.replace(
        base, id=f"{base.id}.{block}", claim=f"{base.claim} [{text}; {cfg.tune_measure}]",
        alpha=cfg.significance, unit=cfg.tune_measure,
        margin=cfg.equiv_margin if base.hypothesis == "equivalent" else None)


def cells(res, block: str) -> tuple[dict, pd.DataFrame]:
    """Per-query scores of every cell of `block` and its coincidence table.

    Returns ({cell: {placement: (n,) scores in one query order}} for the cells kept,
    a DataFrame block, cell, one share column per compared pair, flagged, kept).
    """
    cfg, measure = res.cfg, res.cfg.tune_measure
    kept, rows = {}, []
    for name, ds in res.datasets.items():
        b = ds.blocks[block]
        for s in cfg.partners:
            for m in cfg.prf_methods:
                systems = {p: system_of(p, s, m) for p in PLACEMENTS}
                frames = {p: b.final[x].set_index("query_id")[measure] for p, x in systems.items()}
                queries = frames["both"].index
                scores = {p: f.reindex(queries).to_numpy(float) for p, f in frames.items()}
                row, flagged = {"block": block, "cell": f"{name}/{s}/{m}"}, []
                for a, c in PAIRS:
                    share = coincidence(b.signatures[systems[a]], b.signatures[systems[c]], queries)
                    row[f"{a}~{c}"] = share
                    if share >= cfg.coincide_share or np.ptp(scores[a] - scores[c]) == 0:
                        flagged.append(f"{a}~{c}")
                row["flagged"] = ", ".join(flagged)
                row["kept"] = not flagged
                rows.append(row)
                if not flagged:
                    kept[row["cell"]] = scores
    return kept, pd.DataFrame(rows)


def _sign(effects, claim) -> C.Estimate | None:
    try:
        return C.sign_test(np.asarray(effects, float), claim=claim)
    except ValueError:  # every cell tied, or an equivalence claim: no sign test
        return None


def _combine(claim: C.Claim, pooled: dict, n_cells: int, n_all: int,
             cell_verdicts: list) -> C.ClaimResult:
    """One verdict from the per-competitor pooled estimates: agrees only if every comparison
    agrees (intersection-union), disagrees if one does after Holm (`claims.judge_all`)."""
    r = C.judge_all(claim, pooled) if len(pooled) > 1 else C.judge(claim, *pooled.values())
    tally = {v: cell_verdicts.count(v) for v in ("agrees", "disagrees", "inconclusive")}
    return dataclasses.replace(r, reason=(
        f"{r.reason}. Cells (Holm within each cell): {tally['agrees']} agree, "
        f"{tally['disagrees']} disagree, {tally['inconclusive']} inconclusive; {n_cells} of "
        f"{n_all} cells kept (the others: two placements coincide)"))


def evaluate_claim(cfg, block: str, key: str, kept: dict, n_all: int):
    """Test claim `key` on the kept cells of `block`: (ClaimResult, pooled rows, cell rows)."""
    claim = declare(cfg, block, key)
    a, competitors = COMPARISONS[key]
    if len(kept) < 2:
        return C.untestable(claim, "a pooled estimate needs at least 2 cells where the "
                            "placements differ", quantity="cells kept", measured=len(kept),
                            threshold=2), [], []
    estimates, pooled, cell_rows, cell_verdicts = {}, [], [], []
    for b in competitors:
        sub = dataclasses.replace(claim, id=f"{claim.id}/vs_{b}")
        pairs = {cell: (v[a], v[b]) for cell, v in kept.items()}
        est = estimates[f"{a} - {b}"] = C.meta_paired(pairs, claim=sub)
        verdict = C.judge(sub, est).verdict
        sign = _sign([np.mean(x - y) for x, y in pairs.values()], sub)
        pooled.append({"block": block, "claim": key, "comparison": f"{a} - {b}",
                       "estimate": est.estimate, "ci_low": est.ci_low, "ci_high": est.ci_high,
                       "ci_level": est.ci_level, "p": est.p_value, "cells": est.n,
                       "tau2": est.extra["tau2"], "i2": est.extra["i2"],
                       "sign_share": None if sign is None else sign.estimate,
                       "sign_p": None if sign is None else sign.p_value,
                       "verdict": verdict})
    for cell, v in kept.items():
        fam = C.cell_tests({b: (v[a], v[b]) for b in competitors}, claim)
        verdicts = []
        for b, est in fam.items():
            r = C.judge(dataclasses.replace(claim, id=f"{claim.id}/{cell}/vs_{b}"), est)
            verdicts.append(r.verdict)
            cell_rows.append({"block": block, "claim": key, "cell": cell,
                              "comparison": f"{a} - {b}", "estimate": est.estimate,
                              "ci_low": est.ci_low, "ci_high": est.ci_high, "p_holm": est.p_value,
                              "n": est.n, "verdict": r.verdict})
        cell_verdicts.append("disagrees" if "disagrees" in verdicts else
                             "agrees" if all(x == "agrees" for x in verdicts) else "inconclusive")
    return _combine(claim, estimates, len(kept), n_all, cell_verdicts), pooled, cell_rows


def evaluate_claims(res, blocks) -> Outcome:
    """Every claim in every block: claims.json results (claim-major order) and tables."""
    by_block, coincide = {}, []
    for block in blocks:
        kept, table = cells(res, block)
        by_block[block] = (kept, len(table))
        coincide.append(table)
    results, pooled, cell_rows = [], [], []
    for key in BASES:
        for block in blocks:
            r, p, c = evaluate_claim(res.cfg, block, key, *by_block[block])
            results.append(r)
            pooled += p
            cell_rows += c
    return Outcome(results, pd.DataFrame(pooled), pd.DataFrame(cell_rows),
                   pd.concat(coincide, ignore_index=True))
