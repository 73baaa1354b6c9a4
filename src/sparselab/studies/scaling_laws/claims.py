"""Study 02's claims (METHODS.md §2, finding 4 and 5's budget) through `sparselab.claims`.

The law `y = alpha log N + beta log L + gamma log C + delta_task` is fitted per phase on the
law rows (`pipeline.law_data`). Every CI resamples whole *models* (a cluster bootstrap): the
rows of one model are one training run, so they are not independent evidence about N. A model
trained with several seeds (instances `<member>-seed<k>`) is one cluster with all its seeds:
the seeds of one size are evidence about that size, not about N (`family_member`).

- signs: alpha > 0, beta < 0, gamma < 0, model-cluster bootstrap CIs. A resample holding one
  model size cannot identify alpha: the N term is dropped there (alpha = 0, the null), which
  only pulls the CI towards "no effect".
- held-out skill per axis: hold out the largest value of N, L or C, fit on the rest and score
  R^2 on the held-out rows, beside a null model that drops the extrapolated axis' term; the
  estimate is R^2(law) - R^2(null), with a model-cluster bootstrap CI (in a resample, the
  held-out value is the largest one drawn; with < 2 training values the law *is* the null).
- per-task Spearman rho between predicted and observed held-out accuracy, per axis, Holm across
  tasks, "on every task".
- budget vs length: exponent k of budget tokens ~ L^k for a target relative error, k < 1
  (sub-linear), model-cluster bootstrap; untestable when the grid's largest C already meets
  the target at every length (the budget is then the grid's cap, not a measurement).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats

from ... import claims as C
from ... import scaling
from .config import Config

SRC = "Nawrot et al. 2025, The Sparse Frontier v1 (METHODS.md §2, finding 4)"
AXES = ("N", "L", "C")
COEF_AXIS = {"alpha": "N", "beta": "L", "gamma": "C"}

SIGNS = {
    "alpha": C.Claim(id="02.alpha_positive", claim="Accuracy grows with model size (alpha > 0)",
                     paper_value="alpha > 0", paper_source=SRC, hypothesis="greater",
                     unit="logit accuracy per log N", estimand="alpha of the fitted law"),
    "beta": C.Claim(id="02.beta_negative", claim="Accuracy falls with length (beta < 0)",
                    paper_value="beta < 0", paper_source=SRC, hypothesis="less",
                    unit="logit accuracy per log L", estimand="beta of the fitted law"),
    "gamma": C.Claim(id="02.gamma_negative", claim="Accuracy falls with compression (gamma < 0)",
                     paper_value="gamma < 0", paper_source=SRC, hypothesis="less",
                     unit="logit accuracy per log C", estimand="gamma of the fitted law"),
}
SKILL = C.Claim(
    id="02.holdout_skill", claim="The law extrapolates to the held-out largest value of an axis "
    "better than a model without that axis", paper_value="held-out R² 0.57-0.74", paper_source=SRC,
    hypothesis="greater", unit="R²",
    estimand="held-out R² of the law minus held-out R² of the law without the axis' term")
SKILL_NL = C.Claim(
    id="02.holdout_skill_vs_no_NL", claim="The law extrapolates to the held-out largest value of "
    "an axis better than a model without N and L (compression and task alone)",
    paper_value="held-out R² 0.57-0.74 (no null reported)", paper_source=SRC, hypothesis="greater",
    unit="R²", estimand="held-out R² of the law minus held-out R² of the law without N and L")
SPEARMAN = C.Claim(
    id="02.spearman", claim="Predicted and observed held-out accuracy are rank-correlated on "
    "every task", paper_value="per-task Spearman ρ reported (v1)", paper_source=SRC,
    hypothesis="greater", unit="Spearman ρ", estimand="per-task Spearman ρ, predicted vs observed")
BUDGET = C.Claim(
    id="02.budget_sublinear", claim="The budget needed for a fixed relative error grows "
    "sub-linearly with length", paper_value="sub-linear (v2: rel. error 0.33/0.26/0.20 at "
    "16K/32K/64K, budget 1/20)", paper_source="Nawrot et al. 2025 v2 (METHODS.md §2, finding 5)",
    hypothesis="less", unit="exponent k", estimand="k of budget tokens ~ L^k (null k = 1)")


def _for(claim: C.Claim, suffix: str, text: str) -> C.Claim:
    return dataclasses.replace(claim, id=f"{claim.id}/{suffix}", claim=f"{claim.claim} ({text})")


def family_member(names) -> np.ndarray:
    """Cluster labels of model instances: the family member without its `-seed<k>` suffix
    (`d64_l2-seed1` -> `d64_l2`), so a cluster bootstrap resamples sizes with all their seeds."""
    return np.array([str(n).split("-seed")[0] for n in names], dtype=object)


@dataclasses.dataclass
class LawArrays:
    """One phase's law rows as arrays: logs (n, 3) of N, L, C; task index; target; model."""

    logs: np.ndarray
    task: np.ndarray
    n_tasks: int
    y: np.ndarray  # accuracy
    z: np.ndarray  # accuracy on the fitted (link) scale
    model: np.ndarray  # cluster label: the family member (`family_member`)
    link: str
    held: np.ndarray  # (n, 3) log values whose largest is held out (logs, but C by level)

    @classmethod
    def of(cls, df: pd.DataFrame, link: str, eps: float) -> LawArrays:
        """Rows with a `level` (achieved compression, continuous) hold out C by level: the
        largest calibrated target, not the one cell that happened to achieve the most."""
        logs = np.log(df[["n_params", "length", "compression"]].to_numpy(float))
        codes, tasks = pd.factorize(df["task"], sort=True)
        y = df["accuracy"].to_numpy(float)
        held = logs.copy()
        if "level" in df:
            held[:, 2] = np.log(df["level"].to_numpy(float))
        return cls(logs, codes, len(tasks), y, scaling.fit.transform(y, link, eps),
                   family_member(df["model"]), link, held)

    def axis_values(self, axis: int) -> np.ndarray:
        """Values of `axis` that the hold-out reads (log scale)."""
        return self.held[:, axis]

    def fit(self, rows: np.ndarray, drop: tuple[int, ...] = ()) -> np.ndarray:
        """(3 + n_tasks,) coefficients fitted on `rows`; dropped axes and axes with a single
        value in `rows` get coefficient 0 (not identifiable there: the intercepts absorb them)."""
        keep = [a for a in range(3) if a not in drop and np.ptp(self.logs[rows, a]) > 0]
        x = np.column_stack([self.logs[rows][:, keep], np.eye(self.n_tasks)[self.task[rows]]])
        coef, *_ = np.linalg.lstsq(x, self.z[rows], rcond=None)
        coef[np.abs(coef) < 1e-9] = 0.0  # rounding residue of an exact fit is not an effect
        out = np.zeros(3 + self.n_tasks)
        out[keep] = coef[:len(keep)]
        out[3:] = coef[len(keep):]
        return out

    def predict(self, coef: np.ndarray, rows: np.ndarray) -> np.ndarray:
        z = self.logs[rows] @ coef[:3] + coef[3:][self.task[rows]]
        return 1.0 / (1.0 + np.exp(-z)) if self.link == "logit" else z

    def holdout(self, rows: np.ndarray, axis: int, drop: tuple[int, ...] | None = None
                ) -> tuple[float, float]:
        """(R^2 law, R^2 null) on the rows at the largest value of `axis` among `rows`; the
        null drops the terms `drop` (default: the held-out axis')."""
        v = self.axis_values(axis)[rows]
        test, train = rows[v == v.max()], rows[v < v.max()]
        if train.size == 0:
            return math.nan, math.nan
        # a task absent from training has no intercept: score only the tasks it saw
        test = test[np.isin(self.task[test], self.task[train])]
        law, null = self.fit(train), self.fit(train, drop=(axis,) if drop is None else drop)
        return (scaling.r2(self.y[test], self.predict(law, test)),
                scaling.r2(self.y[test], self.predict(null, test)))


# The nulls a held-out R^2 is compared with: without the held-out axis' term (METHODS.md §2),
# without N and L (size and length add nothing), without C (compression adds nothing).
NULLS = {"axis": None, "no_NL": (0, 1), "no_C": (2,)}


def _skill(arr: LawArrays, axis: int, drop: tuple[int, ...] | None = None):
    def stat(rows: np.ndarray) -> float:
        law, null = arr.holdout(rows, axis, drop)
        # a resample whose held-out rows do not vary has no R^2: no skill either way
        return 0.0 if math.isnan(law) or math.isnan(null) else law - null
    return stat


def sign_claims(arr: LawArrays, phase: str, n_boot: int) -> list[C.ClaimResult]:
    rows = np.arange(len(arr.y))
    out = []
    for i, (name, base) in enumerate(SIGNS.items()):
        claim = _for(base, phase, phase)
        if np.ptp(arr.z) == 0:
            out.append(C.untestable(claim, "accuracy is the same in every row: there is nothing to fit",
                                    quantity="spread of accuracy over the law rows",
                                    measured=float(np.ptp(arr.y)), threshold=0.0))
            continue
        if np.ptp(arr.logs[:, i]) == 0:
            out.append(C.untestable(claim, f"the grid has one value of {COEF_AXIS[name]}",
                                    quantity=f"distinct values of {COEF_AXIS[name]}", measured=1, threshold=2))
            continue
        est = C.bootstrap(rows, lambda r, i=i: float(arr.fit(r)[i]), clusters=arr.model,
                          n_boot=n_boot, claim=claim, unit="models")
        out.append(C.judge(claim, est))
    return out


def skill_claims(arr: LawArrays, phase: str, n_boot: int) -> tuple[list[C.ClaimResult], list[dict]]:
    """Held-out skill per axis over the axis-dropping null and over the null without N and L
    (claims), and the table rows behind them (R² of the law and of every null in `NULLS`)."""
    rows = np.arange(len(arr.y))
    out, table = [], []
    for axis, name in enumerate(AXES):
        claims = [(_for(SKILL, f"{phase}/{name}", f"{phase}, hold out the largest {name}"), None,
                   f"null without {name}"),
                  (_for(SKILL_NL, f"{phase}/{name}", f"{phase}, hold out the largest {name}"), (0, 1),
                   "null without N and L")]
        n_vals = len(np.unique(arr.axis_values(axis)))
        if n_vals < 3:
            out += [C.untestable(c, f"holding out the largest {name} leaves < 2 values to fit",
                                 quantity=f"distinct values of {name}", measured=n_vals, threshold=3)
                    for c, _, _ in claims]
            continue
        r2s = {k: arr.holdout(rows, axis, d) for k, d in NULLS.items()}
        law = r2s["axis"][0]
        if math.isnan(law) or any(math.isnan(v[1]) for v in r2s.values()):
            held = arr.y[arr.axis_values(axis) == arr.axis_values(axis).max()]
            out += [C.untestable(c, "the held-out accuracy does not vary, so R² is undefined",
                                 quantity=f"spread of held-out accuracy at the largest {name}",
                                 measured=float(np.ptp(held)), threshold=0.0) for c, _, _ in claims]
            continue
        nulls = {k: v[1] for k, v in r2s.items()}
        table.append({"phase": phase, "axis": name, "held_out": float(np.exp(arr.axis_values(axis).max())),
                      "r2_law": law, "r2_null": nulls["axis"], "r2_no_NL": nulls["no_NL"],
                      "r2_no_C": nulls["no_C"], "skill": law - nulls["axis"],
                      "skill_no_NL": law - nulls["no_NL"], "skill_no_C": law - nulls["no_C"]})
        for claim, drop, what in claims:
            est = C.bootstrap(rows, _skill(arr, axis, drop), clusters=arr.model, n_boot=n_boot,
                              claim=claim, unit="models")
            r = C.judge(claim, est)
            null = nulls["axis" if drop is None else "no_NL"]
            out.append(dataclasses.replace(r, reason=f"held-out R² {law:.3f} (law) vs {null:.3f} "
                                           f"({what}); {r.reason}"))
    return out, table


SKILL_COLUMNS = ["phase", "axis", "held_out", "r2_law", "r2_null", "r2_no_NL", "r2_no_C", "skill",
                 "skill_no_NL", "skill_no_C"]


def spearman_claims(arr: LawArrays, df: pd.DataFrame, phase: str) -> list[C.ClaimResult]:
    """Per (phase, axis): rho > 0 on every task (Holm across tasks, intersection-union)."""
    rows = np.arange(len(arr.y))
    out = []
    tasks = np.array(sorted(df.task.unique()))
    for axis, name in enumerate(AXES):
        claim = _for(SPEARMAN, f"{phase}/{name}", f"{phase}, hold out the largest {name}")
        v = arr.axis_values(axis)
        if len(np.unique(v)) < 3:
            out.append(C.untestable(claim, f"holding out the largest {name} leaves < 2 values to fit",
                                    quantity=f"distinct values of {name}", measured=len(np.unique(v)), threshold=3))
            continue
        test, train = rows[v == v.max()], rows[v < v.max()]
        pred = arr.predict(arr.fit(train), test)
        ests = {}
        for t in np.unique(arr.task[test]):
            m = arr.task[test] == t
            a, p = arr.y[test][m], pred[m]
            if m.sum() >= 4 and np.ptp(a) > 0 and np.ptp(p) > 0:
                ests[str(tasks[t])] = _rho_estimate(p, a, claim)
        if not ests:
            out.append(C.untestable(claim, "no task's held-out accuracy varies",
                                    quantity="tasks with varying held-out accuracy", measured=0, threshold=1))
            continue
        out.append(C.judge_all(claim, C.holm(ests)))
    return out


def _rho_estimate(pred: np.ndarray, actual: np.ndarray, claim: C.Claim) -> C.Estimate:
    """Spearman rho with a Fisher-z CI (se = sqrt(1.06 / (n - 3))) and scipy's p-value."""
    rho, p = stats.spearmanr(pred, actual)
    n = len(actual)
    z, q = np.arctanh(np.clip(rho, -0.999999, 0.999999)), stats.norm.ppf(0.5 + claim.ci_level / 2)
    half = q * math.sqrt(1.06 / max(n - 3, 1))
    return C.Estimate(float(rho), float(np.tanh(z - half)), float(np.tanh(z + half)), claim.ci_level,
                      n, "Spearman rank correlation (Fisher-z CI)", float(p), "two-sided")


def budget_tokens(df: pd.DataFrame, target: float) -> pd.DataFrame:
    """Per length: budget fraction 1/C of the largest C within `target` relative error (1.0
    when only dense is), from accuracy averaged over models and tasks (and methods); `capped`
    when that C is the grid's largest. Rows with a `level` (achieved compression, one row per
    method) are averaged per level (a calibrated target), C the mean achieved compression
    there."""
    if "level" in df:
        avg = (df.groupby(["length", "level"]).agg(accuracy=("accuracy", "mean"),
                                                   compression=("compression", "mean"))
               .reset_index())
        # the largest level scored at each length (the grid's cap there)
        top = avg.loc[avg.groupby("length")["level"].idxmax()].set_index("length")["compression"]
    else:
        avg = df.groupby(["length", "compression"])["accuracy"].mean().reset_index()
        top = pd.Series(df.compression.max(), index=avg.length.unique())
    b = scaling.budget_for_error(avg[["length", "compression", "accuracy"]], float(target))
    b["capped"] = np.isclose(b.budget_fraction, 1.0 / b.length.map(top).to_numpy(float))
    return b


def budget_claims(df: pd.DataFrame, phase: str, cfg: Config, n_boot: int) -> list[C.ClaimResult]:
    out = []
    models = family_member(df.model)
    for target in cfg.target_errors:
        claim = _for(BUDGET, f"{phase}/err={float(target):g}", f"{phase}, relative error <= {float(target):g}")
        b = budget_tokens(df, target)
        if len(b) < 2:
            out.append(C.untestable(claim, "an exponent needs >= 2 lengths with a dense accuracy > 0",
                                    quantity="lengths", measured=len(b), threshold=2))
            continue
        if b.capped.all():
            out.append(C.untestable(
                claim, f"compression saturates: the grid's largest C (up to {df.compression.max():.3g}) "
                "is within the target at every length, so the budget is the grid's cap",
                quantity="share of lengths at the grid's largest C", measured=1.0, threshold=0.5))
            continue

        def k_of(rows, target=target):
            bb = budget_tokens(df.iloc[rows], target)
            return scaling.fit_power(bb.length.to_numpy(float), bb.budget_tokens.to_numpy(float))[0]

        est = C.bootstrap(np.arange(len(df)), k_of, clusters=models, n_boot=n_boot, claim=claim,
                          null=1.0, unit="models")
        out.append(C.judge(claim, est))
    return out


FIT_COLUMNS = ["phase", "fit", "quantity", "estimate", "ci_low", "ci_high", "n_models", "n_rows"]


def method_fits(res, cfg: Config, n_boot: int | None = None) -> pd.DataFrame:
    """The law fitted per method and pooled, on achieved compression (`compression:
    achieved`; empty for rows averaged over methods): per phase and fit (`pooled`: every
    method's rows; else one method's), alpha, beta, gamma and the held-out skill of each axis
    over each null (`skill/<axis>/<null>`, `NULLS`), with model-cluster bootstrap CIs (95 %,
    one set of resamples per fit). Quantities that a fit cannot identify (one value on the
    axis, < 3 values to hold out) are left out."""
    from ...claims.bootstrap import replicates

    if "method" not in res.data:
        return pd.DataFrame(columns=FIT_COLUMNS)
    n_boot = int(n_boot or cfg.n_boot)
    rows = []
    for phase in ("prefill", "decode"):
        df = res.data[res.data.phase == phase].reset_index(drop=True)
        for fit in (["pooled", *sorted(df.method.unique())] if len(df) else []):
            d = df if fit == "pooled" else df[df.method == fit].reset_index(drop=True)
            arr = LawArrays.of(d, cfg.link, cfg.eps)
            names, fns = [], []
            for i, coef in enumerate(COEF_AXIS):
                if np.ptp(arr.logs[:, i]) > 0:
                    names.append(coef)
                    fns.append(lambda r, i=i, arr=arr: float(arr.fit(r)[i]))
            every = np.arange(len(d))
            for axis, name in enumerate(AXES):
                if len(np.unique(arr.axis_values(axis))) < 3 or any(
                        math.isnan(v) for v in arr.holdout(every, axis)):  # R² undefined there
                    continue
                for null, drop in NULLS.items():
                    if not (null == "no_C" and name == "C"):  # the same null as "axis" there
                        names.append(f"skill/{name}/{null}")
                        fns.append(_skill(arr, axis, drop))
            n_models = len(np.unique(arr.model))
            if not names or n_models < 2 or np.ptp(arr.z) == 0:
                continue
            full, reps, _ = replicates(every, lambda r, fns=fns: [f(r) for f in fns],
                                       clusters=arr.model, n_boot=n_boot)
            lo, hi = np.quantile(reps, [0.025, 0.975], axis=0)
            rows += [{"phase": phase, "fit": fit, "quantity": q, "estimate": float(e),
                      "ci_low": float(a), "ci_high": float(b), "n_models": n_models,
                      "n_rows": len(d)} for q, e, a, b in zip(names, full, lo, hi)]
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def evaluate(res, cfg: Config, n_boot: int | None = None) -> tuple[list[C.ClaimResult], pd.DataFrame]:
    """Every claim of study 02 (claims.json order) and the held-out R² table (law, null, skill)."""
    n_boot = int(n_boot or cfg.n_boot)
    out, table = [], []
    for phase in ("prefill", "decode"):
        df = res.data[res.data.phase == phase].reset_index(drop=True)
        if df.empty:
            continue
        arr = LawArrays.of(df, cfg.link, cfg.eps)
        out += sign_claims(arr, phase, n_boot)
        skill, rows = skill_claims(arr, phase, n_boot)
        out += skill
        table += rows
        out += spearman_claims(arr, df, phase)
        out += budget_claims(df, phase, cfg, n_boot)
    return out, pd.DataFrame(table, columns=SKILL_COLUMNS)
