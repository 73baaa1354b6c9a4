"""Study 03's tables: every block's means, significance markers, published numbers beside
ours, tuning protocol and choices, and the flat metrics of the report."""
from __future__ import annotations

import pandas as pd

from ...claims import round_sig
from .blocks import PLACEMENTS, system_of

DAGGER, DDAGGER = "†", "‡"  # significant vs dense / vs dense+prf (same PRF method)
# published nDCG@10 / R@100 on the BEIR test split (METHODS.md, "Reference effectiveness")
PUBLISHED = {
    ("scifact", "sparse/bm25"): {"nDCG@10": 0.6789, "R@100": 0.9253},
    ("nfcorpus", "sparse/bm25"): {"nDCG@10": 0.3218, "R@100": 0.2457},
    ("scifact", "dense"): {"nDCG@10": 0.6451, "R@100": 0.925},
    ("nfcorpus", "dense"): {"nDCG@10": 0.3159, "R@100": 0.3115},
}
PUBLISHED_SOURCE = {"sparse/bm25": "Pyserini BM25 flat", "dense": "MTEB all-MiniLM-L6-v2",
                    "sparse/splade": "none (a 2-layer SPLADE made for this project)"}
BLOCK_PREFIX = {"default_raw": "paper_default/raw", "default_minmax": "paper_default/minmax",
                "tuned": "tuned", "tuned_k2": "tuned_k2"}


def system_means(res, block: str = "tuned") -> pd.DataFrame:
    """Mean of every measure per (dataset, system) over the test queries of `block`."""
    rows = []
    for name, ds in res.datasets.items():
        for system, frame in ds.blocks[block].final.items():
            rows.append({"dataset": name, "system": system,
                         **frame.drop(columns="query_id").mean().to_dict()})
    return pd.DataFrame(rows)


def significance(res, block: str = "tuned") -> pd.DataFrame:
    """Paired t-tests (Holm within each family) of every system vs `dense` and `dense+prf`.

    Families: per (dataset, measure, baseline); the dense+prf/<m> family holds the pre/post/both
    systems using PRF method m. Rows dataset, measure, baseline, system, mean, delta, t, p,
    p_holm, significant.
    """
    from ...eval import compare_runs

    parts = []
    for name, ds in res.datasets.items():
        final = ds.blocks[block].final
        for measure in res.cfg.measures:
            families = [("dense", dict(final))]
            for m in res.cfg.prf_methods:
                base = f"dense+prf/{m}"
                fam = {s: f for s, f in final.items() if s == base or (
                    s.split("/")[0] in ("pre", "post", "both") and s.endswith(f"/{m}"))}
                families.append((base, fam))
            for base, fam in families:
                out = compare_runs(fam, base, measure, alpha=res.cfg.significance)
                parts.append(out[out["system"] != base].assign(dataset=name, measure=measure,
                                                                baseline=base))
    cols = ["dataset", "measure", "baseline", "system", "mean", "delta", "t", "p", "p_holm",
            "significant"]
    return pd.concat(parts, ignore_index=True)[cols]


def table_block(res, block: str = "tuned", numeric: bool = False, long: bool = False) -> pd.DataFrame:
    """Rows = systems, columns = (dataset, measure); test-query means of `block`, with markers
    † (vs dense) and ‡ (vs dense+prf of the same PRF method), Holm-corrected.

    `long`: rows = (dataset, system), columns = measures instead (the same cells; four
    collections x four measures side by side do not fit a 1280 px page)."""
    means = system_means(res, block)
    order = list(dict.fromkeys(means["system"]))
    table = means.set_index(["system", "dataset"])[res.cfg.measures].unstack("dataset")
    table = table.swaplevel(axis=1).reindex(columns=pd.MultiIndex.from_product(
        [list(res.datasets), res.cfg.measures])).reindex(order)
    if numeric:
        return table
    sig = significance(res, block)
    marks: dict = {}
    for r in sig[sig["significant"]].itertuples():
        key = (r.system, r.dataset, r.measure)
        marks[key] = marks.get(key, "") + (DAGGER if r.baseline == "dense" else DDAGGER)
    out = table.copy().astype(object)
    for system in out.index:
        for ds, measure in out.columns:
            v = table.loc[system, (ds, measure)]
            out.loc[system, (ds, measure)] = ("" if pd.isna(v) else f"{v:.4f}") + marks.get(
                (system, ds, measure), "")
    return _by_dataset(out, res, order) if long else out


def _by_dataset(table: pd.DataFrame, res, order: list) -> pd.DataFrame:
    """(system) x (dataset, measure) -> (dataset, system) x measure, in the given orders."""
    out = table.stack(level=0, future_stack=True).swaplevel()
    rows = pd.MultiIndex.from_product([list(res.datasets), order], names=["dataset", "system"])
    return out.reindex(index=rows)[list(res.cfg.measures)]


def table_placements(res, blocks, measure: str | None = None) -> pd.DataFrame:
    """One row per block x cell (dataset / partner / PRF method), one column per placement:
    means of `measure` (default the claims measure) on the test queries."""
    measure = measure or res.cfg.tune_measure
    rows = []
    for block in blocks:
        for name, ds in res.datasets.items():
            final = ds.blocks[block].final
            for s in res.cfg.partners:
                for m in res.cfg.prf_methods:
                    row = {"block": block, "dataset": name, "partner": s, "prf": m}
                    for p in PLACEMENTS:
                        row[p] = float(final[system_of(p, s, m)][measure].mean())
                    rows.append(row)
    return pd.DataFrame(rows).set_index(["block", "dataset", "partner", "prf"]).round(4)


def table_reference(res) -> pd.DataFrame:
    """Our first-round baselines beside the published numbers (where any are published)."""
    rows = []
    for name, ds in res.datasets.items():
        for system in ("sparse/bm25", "dense", "sparse/splade"):
            if system not in ds.final:
                continue
            for measure in ("nDCG@10", "R@100"):
                if measure not in ds.final[system]:
                    continue
                pub = PUBLISHED.get((name, system), {}).get(measure)
                ours = float(ds.final[system][measure].mean())
                rows.append({"dataset": name, "system": system, "measure": measure,
                             "ours": round(ours, 4),
                             "published": "not published" if pub is None else pub,
                             "ours - published": None if pub is None else round(ours - pub, 4),
                             "source": PUBLISHED_SOURCE[system] if pub is not None or
                             system == "sparse/splade" else "none published for this collection"})
    return pd.DataFrame(rows)


def table_protocol(res) -> pd.DataFrame:
    """Where every number comes from: dataset, tuning protocol, queries evaluated."""
    rows = []
    for name, ds in res.datasets.items():
        n = len(next(iter(ds.final.values())))
        rows.append({"dataset": name, "tuned block: chosen on": ds.protocol,
                     "reported on": "test split" + (" (held-out folds)" if "CV" in ds.protocol
                                                     else ""),
                     "paper-default block": "nothing chosen", "test queries": n})
    return pd.DataFrame(rows).set_index("dataset")


def table_choices(res, block: str = "tuned") -> pd.DataFrame:
    """The chosen grid point of every system (with the folds that chose it under CV)."""
    parts = [ds.blocks[block].choices.assign(dataset=name) for name, ds in res.datasets.items()]
    out = pd.concat(parts, ignore_index=True)
    return (out.groupby(["dataset", "system", "label"], sort=False).size()
            .rename("folds").reset_index())


def win_loss(res, a: str = "both", b: str = "post", block: str = "tuned",
             eps: float = 1e-9) -> pd.DataFrame:
    """Queries where placement `a` beats / ties / loses to `b` per cell (claims measure)."""
    measure, rows = res.cfg.tune_measure, []
    for name, ds in res.datasets.items():
        final = ds.blocks[block].final
        for s in res.cfg.partners:
            for m in res.cfg.prf_methods:
                x = final[system_of(a, s, m)].set_index("query_id")[measure]
                y = final[system_of(b, s, m)].set_index("query_id")[measure].reindex(x.index)
                d = x - y
                rows.append({"dataset": name, "variant": f"{s}/{m}",
                             "wins": int((d > eps).sum()), "ties": int((d.abs() <= eps).sum()),
                             "losses": int((d < -eps).sum()), "mean_diff": float(d.mean())})
    return pd.DataFrame(rows)


def metrics(res, outcome) -> dict:
    """Flat metrics, keys ending in an ir-measures name: `tuned[_k2]/<dataset>/<system>/<measure>`,
    `paper_default/<raw|minmax>/<dataset>/<partner>/<prf>/<placement>/<measure>`,
    `baseline/<dataset>/<system>/<measure>`; the pooled claim estimates
    (`pooled/<block>/<claim>/<A-B>/...`), flagged cells, and per dataset the protocol.
    Floats carry 6 significant digits, so a rebuild writes the same bytes."""
    out: dict = {}
    for block in ("tuned", "tuned_k2"):
        for row in system_means(res, block).to_dict("records"):
            for measure in res.cfg.measures:
                key = f"{BLOCK_PREFIX[block]}/{row['dataset']}/{row['system']}/{measure}"
                out[key] = row[measure]
    for row in system_means(res, "default_raw").to_dict("records"):  # untuned first rounds
        if row["system"] == "dense" or row["system"].startswith("sparse/"):
            for measure in res.cfg.measures:
                out[f"baseline/{row['dataset']}/{row['system']}/{measure}"] = row[measure]
    for name, ds in res.datasets.items():  # the paper-default block per cell and placement
        for fusion in ("raw", "minmax"):
            final = ds.blocks[f"default_{fusion}"].final
            for s in res.cfg.partners:
                for m in res.cfg.prf_methods:
                    for p in PLACEMENTS:
                        v = final[system_of(p, s, m)]
                        for measure in res.cfg.measures:
                            out[f"paper_default/{fusion}/{name}/{s}/{m}/{p}/{measure}"] = \
                                float(v[measure].mean())
    for r in outcome.pooled.itertuples(index=False):
        key = f"pooled/{r.block}/{r.claim}/{r.comparison.replace(' ', '')}"
        for col in ("estimate", "ci_low", "ci_high", "p", "tau2"):
            out[f"{key}/{col}"] = float(getattr(r, col))
        out[f"{key}/cells"] = int(r.cells)
    for r in outcome.coincide.itertuples(index=False):
        out[f"cells_flagged/{r.block}/{r.cell}"] = r.flagged or "none"
    for name, ds in res.datasets.items():
        out[f"tuned_on/{name}"] = ds.protocol
        out[f"n_test_queries/{name}"] = len(next(iter(ds.final.values())))
    return {k: round_sig(v) for k, v in sorted(out.items())}


def headline(outcome, block: str = "tuned") -> dict:
    """Pooled Both - binding competitor (tuned block) with its CI, and the verdict counts."""
    out = {}
    for r in outcome.results:
        if r.claim.id.endswith(f".{block}") and r.estimate is not None:
            key = r.claim.id.split(".")[1]
            out[f"{key}/{block}"] = round_sig(r.estimate.estimate, 4)
            out[f"{key}/{block}/ci"] = (f"[{r.estimate.ci_low:.4f}, {r.estimate.ci_high:.4f}] "
                                        f"{r.verdict}")
    return out
