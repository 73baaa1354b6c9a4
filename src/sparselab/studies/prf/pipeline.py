"""Study 03: when to interpolate sparse and dense retrieval around dense vector PRF.

Li et al., SIGIR 2022 ("To Interpolate or not to Interpolate: PRF, Dense and Sparse
Retrievers"), at BEIR-small scale on CPU: pipelines `dense`, `sparse`, `dense+prf`, `interp`,
`pre`, `post`, `both` (`sparselab.retrieval.pipelines`). Four blocks per collection, all
scored on the test queries:

- `default_raw`, `default_minmax`: Pyserini's defaults, nothing tuned (`blocks`);
- `tuned`: PRF setting then interpolation weights chosen without the test queries (`grid`);
- `tuned_k2`: the same with PRF depth >= `min_prf_depth`, so that PRF acts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ...retrieval.pipelines import FirstRound, run_pipeline
from .blocks import FUSIONS, Block, default_block, signature
from .config import Config
from .grid import Sweep, prf_settings, select, systems

BLOCKS = ("default_raw", "default_minmax", "tuned", "tuned_k2")
PLACEMENT_PIPES = ("dense+prf", "interp", "pre", "post", "both")  # systems compared by claims


@dataclass
class DatasetResult:
    """One collection: the tuning protocol, the grid, the choices and every block's values."""

    name: str
    protocol: str  # "train split", "dev split" or "5-fold CV"
    grid: pd.DataFrame  # one row per grid point: spec fields + means on the test queries
    choices: pd.DataFrame  # tuned block: system, fold, label (fold -1: one tuning-split choice)
    final: dict  # tuned block: system -> per-query frame on the test queries (held-out values)
    specs: dict  # label -> Spec of every grid point
    tune_grid: pd.DataFrame | None = None  # means on the tuning split (split protocol)
    blocks: dict = field(default_factory=dict)  # block name -> Block


@dataclass
class Results:
    cfg: Config
    datasets: dict  # name -> DatasetResult
    latency: pd.DataFrame | None = None
    first_rounds: dict = field(default_factory=dict)  # how each first round was obtained


def _sweep(first, qrels, cfg: Config, prfs) -> Sweep:
    from ...eval.fast import FastEvaluator

    sw = Sweep(first, FastEvaluator(qrels, first.doc_ids, cfg.measures,
                                    drop_self_hits=first.drop_self_hits))
    sw.baselines(cfg.partners)
    sw.prf(prfs)
    return sw


def _tuned_blocks(cfg: Config) -> list[tuple[str, int]]:
    return [("tuned", 0), ("tuned_k2", cfg.min_prf_depth)]


def _chosen_prfs(sw: Sweep, values: pd.DataFrame, methods, min_depth: int) -> list:
    return [sw.specs[select((m, "dense+prf", None, m), sw.specs, values, min_depth)].prf
            for m in methods]


def _compared(system: tuple) -> bool:
    return system[1] in PLACEMENT_PIPES


def _signatures(first: FirstRound, specs: dict, choice: pd.Series, depth: int) -> pd.Series:
    """Per query, the top-`depth` signature of the grid point chosen for it (`choice`:
    query_id -> label; one label under the split protocol, one per fold under CV)."""
    parts = []
    for label in pd.unique(choice.to_numpy()):
        sig = signature(run_pipeline(first, specs[label]), depth)
        queries = [str(q) for q in choice.index[choice.to_numpy() == label]]
        parts.append(sig.reindex(queries).fillna(""))
    return pd.concat(parts).sort_index()


def _default_blocks(test_first: FirstRound, evaluator, cfg: Config) -> dict:
    return {f"default_{f}": default_block(test_first, evaluator, cfg, f) for f in FUSIONS}


def split_protocol(name: str, tune_first, tune_qrels, test_first, test_qrels, cfg: Config,
                   tune_split: str = "tuning") -> DatasetResult:
    """Grid on the tuning first round, choices per system, the same grid on test."""
    prfs = prf_settings(cfg.prf_methods, cfg.prf_depths, cfg.rocchio_weights)
    tune, test = _sweep(tune_first, tune_qrels, cfg, prfs), _sweep(test_first, test_qrels, cfg, prfs)
    blocks = {}
    for block, min_depth in _tuned_blocks(cfg):
        chosen = _chosen_prfs(tune, tune.table(cfg.tune_measure), cfg.prf_methods, min_depth)
        tune.fusion(cfg.partners, chosen, cfg.alphas)
        test.fusion(cfg.partners, chosen, cfg.alphas)  # the same grid, for figures and choices
        values = tune.table(cfg.tune_measure)
        rows = [{"system": s[0], "fold": -1, "label": select(s, tune.specs, values, min_depth)}
                for s in systems(cfg.partners, cfg.prf_methods)]
        final = {r["system"]: test.values[r["label"]] for r in rows}
        queries = pd.Index([str(q) for q in test_first.query_ids])
        sigs = {s[0]: _signatures(test_first, test.specs, pd.Series(r["label"], index=queries),
                                  cfg.coincide_depth)
                for s, r in zip(systems(cfg.partners, cfg.prf_methods), rows) if _compared(s)}
        blocks[block] = Block(final, sigs, pd.DataFrame(rows))
    blocks.update(_default_blocks(test_first, test.evaluator, cfg))
    t = blocks["tuned"]
    return DatasetResult(name, f"{tune_split} split", test.means(), t.choices, t.final,
                         test.specs, tune.means(), blocks)


def cv_protocol(name: str, first, qrels, cfg: Config) -> DatasetResult:
    """Query-level k-fold CV on the test queries: tune on k-1 folds, keep the held-out fold."""
    from ...eval.tuning import gather, kfold_assign

    prfs = prf_settings(cfg.prf_methods, cfg.prf_depths, cfg.rocchio_weights)
    sw = _sweep(first, qrels, cfg, prfs)
    folds = kfold_assign(sw.first.query_ids, cfg.cv_folds, cfg.seed)
    blocks = {}
    for block, min_depth in _tuned_blocks(cfg):
        values = sw.table(cfg.tune_measure).loc[folds.index]
        chosen = []
        for f in range(cfg.cv_folds):
            for p in _chosen_prfs(sw, values[(folds != f).to_numpy()], cfg.prf_methods, min_depth):
                if p not in chosen:
                    chosen.append(p)
        sw.fusion(cfg.partners, chosen, cfg.alphas)
        values = sw.table(cfg.tune_measure).loc[folds.index]
        rows, final, sigs = [], {}, {}
        for s in systems(cfg.partners, cfg.prf_methods):
            choice = pd.Series(index=folds.index, dtype=object)
            for f in range(cfg.cv_folds):
                label = select(s, sw.specs, values[(folds != f).to_numpy()], min_depth)
                choice[(folds == f).to_numpy()] = label
                rows.append({"system": s[0], "fold": f, "label": label})
            final[s[0]] = gather(sw.values, choice)
            if _compared(s):
                choice.index = choice.index.astype(str)
                sigs[s[0]] = _signatures(first, sw.specs, choice, cfg.coincide_depth)
        blocks[block] = Block(final, sigs, pd.DataFrame(rows))
    blocks.update(_default_blocks(first, sw.evaluator, cfg))
    t = blocks["tuned"]
    return DatasetResult(name, f"{cfg.cv_folds}-fold CV", sw.means(), t.choices, t.final,
                         sw.specs, None, blocks)


def run(cfg: Config) -> Results:
    """Every dataset (tuning protocol per dataset, the four blocks), first rounds from
    `first_round` (committed artifacts in the full profile)."""
    from ...data import load_collection
    from ...progress import bar as progress_bar  # terminal only, never the report
    from .first_round import load_first

    out, origin = {}, {}
    for name in progress_bar(cfg.datasets, desc="datasets"):
        col = load_collection(name)
        tune_split = cfg.tune_splits.get(name)
        if tune_split is not None and tune_split not in col.splits:
            raise ValueError(f"tune_splits: {name!r} has no split {tune_split!r}; "
                             f"has {col.splits}")
        test, origin[f"{name}/test"] = load_first(col, "test", cfg)
        if tune_split:
            tune, origin[f"{name}/{tune_split}"] = load_first(col, tune_split, cfg)
            out[name] = split_protocol(name, tune, col.qrels[tune_split], test,
                                       col.qrels["test"], cfg, tune_split)
        else:
            out[name] = cv_protocol(name, test, col.qrels["test"], cfg)
    return Results(cfg, out, first_rounds=origin)

