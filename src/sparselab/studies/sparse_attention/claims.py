"""Study 01's claims (The Sparse Frontier, METHODS.md §2, findings 1-3 and 5) through `sparselab.claims`.

Every claim is tested on per-sample scores of the grid, or marked untestable with the
measured quantity that stops it. `evaluate(res, cfg)` returns the ClaimResults in a fixed order
(claims.json's order). The units: a *prompt* is one held-out sample (length, task, index); every
model and method sees the same prompts, so differences are paired on them.

- 1 isoFLOPS: needs attention to be a large share of the prefill FLOPs (the paper: ~40 % at
  16K); below `ISOFLOPS_MIN_SHARE` at our longest length it is untestable, above it the best
  larger sparse model within a smaller dense model's FLOPs is tested against it (paired, Holm).
- 2a decode tolerates more: the largest *achieved* compression non-inferior to dense (every
  grid level up to it passes the one-sided test) per model and phase, decode vs prefill, as a
  difference of log2 thresholds with a prompt bootstrap CI (`bootstrap_compare`).
- 2b grows with model size in decode: slope of log2(largest non-inferior decode C) on log2 N
  over sizes (per-size mean over seeds), percentile CI from resampling training seeds within
  each size; needs >= 3 sizes with >= 2 seeds each (a model-size effect is otherwise
  confounded with the seed), else untestable. Only the (length, task) units that every model
  learned enter, so every size is judged on the same prompts.
- 3a no universal winner within a phase: every real method is beaten significantly by another
  on some task type (dispersion x scope); disagrees when one method beats every other on every
  task type.
- 3b moderate sparsity hurts at least one task: the best real method at the moderate level
  (grid C = 4, its achieved compression stated) vs dense, per task, Holm across tasks.
- 5 relative error falls with length: within-series slope of the relative error at budget 1/16
  on log2 L, cluster bootstrap over (model, task, method) series.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import special

from ... import claims as C
from .config import Config

REAL_EXCLUDE = ("dense", "oracle_topk")  # oracle_topk is an upper bound, not a method
ISOFLOPS_MIN_SHARE = 0.40  # the paper's attention share of prefill FLOPs at 16K (METHODS.md §2)
MIN_SEEDS = 2  # training seeds per size a model-size claim needs
MODERATE_LEVEL = 4.0
BUDGET_LEVEL = 16.0  # the paper's 1/20 budget, nearest grid level
SRC = "Nawrot et al. 2025, The Sparse Frontier (METHODS.md §2)"

ISOFLOPS = C.Claim(
    id="01.isoflops", claim="For long sequences, larger highly sparse models beat smaller dense "
    "ones at equal inference FLOPs", paper_value="holds at 16K-128K tokens (finding 1)",
    paper_source=SRC, hypothesis="greater", unit="accuracy",
    estimand="accuracy of the best larger sparse configuration within a smaller dense model's "
    "FLOPs minus that dense model's, per prompt")
DECODE_MORE = C.Claim(
    id="01.decode_tolerates_more", claim="Sparsity tolerable without significant accuracy loss "
    "is higher in decoding than in prefilling", paper_value="decode > prefill (finding 2)",
    paper_source=SRC, hypothesis="greater", unit="log2 compression",
    estimand="mean over models of log2(largest achieved C non-inferior to dense), decode - prefill")
DECODE_GROWS = C.Claim(
    id="01.decode_grows_with_size", claim="Tolerable sparsity in decoding grows with model size",
    paper_value="grows with size (finding 2)", paper_source=SRC, hypothesis="greater",
    unit="log2 compression per log2 N",
    estimand="slope of log2(largest non-inferior decode C) on log2 N, CI over training seeds")
NO_WINNER = C.Claim(
    id="01.no_universal_winner", claim="No method wins across task types within a phase",
    paper_value="no universal winner (finding 3)", paper_source=SRC, hypothesis="greater",
    unit="accuracy", estimand="for every method A: some other method B beats A on some task type "
    "(B - A, mean over sparse levels, per model x prompt)")
MODERATE_HURTS = C.Claim(
    id="01.moderate_hurts", claim="Even moderate sparsity hurts at least one task",
    paper_value="at least one task degrades significantly (finding 3)", paper_source=SRC,
    hypothesis="greater", unit="accuracy",
    estimand="dense - best method at the moderate level, per task (paired on model x prompt)")
REL_ERROR_FALLS = C.Claim(
    id="01.rel_error_falls", claim="Relative error at a fixed budget fraction falls with length",
    paper_value={"16K": 0.33, "32K": 0.26, "64K": 0.20}, paper_source=SRC + ", v2, budget 1/20",
    hypothesis="less", unit="relative error per doubling of L",
    estimand="within-series slope of (dense - sparse) / dense on log2 L at budget 1/16")


ISOCOST = C.Claim(
    id="01.isocost", claim="At equal prefill CPU seconds, a larger sparse model beats a smaller "
    "dense one (beyond the paper: isoFLOPS measured in wall time on our kernel)",
    paper_value="not in the paper (issue 14's isoCost)", paper_source="issue 14",
    hypothesis="greater", unit="accuracy",
    estimand="accuracy of the best larger sparse prefill configuration whose measured prefill "
    "time is <= a smaller dense model's, minus that dense model's, per prompt (longest timed L)")


def _for(claim: C.Claim, phase: str, text: str = "") -> C.Claim:
    return dataclasses.replace(claim, id=f"{claim.id}/{phase}",
                               claim=f"{claim.claim} ({phase}{', ' + text if text else ''})")


# ----- per-sample table ------------------------------------------------------------------------
def long_scores(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, length, task, phase, method, level, sample i) with its score."""
    lens = cells["scores"].map(len).to_numpy()
    keep = ["model", "n_params", "length", "task", "dispersion", "scope", "phase", "method", "level"]
    out = cells.loc[cells.index.repeat(lens), keep].reset_index(drop=True)
    out["i"] = np.concatenate([np.arange(n) for n in lens]) if len(lens) else []
    out["score"] = np.concatenate([np.asarray(s, float) for s in cells["scores"]]) if len(lens) else []
    return out


def learned_cells(cells: pd.DataFrame, min_dense: float) -> pd.DataFrame:
    """Cells of (model, length, task) units whose dense accuracy is >= min_dense."""
    key = ["model", "length", "task"]
    dense = cells[cells.method == "dense"].groupby(key)["accuracy"].first()
    ok = set(dense[dense >= min_dense].index)
    return cells[[k in ok for k in zip(*(cells[c] for c in key))]].reset_index(drop=True)


# ----- 2a: largest non-inferior achieved compression ------------------------------------------
@dataclasses.dataclass
class _Threshold:
    """Per (model, phase): dense and sparse scores on the model's prompts, for resampling."""

    pos: np.ndarray  # (P,) row of each global prompt in this model's matrices, -1 if absent
    dense: np.ndarray  # (rows,)
    sparse: np.ndarray  # (rows, K)
    methods: np.ndarray  # (K,) method of each column
    levels: np.ndarray  # (K,) grid level of each column
    achieved: np.ndarray  # (K,) mean achieved compression of each column


def _prompt_ids(long: pd.DataFrame) -> pd.Series:
    keys = long[["length", "task", "i"]].drop_duplicates().sort_values(["length", "task", "i"])
    return pd.Series(np.arange(len(keys)), index=pd.MultiIndex.from_frame(keys))


def _thresholds(cells: pd.DataFrame, phase: str) -> tuple[dict[str, _Threshold], int]:
    long = long_scores(cells[cells.phase.eq(phase) | cells.method.eq("dense")])
    ids = _prompt_ids(long)
    long["prompt"] = ids.reindex(pd.MultiIndex.from_frame(long[["length", "task", "i"]])).to_numpy()
    ach = cells[cells.phase == phase].groupby(["model", "method", "level"])["effective_compression"].mean()
    out = {}
    for model, g in long.groupby("model", sort=False):
        dense = g[g.method == "dense"].drop_duplicates("prompt").set_index("prompt")["score"]
        sp = g[(g.phase == phase) & ~g.method.isin(REAL_EXCLUDE) & (g.level > 1)]
        if sp.empty:
            continue
        wide = sp.pivot_table(index="prompt", columns=["method", "level"], values="score").loc[dense.index]
        pos = np.full(len(ids), -1)
        pos[dense.index.to_numpy()] = np.arange(len(dense))
        cols = wide.columns
        out[model] = _Threshold(pos, dense.to_numpy(float), wide.to_numpy(float),
                                np.array(cols.get_level_values(0)), np.array(cols.get_level_values(1), float),
                                np.array([ach[(model, m, lv)] for m, lv in cols], float))
    return out, len(ids)


def _noninferior_mask(dense: np.ndarray, sparse: np.ndarray, margin: float, alpha: float) -> np.ndarray:
    """Per column: one-sided paired t-test of sparse - dense > -margin rejects at alpha
    (= `sparselab.claims.noninferiority`, vectorised over columns for the bootstrap)."""
    d = sparse - dense[:, None]
    n = d.shape[0]
    if n < 2:
        return np.zeros(d.shape[1], bool)
    mean = d.mean(0)
    spread = d.max(0) - d.min(0)
    se = d.std(0, ddof=1) / np.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = special.stdtr(n - 1, -(mean + margin) / se)
    p = np.where(spread <= 1e-12, np.where(mean > -margin, 0.0, 1.0), p)
    return p < alpha


def max_achieved(t: _Threshold, rows: np.ndarray, margin: float, alpha: float) -> float:
    """Largest achieved compression of a real method non-inferior at every grid level up to it
    (1.0 when even the smallest level fails), on the given rows of `t`."""
    ok = _noninferior_mask(t.dense[rows], t.sparse[rows], margin, alpha)
    best = 1.0
    for m in np.unique(t.methods):
        cols = np.flatnonzero(t.methods == m)
        lv = C.largest_passing(t.levels[cols], ok[cols], default=1.0)
        if lv > 1:
            best = max(best, float(t.achieved[cols][t.levels[cols] == lv][0]))
    return best


def _phase_stat(th: dict[str, _Threshold], margin: float, alpha: float):
    def stat(prompts: np.ndarray) -> float:
        vals = []
        for t in th.values():
            rows = t.pos[prompts]
            vals.append(np.log2(max_achieved(t, rows[rows >= 0], margin, alpha)))
        return float(np.mean(vals))
    return stat


def table_thresholds(cells: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Largest achieved compression non-inferior to dense, per model (rows) and phase."""
    out = {}
    for phase in ("prefill", "decode"):
        th, _ = _thresholds(cells, phase)
        out[phase] = {m: max_achieved(t, np.arange(len(t.dense)), cfg.margin, cfg.alpha)
                      for m, t in th.items()}
    return pd.DataFrame(out)


def decode_tolerates_more(cells: pd.DataFrame, cfg: Config, n_boot: int = C.N_BOOT) -> C.ClaimResult:
    """Finding 2a on learned cells: bootstrap over prompts of the decode - prefill threshold."""
    pre, P = _thresholds(cells, "prefill")
    dec, _ = _thresholds(cells, "decode")
    both = sorted(set(pre) & set(dec))
    if not both:
        return C.untestable(DECODE_MORE, "no model learned a task to the dense-accuracy floor",
                            quantity="models with learned (model, length, task) units",
                            measured=0, threshold=1)
    pre, dec = {m: pre[m] for m in both}, {m: dec[m] for m in both}
    est = C.bootstrap_compare(np.arange(P), _phase_stat(dec, cfg.margin, cfg.alpha),
                              _phase_stat(pre, cfg.margin, cfg.alpha), n_boot=n_boot,
                              claim=DECODE_MORE, unit="prompts", name="log2 max non-inferior C")
    return C.judge(DECODE_MORE, est)


# ----- 3: winners and moderate sparsity --------------------------------------------------------
def _method_units(cells: pd.DataFrame, phase: str) -> pd.DataFrame:
    """Score per (task type, model, prompt) and real method, averaged over sparse levels."""
    long = long_scores(cells[(cells.phase == phase) & ~cells.method.isin(REAL_EXCLUDE) & (cells.level > 1)])
    long["task_type"] = "dispersion=" + long.dispersion + ", scope=" + long.scope
    return long.pivot_table(index=["task_type", "model", "length", "task", "i"], columns="method",
                            values="score")


def no_universal_winner(cells: pd.DataFrame, phase: str) -> C.ClaimResult:
    """Finding 3a in one phase: agrees when every real method is beaten significantly by another
    on some task type (Holm within each method's family, alpha / k across the k methods);
    disagrees when one method beats every other on every task type."""
    claim = _for(NO_WINNER, phase)
    wide = _method_units(cells, phase)
    methods = list(wide.columns)
    if len(methods) < 2:
        return C.untestable(claim, "fewer than two real methods in this phase",
                            quantity="real methods", measured=len(methods), threshold=2)
    sub = dataclasses.replace(claim, alpha=claim.alpha / len(methods))
    per = {}
    for a in methods:
        fam = {f"{b}>{a} on {t}": (g[b].to_numpy(), g[a].to_numpy())
               for t, g in wide.groupby(level="task_type") for b in methods if b != a}
        per[a] = C.judge_any(dataclasses.replace(sub, id=f"{claim.id}/{a}"), C.cell_tests(fam, sub))
    verdicts = {a: r.verdict for a, r in per.items()}
    if all(v == "agrees" for v in verdicts.values()):
        verdict = "agrees"
        shown = max(per, key=lambda a: per[a].estimate.p_value)  # the least clearly beaten
    elif any(v == "disagrees" for v in verdicts.values()):
        verdict = "disagrees"
        shown = next(a for a, v in verdicts.items() if v == "disagrees")
    else:
        verdict = "inconclusive"
        shown = next(a for a, v in verdicts.items() if v != "agrees")
    beaten = sum(v == "agrees" for v in verdicts.values())
    reason = (f"{beaten} of {len(methods)} methods are beaten on some task type (alpha "
              f"{sub.alpha:.3g} per method); {shown}: {per[shown].reason}")
    return C.ClaimResult(claim, verdict, reason, per[shown].estimate)


def moderate_level(levels) -> float:
    """The grid level used as 'moderate' sparsity: 4 if swept, else the smallest C > 1."""
    above = sorted(lv for lv in set(levels) if lv > 1)
    return MODERATE_LEVEL if MODERATE_LEVEL in above else (above[0] if above else float("nan"))


def moderate_hurts(cells: pd.DataFrame, phase: str) -> C.ClaimResult:
    """Finding 3b in one phase: the best real method at the moderate level vs dense per task."""
    real = cells[(cells.phase == phase) & ~cells.method.isin(REAL_EXCLUDE)]
    lvl = moderate_level(real.level)
    if np.isnan(lvl):
        return C.untestable(_for(MODERATE_HURTS, phase), "no sparse level in the grid",
                            quantity="sparse levels", measured=0, threshold=1)
    at = real[real.level == lvl]
    best = at.groupby("method")["accuracy"].mean().idxmax()
    achieved = float(at[at.method == best].effective_compression.mean())
    claim = _for(MODERATE_HURTS, phase, f"{best} at grid C = {lvl:g}, achieved C = {achieved:.2f}")
    long = long_scores(cells[((cells.phase == phase) & (cells.method == best) & (cells.level == lvl))
                             | (cells.method == "dense")])
    key = ["model", "length", "i"]
    fam = {}
    for task, g in long.groupby("task"):
        d = g[g.method == "dense"].drop_duplicates(key).set_index(key)["score"]
        s = g[g.method == best].set_index(key)["score"].reindex(d.index)
        fam[task] = (d.to_numpy(), s.to_numpy())
    return C.judge_any(claim, C.cell_tests(fam, claim))


# ----- 5: relative error vs length -------------------------------------------------------------
def relative_error_rows(cells: pd.DataFrame, phase: str, level: float) -> pd.DataFrame:
    """(model, task, method, length, rel_error) at `level` for real methods, dense > 0."""
    key = ["model", "length", "task"]
    dense = cells[cells.method == "dense"].groupby(key)["accuracy"].first().rename("dense")
    d = cells[(cells.phase == phase) & ~cells.method.isin(REAL_EXCLUDE) & (cells.level == level)]
    d = d.join(dense, on=key)
    d = d[d.dense > 0].copy()
    d["rel_error"] = (d.dense - d.accuracy) / d.dense
    return d[["model", "task", "method", "length", "rel_error", "effective_compression"]]


def _within_slope(x: np.ndarray, y: np.ndarray, series: np.ndarray) -> float:
    """Least-squares slope of y on x with one intercept per series (fixed effects);
    `series` are integer codes."""
    n = np.bincount(series)
    seen = n > 0
    mx = np.bincount(series, x)[seen] / n[seen]
    my = np.bincount(series, y)[seen] / n[seen]
    code = np.cumsum(seen) - 1  # series code -> position among the series present
    xd, yd = x - mx[code[series]], y - my[code[series]]
    den = float(xd @ xd)
    return float(xd @ yd / den) if den > 0 else 0.0


def rel_error_falls(cells: pd.DataFrame, phase: str, n_boot: int = C.N_BOOT) -> C.ClaimResult:
    """Finding 5 in one phase: slope of relative error on log2 L < 0, series-cluster bootstrap."""
    levels = sorted(lv for lv in cells[cells.phase == phase].level.unique() if lv > 1)
    lvl = BUDGET_LEVEL if BUDGET_LEVEL in levels else (levels[-1] if levels else float("nan"))
    claim = _for(REL_ERROR_FALLS, phase, f"budget 1/{lvl:g}")
    d = relative_error_rows(cells, phase, lvl) if levels else pd.DataFrame()
    n_len = int(d.length.nunique()) if len(d) else 0
    if len(d):
        d["series"] = d.model + "/" + d.task + "/" + d.method
        d = d[d.groupby("series").length.transform("nunique") >= 2].reset_index(drop=True)
    if n_len < 2 or len(d) == 0 or d.series.nunique() < 2:
        return C.untestable(claim, "the relative error needs one series at >= 2 lengths",
                            quantity="lengths with learned units", measured=n_len, threshold=2)
    x, y = np.log2(d.length.to_numpy(float)), d.rel_error.to_numpy(float)
    s = pd.factorize(d.series)[0]
    est = C.bootstrap(np.arange(len(d)), lambda idx: _within_slope(x[idx], y[idx], s[idx]),
                      clusters=s, n_boot=n_boot, claim=claim, unit="(model, task, method) series")
    return C.judge(claim, est)


# ----- 1 and 2b: the measured reasons ----------------------------------------------------------
def attention_share(cells: pd.DataFrame) -> pd.Series:
    """Attention's share of a dense prefill's FLOPs per model at the longest length."""
    top = cells[cells.length == cells.length.max()]
    return top.groupby("model")["attention_share"].first()


def isoflops(cells: pd.DataFrame, n_params: dict) -> C.ClaimResult:
    """Finding 1: untestable below ISOFLOPS_MIN_SHARE; else best larger sparse vs dense, Holm."""
    share = attention_share(cells)
    top_len = int(cells.length.max())
    if share.max() < ISOFLOPS_MIN_SHARE:
        return C.untestable(ISOFLOPS, f"at L = {top_len} attention is a small share of the prefill, "
                            "so sparse attention saves little of a model's FLOPs",
                            quantity=f"largest attention share of dense prefill FLOPs at L = {top_len}",
                            measured=float(share.max()), threshold=ISOFLOPS_MIN_SHARE)
    top = cells[cells.length == top_len]
    g = top.groupby(["model", "phase", "method", "level"]).agg(acc=("accuracy", "mean"),
                                                              flops=("flops", "mean")).reset_index()
    g["n_params"] = g.model.map(n_params)
    fam = {}
    for r in g[g.level == 1].drop_duplicates("model").itertuples():
        cand = g[(g.n_params > r.n_params) & (g.level > 1) & (g.flops <= r.flops)]
        if cand.empty:
            continue
        b = cand.sort_values("acc").iloc[-1]
        pick = lambda m, ph, me, lv: np.concatenate(top[(top.model == m) & (top.phase == ph) & (top.method == me)
                                                        & (top.level == lv)].sort_values("task")["scores"].to_list())
        fam[f"{b.model}/{b.phase}/{b.method}/C={b.level:g} vs {r.model}"] = (
            pick(b.model, b.phase, b.method, b.level), pick(r.model, "prefill", "dense", 1.0))
    if not fam:
        return C.untestable(ISOFLOPS, "no larger sparse configuration fits in a smaller dense "
                            "model's FLOPs", quantity="candidate configurations", measured=0, threshold=1)
    return C.judge_any(ISOFLOPS, C.cell_tests(fam, ISOFLOPS))


def isocost(cells: pd.DataFrame, table: pd.DataFrame) -> C.ClaimResult:
    """01.isocost on `design.table_isocost` (measured seconds beside accuracy): for each dense
    model, the most accurate larger model's sparse prefill configuration that is no slower,
    paired on prompts against it (Holm across dense models); untestable without timings."""
    if table.empty:
        return C.untestable(ISOCOST, "prefill wall time was not measured (timing_repeats = 0)",
                            quantity="timed (model, length, method, C)", measured=0, threshold=1)
    top = table[table.length == table.length.max()]
    length = int(top.length.iloc[0])

    def scores(model, method, level):
        c = cells[(cells.model == model) & (cells.length == length) & (cells.phase == "prefill")
                  & (cells.method == method) & (cells.level == level)].sort_values("task")
        return np.concatenate(c["scores"].to_list()) if len(c) else np.array([])

    fam = {}
    for d in top[top.method == "dense"].itertuples():
        cand = top[(top.n_params > d.n_params) & (top.method != "dense") & (top.seconds <= d.seconds)]
        if cand.empty:
            continue
        b = cand.sort_values(["accuracy", "seconds"], ascending=[False, True]).iloc[0]
        a, ref = scores(b.model, b.method, b.C), scores(d.model, "dense", 1.0)
        if len(a) and len(a) == len(ref):
            fam[f"{b.model}/{b.method}/C={b.C:g} ({b.seconds:.3g} s) vs {d.model} dense "
                f"({d.seconds:.3g} s)"] = (a, ref)
    if not fam:
        return C.untestable(ISOCOST, f"at L = {length} no larger model's sparse prefill is as fast "
                            "as a smaller dense one", quantity="candidate configurations",
                            measured=0, threshold=1)
    return C.judge_any(ISOCOST, C.cell_tests(fam, ISOCOST))


def _instances(models: pd.DataFrame) -> pd.DataFrame:
    """(model instance, size, seed, n_params) of a run's models (one seed: size = model)."""
    t = models[["model", "n_params"]].copy()
    t["size"] = models.get("size", models["model"])
    t["seed"] = models.get("seed", 0)
    return t


def size_slope(log_n: np.ndarray, values: list[np.ndarray]) -> float:
    """Least-squares slope over sizes of the per-size mean of `values` on `log_n` (centred, so
    equal means give exactly 0, not a rounding residue a zero-width CI would call significant)."""
    x = np.asarray(log_n, float) - np.mean(log_n)
    y = np.array([v.mean() for v in values], float)
    return float(x @ (y - y.mean()) / (x @ x))


def seed_bootstrap(log_n: np.ndarray, values: list[np.ndarray], n_boot: int, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """(slope, CI low, CI high): `size_slope` with a percentile CI from resampling each size's
    training seeds (with replacement, within the size: the sizes are the design's)."""
    rng = np.random.default_rng(seed)
    reps = np.array([size_slope(log_n, [v[rng.integers(0, len(v), len(v))] for v in values])
                     for _ in range(n_boot)])
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return size_slope(log_n, values), float(lo), float(hi)


def common_units(cells: pd.DataFrame, models: list[str]) -> tuple[pd.DataFrame, int]:
    """Cells of the (length, task) units present for every one of `models` (on learned cells:
    the units every model learned), and their number. A comparison across models on these
    compares them on the same prompts; otherwise a model that learned fewer (or harder) units
    is judged on a different test set."""
    have = cells[cells.model.isin(models)].groupby(["length", "task"])["model"].nunique()
    units = set(have[have == len(set(models))].index)
    keep = [u in units for u in zip(cells["length"], cells["task"])]
    return cells[keep].reset_index(drop=True), len(units)


def decode_grows(cells: pd.DataFrame, models: pd.DataFrame, cfg: Config,
                 n_boot: int = C.N_BOOT) -> C.ClaimResult:
    """Finding 2b: slope of log2(largest non-inferior decode C) on log2 N over sizes, CI over
    training seeds; needs >= 3 sizes that learned a task, >= MIN_SEEDS seeds for >= 3 of them."""
    inst = _instances(models)
    inst = inst[inst.model.isin(set(cells.model))]
    n_sizes = int(inst["size"].nunique())
    if n_sizes < 3:
        return C.untestable(DECODE_GROWS, "a trend over model size needs >= 3 sizes that learned "
                            "a task", quantity="model sizes", measured=n_sizes, threshold=3)
    per_size = inst.groupby("size")["seed"].nunique()
    if (per_size >= MIN_SEEDS).sum() < 3:
        return C.untestable(DECODE_GROWS, "fewer than 3 model sizes with several training seeds: "
                            "a difference between sizes cannot be told from a difference between "
                            "training runs", quantity="training seeds per model size",
                            measured=int(per_size.min()), threshold=MIN_SEEDS)
    cells, n_units = common_units(cells, list(inst.model))
    if not n_units:
        return C.untestable(DECODE_GROWS, "no (length, task) unit is learned by every model: "
                            "sizes would be compared on different prompts", quantity="common units",
                            measured=0, threshold=1)
    th = table_thresholds(cells, cfg)["decode"].dropna()
    inst = inst[inst.model.isin(th.index)]
    sizes = inst.groupby("size")["n_params"].first().sort_values()
    values = [np.log2(th[inst[inst["size"] == z].model].to_numpy(float)) for z in sizes.index]
    log_n = np.log2(sizes.to_numpy(float))
    value, lo, hi = seed_bootstrap(log_n, values, n_boot, level=DECODE_GROWS.ci_level)
    est = C.Estimate(value, lo, hi, DECODE_GROWS.ci_level, len(inst),
                     f"slope over {len(sizes)} sizes of the per-size mean, on the {n_units} "
                     f"(length, task) units every model learned; percentile bootstrap over "
                     f"training seeds within each size, {n_boot} resamples, seed 0")
    return C.judge(DECODE_GROWS, est)


def evaluate(res, cfg: Config, n_boot: int = C.N_BOOT) -> list[C.ClaimResult]:
    """Every claim of study 01 in claims.json order (tests on learned units, dense >= min_dense)."""
    cells = res.cells
    lrn = learned_cells(cells, cfg.min_dense)
    n_params = dict(zip(res.models.model, res.models.n_params))
    out = [isoflops(cells, n_params)]
    timed = getattr(res, "prefill_seconds", None)
    if timed is not None and len(timed):  # opt-in (timing_repeats > 0): claims.json unchanged otherwise
        from .design import table_isocost

        out.append(isocost(cells, table_isocost(res)))
    if lrn.empty:  # nothing learned: no model can lose accuracy to sparsity
        units = int(cells[cells.method == "dense"].drop_duplicates(["model", "length", "task"]).shape[0])
        for claim in (DECODE_MORE, DECODE_GROWS, *(_for(c, ph) for c in (NO_WINNER, MODERATE_HURTS, REL_ERROR_FALLS)
                                                   for ph in ("prefill", "decode"))):
            out.append(C.untestable(claim, f"no (model, length, task) unit of {units} reaches dense "
                                    f"accuracy {cfg.min_dense:g}", quantity="learned units",
                                    measured=0, threshold=1))
        return out
    out += [decode_tolerates_more(lrn, cfg, n_boot), decode_grows(lrn, res.models, cfg, n_boot)]
    for phase in ("prefill", "decode"):
        out.append(no_universal_winner(lrn, phase))
    for phase in ("prefill", "decode"):
        out.append(moderate_hurts(lrn, phase))
    for phase in ("prefill", "decode"):
        out.append(rel_error_falls(lrn, phase, n_boot))
    return out
