"""Study 01's page prose: the one-paragraph answer and the limitations, with every number taken
from the claims and tables (f-strings over computed values, nothing typed in)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import REAL_EXCLUDE, attention_share, learned_cells

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
        f"isoFLOPS and growth with model size are untestable here: attention is at most "
        f"{share.max():.0%} of a dense prefill's FLOPs at L = {int(res.cells.length.max())}, and each "
        f"size is one training run."
    )


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
        + f" of a dense prefill's FLOPs at L = {top} (the paper: about 40 % at 16K), so isoFLOPS "
        "cannot be tested and any compression saves little compute.",
        (f"* **Compression saturates.** The largest achieved compression per method at L = {top} "
        f"(mean over models, over the grid's labels up to {max(float(c) for c in cfg.prefill_compressions + cfg.decode_compressions):g}): "
        f"{sat_txt}. Methods whose two largest labels give the same achieved compression "
        f"(within 2 %): {', '.join(flat) if flat else 'none'}; their larger labels run the same layouts."),
        (f"* **Dense accuracy.** Minimum over models and lengths per task: {floor_txt}. "
        f"{low} of {len(units)} (model, length, task) units are below the floor {cfg.min_dense:g} "
        "and are left out of the tests (a model that cannot do a task cannot lose accuracy to sparsity)."),
        (f"* **Models.** {len(res.models)} sizes, "
        f"{int(res.models.n_params.min()):,}-{int(res.models.n_params.max()):,} non-embedding "
        "parameters, one training seed each: claims about model size are untestable."),
        ("* **Grid labels.** Study 02 and the per-level tables use the grid's compression labels; the "
        "threshold claims use achieved compression. In the decode phase the first answer token "
        "comes from the dense prefill (the paper's protocol); the remaining 1-2 tokens are scored sparse."),
        (f"* **Samples.** {', '.join(f'{m}: {n}' for m, n in cfg.n_samples.items())} held-out samples "
        "per cell, the same prompts in every cell and model; the tests pair on them."),
    ])


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
        "measured. Windows are scaled to our short prompts (local bands and blocks of L/16 tokens). "
        f"Non-inferiority to dense: one-sided paired t-test of H0 mean(sparse - dense) <= -{cfg.margin:g}, "
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
