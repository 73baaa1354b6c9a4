"""Study 01's page prose: the one-paragraph answer and the limitations, with every number taken
from the claims and tables (f-strings over computed values, nothing typed in)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import ISOFLOPS_MIN_SHARE, REAL_EXCLUDE, attention_share, learned_cells
from .grid import PAPER_GRANULARITY_LENGTH

PAPER_LENGTHS = "16K-128K"  # the paper's evaluated lengths (METHODS.md §2)


def _by_id(results) -> dict:
    return {r.claim.id: r for r in results}


def _verdict(results, prefix: str) -> str:
    got = [f"{r.claim.id.split('/', 1)[-1] if '/' in r.claim.id else ''} {r.verdict}".strip()
           for r in results if r.claim.id.split("/")[0] == prefix]
    return "; ".join(got)


def table_saturation(cells: pd.DataFrame) -> pd.DataFrame:
    """Achieved (effective) compression per (phase, method) and grid level at the longest
    length, mean over models: where the labels stop buying compression."""
    top = cells[(cells.length == cells.length.max()) & (cells.level > 1)
                & ~cells.method.isin(REAL_EXCLUDE)]
    return top.pivot_table(index=["phase", "method"], columns="level", values="effective_compression")


def dense_floor(cells: pd.DataFrame) -> pd.DataFrame:
    """Dense accuracy per task: min and mean over (model, length)."""
    d = cells[(cells.method == "dense") & (cells.phase == "prefill")]
    return d.groupby("task")["accuracy"].agg(["min", "mean"])


def answer(res, cfg, results) -> str:
    """The page's one-paragraph answer (Markdown)."""
    r = _by_id(results)
    counts = pd.Series([x.verdict for x in results]).value_counts()
    count_txt = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in ("agrees", "disagrees", "inconclusive", "untestable"))
    lrn = learned_cells(res.cells, cfg.min_dense)
    from .claims import table_thresholds

    th = table_thresholds(lrn, cfg) if len(lrn) else pd.DataFrame()
    th_txt = "; ".join(f"{m}: prefill {row.prefill:.2f}x, decode {row.decode:.2f}x"
                       for m, row in th.iterrows()) if len(th) else "not measurable (no model learned a task)"
    dec = r.get("01.decode_tolerates_more")
    dec_txt = (f"{dec.estimate.estimate:+.2f} [{dec.estimate.ci_low:+.2f}, {dec.estimate.ci_high:+.2f}] "
               f"log2 units, {dec.verdict}") if dec is not None and dec.estimate is not None else \
        (dec.verdict if dec is not None else "not run")
    share = attention_share(res.cells)
    return (
        f"At our scale ({len(res.models)} models, L = {', '.join(str(int(x)) for x in sorted(res.cells.length.unique()))} "
        f"tokens) the {len(results)} claims come out {count_txt}. "
        f"The largest achieved compression non-inferior to dense (margin {cfg.margin:g}, "
        f"alpha {cfg.alpha:g}) is {th_txt}; decode minus prefill (mean log2 over models) is {dec_txt}. "
        f"No universal winner within a phase: {_verdict(results, '01.no_universal_winner')}. "
        f"Moderate sparsity hurts at least one task: {_verdict(results, '01.moderate_hurts')}. "
        f"Relative error falling with length: {_verdict(results, '01.rel_error_falls')}. "
        + " ".join(_one(r.get(cid), name) for cid, name in (
            ("01.isoflops", "isoFLOPS"), ("01.decode_grows_with_size", "Growth with model size (decode)"),
            ("01.isocost", "isoCost in CPU seconds")) if cid in r)
        + f" Attention is at most {share.max():.0%} of a dense prefill's FLOPs at "
        f"L = {int(res.cells.length.max())}."
    )


def _one(result, name: str) -> str:
    """`name: verdict (estimate [CI])` or, untestable, the measured reason."""
    if result.verdict == "untestable" or result.estimate is None:
        return f"{name}: {result.verdict} ({result.reason})."
    e = result.estimate
    return (f"{name}: {result.verdict}, {e.estimate:+.3g} [{e.ci_low:+.3g}, {e.ci_high:+.3g}] "
            f"{result.claim.unit}.")


def dense_by_size(res) -> pd.DataFrame:
    """Mean dense accuracy over tasks (and training seeds) per model size (rows, small to large)
    and length (columns)."""
    fam = res.models
    size = dict(zip(fam.model, fam.get("size", fam.model)))
    d = res.cells[(res.cells.method == "dense") & (res.cells.phase == "prefill")]
    t = d.assign(size=d.model.map(size)).pivot_table(index="size", columns="length", values="accuracy",
                                                     aggfunc="mean")
    order = fam.assign(size=fam.model.map(size)).sort_values("n_params")["size"].drop_duplicates()
    return t.reindex([m for m in order if m in t.index])


def limitations(res, cfg) -> str:
    """How far this regime is from the paper's, in measured quantities (Markdown list)."""
    cells = res.cells
    share = attention_share(cells).reindex(res.models.model).dropna()  # small to large
    sat = table_saturation(cells)
    top = int(cells.length.max())
    sat_txt = "; ".join(f"{ph}/{m} {row.max():.2f}x" for (ph, m), row in sat.iterrows()) if len(sat) else "none"
    flat = [f"{ph}/{m}" for (ph, m), row in sat.iterrows()
            if len(row.dropna()) > 1 and np.isclose(row.dropna().iloc[-1], row.dropna().iloc[-2], rtol=0.02)]
    floor = dense_floor(cells)
    floor_txt = ", ".join(f"{t} {row['min']:.2f}" for t, row in floor.iterrows())
    key = ["model", "length", "task"]
    units = cells[cells.method == "dense"].drop_duplicates(key)
    low = int((units.accuracy < cfg.min_dense).sum())
    return "\n".join([
        f"* **Length.** L <= {top} tokens against the paper's {PAPER_LENGTHS}. Attention is "
        + ", ".join(f"{m} {v:.1%}" for m, v in share.items())
        + f" of a dense prefill's FLOPs at L = {top} (the paper: about 40 % at 16K)"
        + (", so isoFLOPS cannot be tested and any compression saves little compute."
           if share.max() < ISOFLOPS_MIN_SHARE else "."),
        (f"* **Compression saturates.** The largest achieved compression per method at L = {top} "
        f"(mean over models, over the grid's labels up to {max(float(c) for c in cfg.prefill_compressions + cfg.decode_compressions):g}): "
        f"{sat_txt}. Methods whose two largest labels give the same achieved compression "
        f"(within 2 %): {', '.join(flat) if flat else 'none'}; their larger labels run the same layouts."),
        (f"* **Dense accuracy.** Minimum over models and lengths per task: {floor_txt}. "
        f"{low} of {len(units)} (model, length, task) units are below the floor {cfg.min_dense:g} "
        "and are left out of the tests (a model that cannot do a task cannot lose accuracy to sparsity)."),
        _models_text(res, cfg),
        ("* **Grid labels.** Study 02 and the per-level tables use the grid's compression labels; the "
         "threshold claims use achieved compression." if cfg.budgets != "calibrated" else
         "* **Calibrated levels.** Every level is a target of achieved compression (within 15 %); "
         "the tables' levels are those targets, the claims and study 02 use the achieved values.")
        + (" In the decode phase the first answer token comes from the dense prefill (the paper's "
           "protocol); the remaining 1-2 tokens are scored sparse." if cfg.decode_protocol != "question"
           else " In the decode phase every scored answer token is produced by the method (the "
           "question is decoded over a densely prefilled context)."),
        (f"* **Samples.** {', '.join(f'{m}: {n}' for m, n in cfg.n_samples.items())} held-out samples "
        "per cell, the same prompts in every cell and model; the tests pair on them."),
    ])


def _models_text(res, cfg) -> str:
    """The models bullet: sizes, seeds, and how far the training got per size (measured)."""
    fam = res.models.drop_duplicates("size" if "size" in res.models else "model")
    sized = {m: len(cfg.model_seeds(m)) for m in cfg.models}
    multi = [m for m, k in sized.items() if k > 1]
    head = (f"* **Models.** {len(fam)} sizes, {int(res.models.n_params.min()):,}-"
            f"{int(res.models.n_params.max()):,} non-embedding parameters, ")
    if len(multi) < 3:
        return head + ("one training seed each" if not multi else f"several seeds only for {', '.join(multi)}") \
            + ": claims about model size are untestable."
    out = head + (f"{len(multi)} sizes with {min(sized[m] for m in multi)}+ training seeds "
                  f"({', '.join(multi)}); the size claim compares sizes on the (length, task) units "
                  "every model learned.")
    dense = dense_by_size(res)
    if len(dense) >= 2:
        small, large = dense.index[0], dense.index[-1]
        worse = [int(n) for n in dense.columns if dense.at[large, n] < dense.at[small, n] - 0.05]
        if worse:
            out += (f" Every size trains with the same recipe; the largest ({large}) is less accurate "
                    f"densely than the smallest ({small}) at L = {', '.join(map(str, worse))} (mean over "
                    "tasks: " + "; ".join(f"{n}: {dense.at[large, n]:.2f} vs {dense.at[small, n]:.2f}"
                                         for n in worse)
                    + "), so across sizes, size is confounded with how far training got at length.")
    return out


def protocol(cfg) -> str:
    """The protocol with the values this run used (Markdown)."""
    lengths = ", ".join(str(x) for x in cfg.lengths)
    return (
        f"A family of {len(cfg.models)} models ({', '.join(cfg.models)}) is trained with the "
        f"multi-task, multi-length suite recipe on every task at L = {', '.join(str(x) for x in cfg.train_lengths)} "
        f"({', '.join(f'{m}: {cfg.train_steps[m]} steps' for m in cfg.models)}; the first "
        f"{cfg.train_short_frac:.0%} of the steps at the shortest length). Every grid cell scores "
        f"{', '.join(f'{m}: {n}' for m, n in cfg.n_samples.items())} held-out samples of one task "
        f"at L = {lengths} (the same prompts in every cell). *Prefill phase*: the method replaces "
        "attention for the whole prompt in every layer (the first answer token comes from those "
        "logits); the rest of the answer is decoded densely over that cache. *Decode phase*: dense "
        "prefill, then the method compresses or selects the KV cache for every further answer token. "
        f"Prefill methods {', '.join(cfg.prefill_methods)} at C = {', '.join(f'{float(c):g}' for c in cfg.prefill_compressions)}; "
        f"decode methods {', '.join(cfg.decode_methods)} at C = {', '.join(f'{float(c):g}' for c in cfg.decode_compressions)}. "
        "C = 1/(1 - sparsity); FlexPrefill's budget adapts, so its grid level is a label for a coverage "
        f"alpha ({', '.join(f'C={float(k):g}: {float(v):g}' for k, v in cfg.flex_alpha.items())}) and its achieved sparsity is "
        "measured. "
        + (f"Below L = {PAPER_GRANULARITY_LENGTH} windows are scaled to the prompt (local bands and "
           f"blocks of L/16 tokens; the granularity table lists them per length); from L = "
           f"{PAPER_GRANULARITY_LENGTH} the paper's. " if min(cfg.lengths) < PAPER_GRANULARITY_LENGTH
           else "Methods run at the paper's granularity. ")
        + f"Non-inferiority to dense: one-sided paired t-test of H0 mean(sparse - dense) <= -{cfg.margin:g}, "
        f"rejected at alpha = {cfg.alpha:g}; units whose dense accuracy is below {cfg.min_dense:g} are left "
        "out of every test. Verdicts follow `sparselab.claims`: a directional claim agrees only with a "
        "significant effect in the paper's direction, disagrees with one in the opposite direction, "
        "and is otherwise inconclusive." + design_text(cfg)
    )


def design_text(cfg) -> str:
    """What the issue-14 design options change in the protocol ("" for the original design)."""
    parts = []
    if cfg.budgets == "calibrated":
        parts.append(
            "**Calibrated budgets.** Each level C is a target of *achieved* compression: for every "
            "(model, length, phase, method) the method's budget argument (FlexPrefill: alpha at its "
            "largest min_budget, then the fixed-budget alpha = 0 points with min_budget falling) is "
            f"bisected on the first {cfg.calibration_samples} test prompts of every task until the "
            "mean achieved compression is within 15 % of C; unreachable targets are left out of the "
            "grid and listed as unreachable in the calibration table. From L = 2048 the methods run "
            "at the paper's granularity (64-token blocks, 16-token Quest pages, SnapKV pooling 21).")
    if cfg.decode_protocol == "question":
        parts.append(
            "**Decode on equal footing.** In the decode phase only the context is prefilled "
            "(densely); the question and `<a>` are decoded token by token with the method, so every "
            "scored answer token, the first included, is produced by it.")
    if any(len(cfg.model_seeds(m)) > 1 for m in cfg.models):
        parts.append("**Seeds.** " + ", ".join(
            f"{m}: seeds {cfg.model_seeds(m)}" for m in cfg.models if len(cfg.model_seeds(m)) > 1)
            + "; claims about model size use CIs over seeds.")
    return "".join("\n\n" + p for p in parts)
