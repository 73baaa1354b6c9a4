"""Study 04's claims (Progressive Gradient Flow, Bambhaniya et al. 2024), via `sparselab.claims`.

Every estimate is a bits-per-character difference decaying - SR-STE (validation bpc of the
deployable N:M model; < 0: the decaying recipe is better), paired by seed: a seed fixes the
initial weights and the data order of every recipe, so seeds are the unit of every test.

- (a) `04.decaying_beat_sr_ste`: decaying recipes (MDGF linear/exp, SDGF stepwise/geometric)
  beat SR-STE at >= 1:8. Per cell (recipe x pattern): paired t-test over seeds, Holm across
  the family of cells (`04.decaying_beat_sr_ste/<recipe>@<pattern>`). Pooled: the mean over
  cells of the paired difference, one value per seed, tested by a t-test over seeds (the cells
  share their SR-STE runs and seeds, so a meta-analysis treating them as independent would be
  over-confident). Also in relative bpc (% of SR-STE's bpc). The paper's "up to 5 %" are
  accuracy points on other models and tasks: compare the direction, not the size.
- (b) `04.gap_grows`: the advantage grows with sparsity. Per seed, the least-squares slope of
  the mean decaying - SR-STE difference on log2(M / N) over every sparse pattern of the grid;
  t-test of the slopes over seeds (< 0: the gap in the decaying recipes' favour widens).
- (c) `04.win_at_equal_flops`: at equal training FLOPs decaying recipes still win. SR-STE
  trained longer to MDGF-exp's training FLOPs (`pipeline.iso_flops_specs`) against MDGF-exp,
  at every matched pattern >= 1:8: per pattern (Holm) and pooled as in (a).

Split settings (`"ff=1:32,attn=1:8"`: feed-forward and attention projections at different
N:M, as in the paper's configurations) are cells of their own, never points on the sparsity
axis: they join the per-cell families of (a) and (c) (Holm across all cells) and get their own
pooled claim `04.decaying_beat_sr_ste.split`; for (b), `04.gap_grows/<setting>` compares the
gap in the split setting with the gap at the uniform pattern of its least sparse group (the
split setting only adds sparsity, so a growing gap predicts a larger advantage there). Without
split settings in the grid, none of these entries exist.

When the runs held out a test split (`test_bpc`), every claim is tested on test bpc.

A claim the grid cannot test (one seed, too few patterns, no matched runs) is "untestable"
with the measured count that stops it.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ... import claims as C
from ...sparsity import is_split, parse_split
from .pipeline import MATCHED  # the recipe whose training FLOPs SR-STE is matched to
from .tables import DECAYING, score

SOURCE = "Bambhaniya et al. 2024, Progressive Gradient Flow; METHODS.md §3"
HIGH = 1 - 1 / 8  # "high sparsity": 1:8 and beyond
BASELINE = "sr_ste"

BEAT = C.Claim(
    id="04.decaying_beat_sr_ste",
    claim="At high N:M sparsity (1:8 and beyond) decaying recipes (MDGF, SDGF) train better "
    "sparse models than SR-STE",
    paper_value="better by up to 5 accuracy points (language) and 2 (vision); compared here by "
    "direction only", paper_source=SOURCE, hypothesis="less", unit="bpc",
    estimand="mean over decaying recipe x pattern cells >= 1:8 of the seed-paired bpc "
    "difference decaying - SR-STE, one value per seed")
BEAT_REL = dataclasses.replace(
    BEAT, id="04.decaying_beat_sr_ste.relative", unit="% of SR-STE bpc",
    claim=BEAT.claim + " (relative bpc)",
    estimand="mean over decaying recipe x pattern cells >= 1:8 of 100 (decaying - SR-STE) / "
    "SR-STE bpc, paired by seed, one value per seed")
BEAT_CELL = dataclasses.replace(
    BEAT, estimand="seed-paired bpc difference decaying - SR-STE in this cell")
GAP_GROWS = C.Claim(
    id="04.gap_grows",
    claim="The advantage of decaying recipes over SR-STE grows with sparsity",
    paper_value="gains grow at higher sparsity (no slope stated)", paper_source=SOURCE,
    hypothesis="less", unit="bpc per doubling of M/N",
    estimand="per seed, least-squares slope of the mean (decaying - SR-STE) bpc on log2(M/N) "
    "over every sparse pattern; mean of the slopes over seeds")
EQUAL_FLOPS = C.Claim(
    id="04.win_at_equal_flops",
    claim="At equal training FLOPs decaying recipes still beat SR-STE",
    paper_value="better by up to 2 % at iso training FLOPs", paper_source=SOURCE,
    hypothesis="less", unit="bpc",
    estimand="mean over matched patterns >= 1:8 of the seed-paired bpc difference MDGF-exp - "
    "SR-STE trained longer to MDGF-exp's training FLOPs, one value per seed")
EQUAL_FLOPS_CELL = dataclasses.replace(
    EQUAL_FLOPS, estimand="seed-paired bpc difference MDGF-exp - SR-STE at MDGF-exp's "
    "training FLOPs at this pattern")
CLAIMS = (BEAT, BEAT_REL, GAP_GROWS, EQUAL_FLOPS)
BEAT_SPLIT = dataclasses.replace(
    BEAT, id="04.decaying_beat_sr_ste.split",
    claim="In the split setting (feed-forward and attention projections at different N:M) "
    "decaying recipes (MDGF, SDGF) train better sparse models than SR-STE",
    estimand="mean over decaying recipe x split-setting cells of the seed-paired bpc "
    "difference decaying - SR-STE, one value per seed")
GAP_SPLIT_CELL = dataclasses.replace(
    GAP_GROWS, unit="bpc", estimand="per seed, mean (decaying - SR-STE) bpc in the split "
    "setting minus the same at the uniform pattern of its least sparse group")


def _sparsity(pattern: str) -> float:
    n, m = (int(v) for v in pattern.split(":"))
    return 1 - n / m


def _keep(pattern: str, min_sparsity: float, split: bool) -> bool:
    """A uniform pattern at >= `min_sparsity` (split False) or a split setting (split True)."""
    if is_split(pattern):
        return split
    return not split and _sparsity(pattern) >= min_sparsity - 1e-12


def _key(item) -> tuple:
    pattern = item[0].split("@")[-1]
    return (is_split(pattern), 0.0 if is_split(pattern) else _sparsity(pattern), item[0])


def _log_ratio(pattern: str) -> float:
    n, m = (int(v) for v in pattern.split(":"))
    return float(np.log2(m / n))


def bpc_by_seed(df: pd.DataFrame, extended: bool = False) -> pd.DataFrame:
    """Validation bpc, one row per seed, one column per `recipe@pattern` (runs at the grid's
    steps, or with `extended` the SR-STE runs trained to matched FLOPs)."""
    ext = df.extended if "extended" in df else pd.Series(False, index=df.index)
    sel = df[ext == extended]
    wide = sel.pivot_table(index="seed", columns=["recipe", "pattern"], values=score(df))
    wide.columns = [f"{r}@{p}" for r, p in wide.columns]
    return wide.sort_index()


def decaying_cells(df: pd.DataFrame, min_sparsity: float = HIGH,
                   split: bool = False) -> dict[str, tuple]:
    """{`recipe@pattern`: (decaying bpc, SR-STE bpc, seeds)} for every decaying recipe at
    every uniform pattern of sparsity >= `min_sparsity` (with `split`: at every split setting
    instead); only seeds where both runs exist."""
    wide = bpc_by_seed(df)
    cells = {}
    for col in wide.columns:
        recipe, pattern = col.split("@", 1)
        base = f"{BASELINE}@{pattern}"
        if recipe in DECAYING and _keep(pattern, min_sparsity, split) and base in wide:
            pair = wide[[col, base]].dropna()
            cells[col] = (pair[col].to_numpy(), pair[base].to_numpy(), pair.index.to_numpy())
    return dict(sorted(cells.items(), key=_key))


def matched_cells(df: pd.DataFrame, min_sparsity: float = HIGH,
                  split: bool = False) -> dict[str, tuple]:
    """{pattern: (MDGF-exp bpc, SR-STE-at-matched-FLOPs bpc, seeds)} for every matched uniform
    pattern (with `split`: every matched split setting)."""
    long, grid = bpc_by_seed(df, extended=True), bpc_by_seed(df)
    cells = {}
    for col in long.columns:
        recipe, pattern = col.split("@", 1)
        dec = f"{MATCHED}@{pattern}"
        if recipe == BASELINE and dec in grid and _keep(pattern, min_sparsity, split):
            pair = pd.concat([grid[dec], long[col]], axis=1, keys=["a", "b"]).dropna()
            cells[pattern] = (pair.a.to_numpy(), pair.b.to_numpy(), pair.index.to_numpy())
    return dict(sorted(cells.items(), key=_key))


def _common_seeds(cells: dict[str, tuple]) -> np.ndarray:
    seeds = None
    for _, _, s in cells.values():
        seeds = set(s) if seeds is None else seeds & set(s)
    return np.array(sorted(seeds or ()))


def _per_seed(cells: dict[str, tuple], seeds=None, relative: bool = False) -> np.ndarray:
    """Mean over cells of each seed's difference a - b (in % of b with `relative`), over
    `seeds` (default: the seeds present in every cell)."""
    seeds = _common_seeds(cells) if seeds is None else seeds
    rows = []
    for a, b, s in cells.values():
        pos = {int(x): i for i, x in enumerate(s)}
        idx = [pos[int(x)] for x in seeds]
        d = a[idx] - b[idx]
        rows.append(100 * d / b[idx] if relative else d)
    return np.mean(rows, axis=0) if rows else np.array([])


def _pooled(claim: C.Claim, cells: dict[str, tuple], what: str, relative: bool = False):
    if not cells:
        return C.untestable(claim, f"the grid has no {what}", quantity="cells", measured=0,
                            threshold=1)
    d = _per_seed(cells, relative=relative)
    if d.size < 2:
        return C.untestable(claim, "a paired test over seeds needs two seeds present in every "
                            "cell", quantity="seeds", measured=d.size, threshold=2)
    est = C.paired_difference(d, np.zeros_like(d), claim=claim)
    est = dataclasses.replace(est, test=f"{est.test} over {d.size} seeds of the mean over "
                              f"{len(cells)} cells")
    return C.judge(claim, est)


def _family(claim: C.Claim, cells: dict[str, tuple]) -> list[C.ClaimResult]:
    usable = {k: (a, b) for k, (a, b, _) in cells.items() if len(a) >= 2}
    if not usable:
        return []
    return C.judge_family(claim, C.cell_tests(usable, claim))


def _by_pattern(cells: dict[str, tuple]) -> dict[str, dict[str, tuple]]:
    out: dict[str, dict] = {}
    for key, cell in cells.items():
        out.setdefault(key.split("@", 1)[1], {})[key] = cell
    return out


def gap_slopes(df: pd.DataFrame) -> pd.Series:
    """Per seed: slope of the mean decaying - SR-STE bpc difference on log2(M/N) over every
    sparse pattern of the grid (bpc per doubling of M/N; < 0: the gap widens in the decaying
    recipes' favour), over the seeds present in every cell. Empty below 3 patterns."""
    cells = decaying_cells(df, min_sparsity=0.0)
    groups = _by_pattern(cells)
    seeds = _common_seeds(cells)
    if len(groups) < 3 or not len(seeds):
        return pd.Series(dtype=float, name="slope")
    x = np.array([_log_ratio(p) for p in groups])
    y = np.stack([_per_seed(g, seeds) for g in groups.values()])  # (patterns, seeds)
    slopes = [np.polyfit(x, y[:, j], 1)[0] for j in range(len(seeds))]
    return pd.Series(slopes, index=pd.Index(seeds, name="seed"), name="slope")


def _gap_claim(df: pd.DataFrame) -> C.ClaimResult:
    patterns = list(_by_pattern(decaying_cells(df, min_sparsity=0.0)))
    if len(patterns) < 3:
        return C.untestable(GAP_GROWS, "a slope over sparsity needs at least 3 sparse patterns "
                            "with decaying recipes and SR-STE", quantity="patterns",
                            measured=len(patterns), threshold=3)
    slopes = gap_slopes(df)
    if len(slopes) < 2:
        return C.untestable(GAP_GROWS, "a t-test of per-seed slopes needs two seeds",
                            quantity="seeds", measured=len(slopes), threshold=2)
    est = C.paired_difference(slopes.to_numpy(), np.zeros(len(slopes)), claim=GAP_GROWS)
    est = dataclasses.replace(est, test=f"t-test over {len(slopes)} seeds of the per-seed "
                              f"slope over {len(patterns)} patterns")
    return C.judge(GAP_GROWS, est)


def split_gap_cells(df: pd.DataFrame) -> dict[str, tuple]:
    """{split setting: (per-seed mean decaying - SR-STE bpc there, the same at the uniform
    pattern of its least sparse group, seeds)} where the grid has both."""
    split = _by_pattern(decaying_cells(df, split=True))
    uniform = _by_pattern(decaying_cells(df, min_sparsity=0.0))
    out = {}
    for setting, cells in split.items():
        n, m = min(parse_split(setting).values(), key=lambda nm: nm[1] / nm[0])
        ref = uniform.get(f"{n}:{m}")
        if not ref:
            continue
        seeds = _common_seeds({**cells, **{f"ref/{k}": v for k, v in ref.items()}})
        if len(seeds):
            out[setting] = (_per_seed(cells, seeds), _per_seed(ref, seeds), seeds)
    return out


def _split_claims(df: pd.DataFrame) -> list[C.ClaimResult]:
    """The split settings' own entries (none without split settings in the grid)."""
    beat = decaying_cells(df, split=True)
    if not beat:
        return []
    return [_pooled(BEAT_SPLIT, beat, "decaying recipe x split-setting cells"),
            *_family(GAP_SPLIT_CELL, split_gap_cells(df))]


def evaluate(df: pd.DataFrame) -> list[C.ClaimResult]:
    """Every claim of METHODS.md §3 on the runs `df` (`pipeline.results_frame`), in a fixed
    order: (a) pooled in bpc and in %, its per-cell family, (b), (c) pooled, its family; then,
    only with split settings in the grid, (a) pooled over them and (b) per setting."""
    beat, matched = decaying_cells(df), matched_cells(df)
    beat_cells = {**beat, **decaying_cells(df, split=True)}
    matched_all = {**matched, **matched_cells(df, split=True)}
    return [
        _pooled(BEAT, beat, "decaying recipe x pattern >= 1:8 cells"),
        _pooled(BEAT_REL, beat, "decaying recipe x pattern >= 1:8 cells", relative=True),
        *_family(BEAT_CELL, beat_cells),
        _gap_claim(df),
        _pooled(EQUAL_FLOPS, matched, "SR-STE runs matched to MDGF-exp's FLOPs at >= 1:8"),
        *_family(EQUAL_FLOPS_CELL, matched_all),
        *_split_claims(df),
    ]


def headline_claims(results: list[C.ClaimResult]) -> list[C.ClaimResult]:
    """The study-level claims (no per-cell entries): the page's first table."""
    return [r for r in results if "/" not in r.claim.id]


def cell_claims(results: list[C.ClaimResult]) -> list[C.ClaimResult]:
    """The per-cell entries (`<claim id>/<cell>`), Holm-adjusted within their family."""
    return [r for r in results if "/" in r.claim.id]


def by_id(results: list[C.ClaimResult]) -> dict[str, C.ClaimResult]:
    """Results keyed by claim id (for the answer paragraph's f-strings)."""
    return {r.claim.id: r for r in results}


def _said(r: C.ClaimResult, unit: str, digits: int = 3) -> str:
    """'+0.012 bpc (95 % CI [-0.01, 0.03], n = 3 seeds): **inconclusive**' or the reason."""
    if r.estimate is None:
        return f"**{r.verdict}** ({r.reason})"
    e = r.estimate
    return (f"{e.estimate:+.{digits}f} {unit} ({e.ci_level:.0%} CI [{e.ci_low:+.{digits}f}, "
            f"{e.ci_high:+.{digits}f}], {e.n} seeds): **{r.verdict}**")


def _tally(results: list[C.ClaimResult], prefix: str) -> str:
    cells = [r.verdict for r in results if r.claim.id.startswith(prefix + "/")]
    if not cells:
        return "no cell could be tested"
    return (f"{cells.count('agrees')} of {len(cells)} cells agree and "
            f"{cells.count('disagrees')} disagree after Holm")


def answer(results: list[C.ClaimResult]) -> str:
    """The page's one-paragraph answer, every number and verdict taken from `results`."""
    r = by_id(results)
    a, rel, gap, eq = (r[c.id] for c in CLAIMS)
    return (
        "Decaying recipes minus SR-STE at 1:8 and beyond, pooled over recipes and patterns "
        f"(negative: decaying better): {_said(a, 'bpc')}; relative to SR-STE's bpc "
        f"{_said(rel, '%', 2)}; per recipe and pattern {_tally(results, BEAT.id)}. "
        f"Growth of that difference with sparsity: {_said(gap, 'bpc per doubling of M/N')}. "
        f"At equal training FLOPs (SR-STE trained longer to MDGF-exp's FLOPs): "
        f"{_said(eq, 'bpc')}; per pattern {_tally(results, EQUAL_FLOPS.id)}. The paper's "
        "gains (up to 5 % for language models, 2 % at iso FLOPs) are accuracy points on "
        "fully trained ViT and T5 models, so only their direction is compared here; the "
        "limitations below say how far this model is from being trained." + _split_answer(r))


def _split_answer(r: dict) -> str:
    """The answer's sentence on the split settings ('' without them)."""
    if BEAT_SPLIT.id not in r:
        return ""
    return (" In the split setting (feed-forward and attention projections at different N:M), "
            f"decaying minus SR-STE: {_said(r[BEAT_SPLIT.id], 'bpc')}.")


__all__ = [
    "BEAT",
    "BEAT_CELL",
    "BEAT_REL",
    "BEAT_SPLIT",
    "CLAIMS",
    "EQUAL_FLOPS",
    "EQUAL_FLOPS_CELL",
    "GAP_GROWS",
    "GAP_SPLIT_CELL",
    "HIGH",
    "answer",
    "bpc_by_seed",
    "by_id",
    "cell_claims",
    "decaying_cells",
    "evaluate",
    "gap_slopes",
    "headline_claims",
    "matched_cells",
    "split_gap_cells",
]
