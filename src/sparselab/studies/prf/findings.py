"""Study 03's main table, significance tests, claim-by-claim findings and report metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd

PLACEMENTS = ("interp", "pre", "post", "both")
DAGGER, DDAGGER = "†", "‡"  # significant vs dense / vs dense+prf (same PRF method)


def metric_key(measure: str) -> str:
    """IR notation for metric keys: nDCG@10 -> ndcg@10, R@100 -> recall@100, AP@1000 -> ap@1000."""
    name, _, cut = measure.partition("@")
    name = {"R": "recall", "P": "precision"}.get(name, name.lower())
    return f"{name}@{cut}" if cut else name


def _method(system: str) -> str | None:
    parts = system.split("/")
    if parts[0] == "dense+prf":
        return parts[1]
    return parts[2] if parts[0] in ("pre", "post", "both") else None


def significance(res) -> pd.DataFrame:
    """Paired t-tests (Holm within each family) of every system vs `dense` and vs `dense+prf`.

    Families: per (dataset, measure, baseline); the dense+prf/<m> family holds the pre/post/both
    systems using PRF method m. Returns rows dataset, measure, baseline, system, mean, delta,
    t, p, p_holm, significant.
    """
    from ...eval import compare_runs

    alpha = res.cfg.significance
    parts = []
    for name, ds in res.datasets.items():
        for measure in res.cfg.measures:
            families = [("dense", dict(ds.final))]
            for m in res.cfg.prf_methods:
                base = f"dense+prf/{m}"
                fam = {s: f for s, f in ds.final.items()
                       if s == base or (s.split("/")[0] in ("pre", "post", "both") and _method(s) == m)}
                families.append((base, fam))
            for base, fam in families:
                out = compare_runs(fam, base, measure, alpha=alpha)
                out = out[out["system"] != base]
                parts.append(out.assign(dataset=name, measure=measure, baseline=base))
    cols = ["dataset", "measure", "baseline", "system", "mean", "delta", "t", "p", "p_holm",
            "significant"]
    return pd.concat(parts, ignore_index=True)[cols]


def table_main(res, numeric: bool = False) -> pd.DataFrame:
    """Rows = systems (pipeline/partner/PRF), columns = (dataset, measure); held-out means with
    markers † (vs dense) and ‡ (vs dense+prf of the same PRF method), Holm-corrected."""
    from .grid import systems

    means = system_means(res)
    order = [s[0] for s in systems(res.cfg.partners, res.cfg.prf_methods)]
    table = means.set_index(["system", "dataset"])[res.cfg.measures].unstack("dataset")
    table = table.swaplevel(axis=1).reindex(columns=pd.MultiIndex.from_product(
        [list(res.datasets), res.cfg.measures])).reindex(order)
    if numeric:
        return table
    sig = significance(res)
    sig = sig[sig["significant"]]
    marks = {}
    for r in sig.itertuples():
        mark = DAGGER if r.baseline == "dense" else DDAGGER
        marks[(r.system, r.dataset, r.measure)] = marks.get((r.system, r.dataset, r.measure), "") + mark
    out = table.copy().astype(object)
    for system in out.index:
        for ds, measure in out.columns:
            v = table.loc[system, (ds, measure)]
            out.loc[system, (ds, measure)] = ("" if pd.isna(v) else f"{v:.4f}") + marks.get(
                (system, ds, measure), "")
    return out


def _paired(a: pd.DataFrame, b: pd.DataFrame, measure: str) -> tuple[float, float, float]:
    """(mean a - b, Cohen's d_z, two-sided paired t-test p) over the same queries."""
    from ...eval import paired_ttest

    x, y = a.set_index("query_id")[measure], b.set_index("query_id")[measure]
    d = x - y.reindex(x.index)
    sd = float(d.std(ddof=1))
    _, p = paired_ttest(x, y)
    return float(d.mean()), (float(d.mean()) / sd if sd > 0 else 0.0), p


def findings(res) -> pd.DataFrame:
    """Each claim of Li et al. (2022) tested per dataset x partner x PRF method x measure.

    Claims: both_best (both beats the best other placement), post_approx_both (no significant
    both-post difference), pre_weakest (pre below the weaker of post/both), learned_sparse
    (SPLADE beats BM25 as the partner of both). Holm correction within each claim and measure.
    Returns rows claim, dataset, partner, method, measure, comparison, delta, d_z, p, p_holm,
    verdict.
    """
    from ...eval import holm

    cfg, rows = res.cfg, []
    for name, ds in res.datasets.items():
        f = ds.final
        for measure in cfg.measures:
            mean = {s: float(v[measure].mean()) for s, v in f.items()}
            for m in cfg.prf_methods:
                for s in cfg.partners:
                    sysname = {p: (f"{p}/{s}" if p == "interp" else f"{p}/{s}/{m}")
                               for p in PLACEMENTS}
                    both, post, pre = sysname["both"], sysname["post"], sysname["pre"]
                    other = max((sysname[p] for p in PLACEMENTS if p != "both"), key=mean.get)
                    weaker = min((post, both), key=mean.get)
                    for claim, a, b in (("both_best", both, other), ("post_approx_both", both, post),
                                        ("pre_weakest", pre, weaker)):
                        rows.append((claim, name, s, m, measure, f"{a} - {b}", *_paired(f[a], f[b], measure)))
                if {"bm25", "splade"} <= set(cfg.partners):
                    a, b = f"both/splade/{m}", f"both/bm25/{m}"
                    rows.append(("learned_sparse", name, "splade-bm25", m, measure, f"{a} - {b}",
                                 *_paired(f[a], f[b], measure)))
    out = pd.DataFrame(rows, columns=["claim", "dataset", "partner", "method", "measure",
                                      "comparison", "delta", "d_z", "p"])
    out["p_holm"] = np.nan
    for idx in out.groupby(["claim", "measure"]).groups.values():
        out.loc[idx, "p_holm"] = holm(out.loc[idx, "p"].to_numpy())
    out["verdict"] = [_verdict(r, cfg.significance) for r in out.itertuples()]
    return out


def _verdict(r, alpha: float) -> str:
    sig = r.p_holm < alpha
    if r.claim == "post_approx_both":
        return "agrees (no significant difference)" if not sig else (
            "disagrees (both significantly " + ("better)" if r.delta > 0 else "worse)"))
    good = r.delta < 0 if r.claim == "pre_weakest" else r.delta > 0
    return ("agrees" if good else "disagrees") + (" (significant)" if sig else " (n.s.)")


def summary(fnd: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per claim: cells tested, how many agree, how many agree significantly, mean delta."""
    sub = fnd[fnd["measure"] == measure]
    g = sub.groupby("claim", sort=False)
    return pd.DataFrame({
        "cells": g.size(),
        "agree": g["verdict"].agg(lambda v: int(v.str.startswith("agrees").sum())).astype(int),
        "agree_significant": g["verdict"].agg(
            lambda v: int((v == "agrees (significant)").sum())).astype(int),
        "mean_delta": g["delta"].mean(), "min_p_holm": g["p_holm"].min()})


def metrics(res, fnd: pd.DataFrame | None = None) -> dict:
    """Flat metrics: every main-table cell (`ndcg@10/scifact/both/bm25/rocchio`), Holm p-values
    of the markers, findings deltas/p-values, latency, and per dataset the tuning protocol
    (`tuned_on/scifact`: "train split") and number of test queries."""
    out: dict = {}
    table = table_main(res, numeric=True)
    for system in table.index:
        for ds, measure in table.columns:
            v = table.loc[system, (ds, measure)]
            if not pd.isna(v):
                out[f"{metric_key(measure)}/{ds}/{system}"] = float(v)
    for r in significance(res).itertuples():
        out[f"p_holm_vs_{r.baseline}/{metric_key(r.measure)}/{r.dataset}/{r.system}"] = float(r.p_holm)
    fnd = findings(res) if fnd is None else fnd
    for r in fnd.itertuples():
        key = f"finding/{r.claim}/{metric_key(r.measure)}/{r.dataset}/{r.partner}/{r.method}"
        out[f"{key}/delta"], out[f"{key}/p_holm"] = float(r.delta), float(r.p_holm)
    for name, ds in res.datasets.items():  # where every number comes from
        out[f"tuned_on/{name}"] = ds.protocol
        out[f"n_test_queries/{name}"] = len(next(iter(ds.final.values())))
    if res.latency is not None:
        for system, v in res.latency.groupby("system")["total_ms"].mean().items():
            out[f"latency_ms/{res.cfg.latency_dataset}/{system}"] = float(v)
    return out


def headline(res, fnd: pd.DataFrame | None = None) -> dict[str, float]:
    """2-4 numbers: share of cells where both is best, mean both-post and both-dense gains."""
    measure = res.cfg.tune_measure
    fnd = findings(res) if fnd is None else fnd
    sub = fnd[fnd["measure"] == measure]
    best = sub[sub["claim"] == "both_best"]
    key = metric_key(measure)
    table = table_main(res, numeric=True)
    gains = [table.loc[s, (ds, measure)] - table.loc["dense", (ds, measure)]
             for s in table.index if s.startswith("both/") for ds in res.datasets]
    return {f"both_best_share/{key}": float((best["delta"] > 0).mean()),
            f"mean_delta_both_minus_post/{key}": float(
                sub.loc[sub["claim"] == "post_approx_both", "delta"].mean()),
            f"mean_delta_both_minus_dense/{key}": float(np.mean(gains))}


CLAIMS = {
    "both_best": "Both is the most effective placement",
    "post_approx_both": "Post is about as effective as Both",
    "pre_weakest": "Pre is the weakest placement",
    "learned_sparse": "A learned sparse partner (SPLADE) beats BM25 inside Both",
}


def findings_text(fnd: pd.DataFrame, measure: str, alpha: float = 0.05) -> str:
    """One paragraph per claim, every number taken from `findings` (nothing typed by hand)."""
    lines = []
    for claim, title in CLAIMS.items():
        sub = fnd[(fnd["claim"] == claim) & (fnd["measure"] == measure)]
        if sub.empty:
            continue
        n = len(sub)
        good = sub["verdict"].str.startswith("agrees")
        sig = sub["p_holm"] < alpha
        agree, agree_sig, against_sig = int(good.sum()), int((good & sig).sum()), int((~good & sig).sum())
        if claim == "post_approx_both":
            verdict = "AGREES" if agree == n else "PARTLY AGREES" if agree * 2 >= n else "DISAGREES"
            better = int(((sub["delta"] > 0) & sig).sum())
            detail = (f"no significant Both-Post difference in {agree} of {n} cells (Both "
                      f"significantly better in {better}, worse in {n - agree - better})")
        else:
            verdict = ("AGREES" if agree == n and agree_sig == n else
                       "DISAGREES" if agree * 2 <= n else
                       "MIXED (mostly as claimed, significantly against in some cells)"
                       if against_sig else
                       "AGREES IN DIRECTION (partly significant)" if agree_sig else
                       "AGREES IN DIRECTION ONLY (no cell significant)")
            detail = (f"{agree} of {n} cells in the claimed direction ({agree_sig} significant), "
                      f"{n - agree} against ({against_sig} significant), Holm at {alpha}")
        cells = "; ".join(
            f"{r.dataset}/{r.partner}/{r.method} vs {r.comparison.split(' - ')[1]}: "
            f"delta {r.delta:+.4f} (d_z {r.d_z:+.2f}, Holm p {r.p_holm:.3g})"
            for r in sub.itertuples())
        lines.append(f"- {title} ({measure}): {verdict}: {detail}. Mean delta "
                     f"{sub['delta'].mean():+.4f}. Cells: {cells}.")
    return "\n".join(lines)


def summary_lines(fnd: pd.DataFrame, measures) -> list[str]:
    """One line per measure: for each claim, cells agreeing / tested and significant ones."""
    lines = []
    for m in measures:
        s = summary(fnd, m)
        lines.append(f"{m}: " + "; ".join(
            f"{claim}: {int(r.agree)}/{int(r.cells)} agree ({int(r.agree_significant)} significant)"
            for claim, r in zip(s.index, s.itertuples())))
    return lines


def answers(res, measure: str) -> str:
    """The best system per dataset on `measure`, with its Holm p-values vs both baselines."""

    means = system_means(res)
    sig = significance(res)
    sig = sig[sig["measure"] == measure].set_index(["dataset", "baseline", "system"])
    lines = []
    for name in res.datasets:
        sub = means[means["dataset"] == name].set_index("system")[measure]
        best = str(sub.idxmax())
        parts = [f"{name}: best {best} {sub[best]:.4f} (dense {sub['dense']:.4f}"]
        if (name, "dense", best) in sig.index:
            parts.append(f", Holm p vs dense {sig.loc[(name, 'dense', best), 'p_holm']:.3g}")
        base = f"dense+prf/{best.split('/')[-1]}"
        if (name, base, best) in sig.index:
            parts.append(f"; {base} {sub[base]:.4f}, Holm p "
                         f"{sig.loc[(name, base, best), 'p_holm']:.3g}")
        lines.append("".join(parts) + ")")
    return "\n".join(lines)


def system_means(res) -> pd.DataFrame:
    """Mean of every measure per (dataset, system) over the held-out test values."""
    rows = []
    for name, ds in res.datasets.items():
        for system, frame in ds.final.items():
            rows.append({"dataset": name, "system": system,
                         **frame.drop(columns="query_id").mean().to_dict()})
    return pd.DataFrame(rows)

