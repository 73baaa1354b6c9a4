"""Blocks of systems scored on the test queries: the paper-default block (nothing tuned) and
the shape every block shares (per-query values and ranking signatures per system).

The paper-default block takes Pyserini's settings as they are: Average PRF with k = 3, Rocchio
with k = 5, alpha = 0.4, beta = 0.6 (Li et al., TOIS 2023), and the hybrid fusion
`0.1 * s_sparse + s_dense` on raw scores (Pyserini's default) and on min-max centred lists.
No test query chooses anything, and no placement can collapse into another: both fusions use
the same weight > 0.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from ...retrieval.pipelines import FirstRound, Spec, run_pipeline
from ...retrieval.prf import make_prf

DEFAULT_PRF = {"average": make_prf("average", depth=3),
               "rocchio": make_prf("rocchio", depth=5, alpha=0.4, beta=0.6)}
FUSIONS = {"raw": False, "minmax": True}  # fusion variant -> min-max normalisation
# placement names of a cell (partner s, PRF method m) -> the system holding it
PLACEMENTS = ("pre", "post", "both", "prf_only", "interp")


def system_of(placement: str, partner: str, method: str) -> str:
    """System name of `placement` in the cell (partner, method), as in the main table."""
    if placement == "prf_only":
        return f"dense+prf/{method}"
    if placement == "interp":
        return f"interp/{partner}"
    return f"{placement}/{partner}/{method}"


@dataclass
class Block:
    """One block of systems on the test queries of one collection.

    final: system -> per-query frame (query_id + one column per measure).
    signatures: system -> Series (query_id -> its top-`coincide_depth` doc ids joined), to tell
        placements whose rankings coincide.
    choices: the chosen grid point per system (and fold), for tuned blocks.
    """

    final: dict
    signatures: dict
    choices: pd.DataFrame | None = None


def signature(run: pd.DataFrame, depth: int) -> pd.Series:
    """Per query, its top-`depth` doc ids in rank order joined by spaces (index query_id)."""
    from ...retrieval.fusion import top_k0

    top = top_k0(run, depth)  # by rank where the run has one, else by score
    out = top.groupby(top["query_id"].astype(str), sort=True)["doc_id"].agg(
        lambda d: " ".join(map(str, d)))
    out.index.name = "query_id"
    return out


def coincidence(a: pd.Series, b: pd.Series, query_ids) -> float:
    """Share of `query_ids` on which two signature series hold the same top list."""
    idx = pd.Index([str(q) for q in query_ids])
    x, y = a.reindex(idx).fillna(""), b.reindex(idx).fillna("")
    return float((x.to_numpy() == y.to_numpy()).mean()) if len(idx) else 0.0


def default_specs(partners, methods, alpha: float) -> dict[str, Spec]:
    """System -> Spec of the paper-default block (dense, sparse, PRF-only, interp, placements)."""
    specs = {"dense": Spec("dense")}
    for m in methods:
        specs[f"dense+prf/{m}"] = Spec("dense+prf", prf=DEFAULT_PRF[m])
    for s in partners:
        specs[f"sparse/{s}"] = Spec("sparse", s)
        specs[f"interp/{s}"] = Spec("interp", s, alpha_out=alpha)
        for m in methods:
            p = DEFAULT_PRF[m]
            specs[f"pre/{s}/{m}"] = Spec("pre", s, p, alpha_fb=alpha)
            specs[f"post/{s}/{m}"] = Spec("post", s, p, alpha_out=alpha)
            specs[f"both/{s}/{m}"] = Spec("both", s, p, alpha_fb=alpha, alpha_out=alpha)
    return specs


def default_block(first: FirstRound, evaluator, cfg, fusion: str) -> Block:
    """The paper-default block on `first` (test queries) with fusion variant `fusion`."""
    if fusion not in FUSIONS:
        raise KeyError(f"unknown fusion variant {fusion!r}; known: {', '.join(FUSIONS)}")
    unknown = [m for m in cfg.prf_methods if m not in DEFAULT_PRF]
    if unknown:
        raise KeyError(f"prf_methods: no paper default for {unknown}; known: "
                       f"{', '.join(DEFAULT_PRF)}")
    first = replace(first, normalize=FUSIONS[fusion])
    final, sigs = {}, {}
    for system, spec in default_specs(cfg.partners, cfg.prf_methods, cfg.default_alpha).items():
        run = run_pipeline(first, spec)
        final[system] = evaluator.per_query(run)
        sigs[system] = signature(run, cfg.coincide_depth)
    return Block(final, sigs)
