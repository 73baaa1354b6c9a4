"""Choosing hyper-parameters without touching the test queries.

Two protocols: tune on a separate split (`select_best` on the tuning split's per-query values,
then evaluate the chosen configuration on test), or query-level k-fold cross-validation on a
collection with a single split (`cross_validate`: for each fold, choose on the other folds and
evaluate the held-out fold; concatenate the held-out values).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def kfold_assign(query_ids, n_folds: int, seed: int = 0) -> pd.Series:
    """Random balanced assignment of queries to folds 0..n_folds-1 (deterministic for a seed).

    Returns: Series fold (int64) indexed by query_id (str), in the input order.
    """
    ids = pd.Index(pd.Series(list(query_ids), dtype=str))
    if ids.has_duplicates:
        raise ValueError("query_ids must be unique")
    if not 2 <= n_folds <= len(ids):
        raise ValueError(f"n_folds must be in [2, {len(ids)}] (number of queries), got {n_folds}")
    perm = np.random.default_rng(seed).permutation(len(ids))
    folds = np.empty(len(ids), dtype=np.int64)
    folds[perm] = np.arange(len(ids)) % n_folds
    return pd.Series(folds, index=ids, name="fold")


def select_best(values: pd.DataFrame) -> str:
    """The column (configuration) with the highest mean; ties go to the first column.

    values: DataFrame index query_id, one column per configuration, the tuning measure.
    """
    if values.shape[1] == 0 or values.shape[0] == 0:
        raise ValueError("select_best needs at least one configuration and one query")
    means = values.mean(axis=0).to_numpy()
    return str(values.columns[int(np.argmax(means))])


def cross_validate(values: pd.DataFrame, folds: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Query-level CV: per fold, choose on the other folds, keep the held-out queries' values.

    Args:
        values: DataFrame index query_id, one column per configuration (the tuning measure).
        folds: fold number per query_id (from `kfold_assign`), covering every row of values.
    Returns: (choice, picks): choice = chosen configuration per query_id (the one selected
        without that query's fold); picks = one row per fold: fold, config, tune_mean,
        n_tune, n_test.
    """
    values = values.copy()
    values.index = values.index.astype(str)
    missing = values.index.difference(folds.index)
    if len(missing):
        raise ValueError(f"queries without a fold: {list(missing[:5])}")
    fold_of = folds.reindex(values.index)
    choice = pd.Series(index=values.index, dtype=object, name="config")
    picks = []
    for f in sorted(fold_of.unique()):
        tune = fold_of != f
        best = select_best(values[tune.to_numpy()])
        choice[~tune] = best
        picks.append({"fold": int(f), "config": best,
                      "tune_mean": float(values.loc[tune.to_numpy(), best].mean()),
                      "n_tune": int(tune.sum()), "n_test": int((~tune).sum())})
    return choice, pd.DataFrame(picks)


def gather(per_config: dict, choice: pd.Series) -> pd.DataFrame:
    """Per-query rows taken, for each query, from the configuration chosen for it.

    per_config: configuration -> per-query frame (query_id column + measures).
    choice: configuration per query_id (from `cross_validate`, or one value for all).
    Returns: per-query frame (query_id + measures) sorted by query_id.
    """
    parts = []
    for cfg, qids in choice.groupby(choice).groups.items():
        frame = per_config[cfg]
        parts.append(frame[frame["query_id"].astype(str).isin(set(qids))])
    out = pd.concat(parts, ignore_index=True).sort_values("query_id", kind="stable")
    if len(out) != len(choice):
        raise ValueError(f"gathered {len(out)} rows for {len(choice)} queries")
    return out.reset_index(drop=True)
