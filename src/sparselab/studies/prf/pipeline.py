"""Study 03: when to interpolate sparse and dense retrieval around dense vector PRF.

Li et al., SIGIR 2022 ("To Interpolate or not to Interpolate: PRF, Dense and Sparse
Retrievers"), at BEIR-small scale on CPU: pipelines `dense`, `sparse`, `dense+prf`, `interp`,
`pre`, `post`, `both` (`sparselab.retrieval.pipelines`), hyper-parameters chosen without the
test queries (`prf_grid`), significance by paired t-tests with Holm–Bonferroni.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .config import Config
from .figures import plot_alpha, plot_depth, plot_latency, plot_winloss
from .findings import findings, headline, metrics, significance, system_means, table_main
from .grid import Sweep, prf_settings, select, systems


@dataclass
class DatasetResult:
    """One collection: the protocol, the grids, the choices and the held-out per-query values."""

    name: str
    protocol: str  # "train split", "dev split" or "5-fold CV"
    grid: pd.DataFrame  # one row per grid point: spec fields + means on the test queries
    choices: pd.DataFrame  # system, fold, label (fold -1: one choice on the tuning split)
    final: dict  # system -> per-query frame on the test queries (held-out values)
    specs: dict  # label -> Spec of every grid point
    tune_grid: pd.DataFrame | None = None  # means on the tuning split (split protocol)


@dataclass
class Results:
    cfg: Config
    datasets: dict  # name -> DatasetResult
    latency: pd.DataFrame | None = None


def _first_round(col, split: str, cfg: Config):
    from ...retrieval.first_round import load_first_round

    return load_first_round(col, split, partners=tuple(cfg.partners), k=cfg.depth,
                            k0=cfg.depth, normalize=cfg.normalize)


def _sweep(first, qrels, cfg: Config, prfs) -> Sweep:
    from ...eval.fast import FastEvaluator

    sw = Sweep(first, FastEvaluator(qrels, first.doc_ids, cfg.measures,
                                    drop_self_hits=first.drop_self_hits))
    sw.baselines(cfg.partners)
    sw.prf(prfs)
    return sw


def _chosen_prfs(sw: Sweep, values: pd.DataFrame, methods) -> list:
    return [sw.specs[select((m, "dense+prf", None, m), sw.specs, values)].prf for m in methods]


def run_split_protocol(col, tune_split: str, cfg: Config) -> DatasetResult:
    """Tune every system on `tune_split`, evaluate the choices on test."""
    return split_protocol(col.name, _first_round(col, tune_split, cfg), col.qrels[tune_split],
                          _first_round(col, "test", cfg), col.qrels["test"], cfg, tune_split)


def split_protocol(name: str, tune_first, tune_qrels, test_first, test_qrels, cfg: Config,
                   tune_split: str = "tuning") -> DatasetResult:
    """Grid on the tuning first round, choices per system, the same grid on test."""
    prfs = prf_settings(cfg.prf_methods, cfg.prf_depths, cfg.rocchio_weights)
    tune = _sweep(tune_first, tune_qrels, cfg, prfs)
    chosen = _chosen_prfs(tune, tune.table(cfg.tune_measure), cfg.prf_methods)
    tune.fusion(cfg.partners, chosen, cfg.alphas)
    values = tune.table(cfg.tune_measure)
    rows = [{"system": s[0], "fold": -1, "label": select(s, tune.specs, values)}
            for s in systems(cfg.partners, cfg.prf_methods)]
    test = _sweep(test_first, test_qrels, cfg, prfs)
    test.fusion(cfg.partners, chosen, cfg.alphas)  # the same grid, for figures and the choices
    final = {r["system"]: test.values[r["label"]] for r in rows}
    return DatasetResult(name, f"{tune_split} split", test.means(), pd.DataFrame(rows),
                         final, test.specs, tune.means())


def run_cv_protocol(col, cfg: Config) -> DatasetResult:
    """Query-level k-fold CV on the test queries: tune on k-1 folds, keep the held-out fold."""
    return cv_protocol(col.name, _first_round(col, "test", cfg), col.qrels["test"], cfg)


def cv_protocol(name: str, first, qrels, cfg: Config) -> DatasetResult:
    """The CV protocol on one first round; every fold's choice sees only the other folds."""
    from ...eval.tuning import gather, kfold_assign

    prfs = prf_settings(cfg.prf_methods, cfg.prf_depths, cfg.rocchio_weights)
    sw = _sweep(first, qrels, cfg, prfs)
    folds = kfold_assign(sw.first.query_ids, cfg.cv_folds, cfg.seed)
    values = sw.table(cfg.tune_measure)
    values = values.loc[folds.index]
    chosen = []
    for f in range(cfg.cv_folds):
        for p in _chosen_prfs(sw, values[(folds != f).to_numpy()], cfg.prf_methods):
            if p not in chosen:
                chosen.append(p)
    sw.fusion(cfg.partners, chosen, cfg.alphas)
    values = sw.table(cfg.tune_measure).loc[folds.index]
    rows, final = [], {}
    for s in systems(cfg.partners, cfg.prf_methods):
        choice = pd.Series(index=folds.index, dtype=object)
        for f in range(cfg.cv_folds):
            label = select(s, sw.specs, values[(folds != f).to_numpy()])
            choice[(folds == f).to_numpy()] = label
            rows.append({"system": s[0], "fold": f, "label": label})
        final[s[0]] = gather(sw.values, choice)
    return DatasetResult(name, f"{cfg.cv_folds}-fold CV", sw.means(), pd.DataFrame(rows),
                         final, sw.specs)


def run(cfg: Config) -> Results:
    """Every dataset of the grid (tuning protocol per dataset), then the latency run."""
    from sparselab.progress import bar as progress_bar  # terminal only, never the report

    from ...data import load_collection

    out = {}
    for name in progress_bar(cfg.datasets, desc="datasets"):
        col = load_collection(name)
        tune_split = cfg.tune_splits.get(name)
        if tune_split is not None and tune_split not in col.splits:
            raise ValueError(f"tune_splits: {name!r} has no split {tune_split!r}; "
                             f"has {col.splits}")
        out[name] = (run_split_protocol(col, tune_split, cfg) if tune_split
                     else run_cv_protocol(col, cfg))
    return Results(cfg, out)


def latency_specs(res: Results) -> dict:
    """System -> Spec timed for latency: the choice made for `cfg.latency_dataset` (the most
    frequent across folds), else for the first dataset studied."""
    cfg = res.cfg
    ds = res.datasets.get(cfg.latency_dataset) or next(iter(res.datasets.values()))
    modes = ds.choices.groupby("system", sort=False)["label"].agg(lambda x: x.mode().iloc[0])
    return {system: ds.specs[label] for system, label in modes.items()}


def measure_latency(res: Results) -> pd.DataFrame:
    """Per-query latency (ms) of every system's pipeline on `cfg.latency_dataset` test queries."""
    from ...retrieval.latency import pipeline_latency

    cfg = res.cfg
    res.latency = pipeline_latency(cfg.latency_dataset, latency_specs(res), cfg.latency_queries,
                                   k=cfg.depth, k0=cfg.depth, normalize=cfg.normalize)
    return res.latency


def table_latency(res: Results) -> pd.DataFrame:
    """Mean and median per-query latency (ms) of each system, split into its stages."""
    lat = res.latency
    cols = [c for c in lat.columns if c.endswith("_ms")]
    out = lat.groupby("system", sort=False)[cols].mean()
    out["median_total_ms"] = lat.groupby("system", sort=False)["total_ms"].median()
    return out.round(2)


def table_protocol(res: Results) -> pd.DataFrame:
    """Where every number comes from: dataset, tuning protocol, queries evaluated."""
    rows = []
    for name, ds in res.datasets.items():
        n = len(next(iter(ds.final.values())))
        rows.append({"dataset": name, "hyper-parameters chosen on": ds.protocol,
                     "reported on": "test split" + (" (held-out folds)" if "CV" in ds.protocol
                                                     else ""), "test queries": n})
    return pd.DataFrame(rows).set_index("dataset")


def table_choices(res: Results) -> pd.DataFrame:
    """The chosen grid point of every system (per fold under CV)."""
    parts = []
    for name, ds in res.datasets.items():
        c = ds.choices.copy()
        c.insert(0, "dataset", name)
        parts.append(c)
    out = pd.concat(parts, ignore_index=True)
    return (out.groupby(["dataset", "system", "label"], sort=False).size()
            .rename("folds").reset_index())


def per_query_diff(res: Results, a: str, b: str, measure: str) -> pd.DataFrame:
    """Per-query `a - b` on `measure` for every dataset: columns dataset, query_id, diff."""
    parts = []
    for name, ds in res.datasets.items():
        if a in ds.final and b in ds.final:
            x = ds.final[a].set_index("query_id")[measure]
            y = ds.final[b].set_index("query_id")[measure].reindex(x.index)
            parts.append(pd.DataFrame({"dataset": name, "query_id": x.index,
                                       "diff": (x - y).to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["dataset", "query_id", "diff"])


def win_loss(res: Results, a: str = "both", b: str = "post", measure: str = "nDCG@10",
             eps: float = 1e-9) -> pd.DataFrame:
    """Counts of queries where pipeline `a` beats / ties / loses to `b`, per dataset and
    partner/method (systems `a/<partner>/<method>` vs `b/<partner>/<method>`)."""
    rows = []
    for s in systems(res.cfg.partners, res.cfg.prf_methods):
        if s[1] != a:
            continue
        rest = s[0][len(a):]
        d = per_query_diff(res, s[0], b + rest, measure)
        for name, g in d.groupby("dataset", sort=False):
            rows.append({"dataset": name, "variant": rest.strip("/"),
                         "wins": int((g["diff"] > eps).sum()), "ties": int((g["diff"].abs() <= eps).sum()),
                         "losses": int((g["diff"] < -eps).sum()), "mean_diff": float(g["diff"].mean())})
    return pd.DataFrame(rows)


__all__ = ["Config", "DatasetResult", "Results", "findings", "headline", "measure_latency",
           "metrics", "per_query_diff", "plot_alpha", "plot_depth", "plot_latency",
           "plot_winloss", "run", "significance", "system_means", "table_choices",
           "table_latency", "table_main", "table_protocol", "win_loss"]
