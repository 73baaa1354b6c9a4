"""Study 03's first rounds, with their expensive parts as committed artifacts.

Encoding is what takes the time (MiniLM and SPLADE over every document); so per collection two
artifacts hold what the analysis reads from it:

- `03_prf_interpolation/<collection>/dense`: MiniLM document and query embeddings (fp16;
  unit vectors, so a score moves by ~1e-4 at most);
- `03_prf_interpolation/<collection>/splade_runs`: the SPLADE top-`depth` run of each split
  (doc rows as int16/int32, scores fp32).

The dense first-round run is an exact flat search over the stored embeddings, and the BM25
run is recomputed (seconds; cached under `data/cache/runs`). Fingerprints hold what each
artifact was computed from: encoder settings, a hash of the texts and ids, depth and the
self-hit policy.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd

from ...retrieval.pipelines import FirstRound, dense_search
from ...retrieval.search import drops_self_hits
from .config import Config

STUDY = "03_prf_interpolation"
COMMAND = "python -m sparselab report run 03 --profile full"


def texts_sha(ids, texts) -> str:
    """sha256 over ids and texts (what an encoder reads), order included."""
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        h.update(str(i).encode())
        h.update(b"\x1f")
        h.update(str(t).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def _queries(col, split):
    frame = col.split_queries(split)
    return frame["query_id"].astype(str).tolist(), frame["text"].fillna("").astype(str).tolist()


def _fingerprint(col, key: str, splits, **extra) -> dict:
    from ...retrieval.encoded import make_encoder

    ids = col.docs["doc_id"].astype(str).tolist()
    return {"encoder": key, "settings": make_encoder(key).settings(),
            "docs": texts_sha(ids, col.doc_texts()),
            "queries": {s: texts_sha(*_queries(col, s)) for s in splits}, **extra}


def get_or_build(name: str, config: dict, build, **kw):
    """`sparselab.artifacts.get_or_build` with this study's rebuild command."""
    from ...artifacts import get_or_build as gob

    return gob(name, config, build, command=COMMAND, **kw)


def _get(name: str, config: dict, build, dtype: str):
    return get_or_build(f"{STUDY}/{name}", config, build, kind="checkpoint", dtype=dtype)


def dense_vectors(col, splits) -> tuple[np.ndarray, dict]:
    """(N, D) float32 doc embeddings and {split: (Q, D) query embeddings} (fp16 stored)."""
    import torch

    from ...retrieval.encoded import encode_collection

    def build():
        enc = encode_collection(col, "dense")
        state = {"docs": torch.from_numpy(np.asarray(enc.doc_vectors, np.float32))}
        for s in splits:
            state[f"queries/{s}"] = torch.from_numpy(np.asarray(enc.queries(s), np.float32))
        return state, {"splits": list(splits)}

    state, _ = _get(f"{col.name}/dense", _fingerprint(col, "dense", splits), build, "fp16")
    return state["docs"].numpy(), {s: state[f"queries/{s}"].numpy() for s in splits}


def splade_runs(col, splits, k: int) -> dict:
    """{split: SPLADE run (query_id, doc_id, score, rank)} at depth `k`."""
    import torch

    from ...retrieval.first_round import cached_run

    doc_ids = np.asarray(col.docs["doc_id"].astype(str).tolist(), dtype=object)
    row_type = torch.int16 if len(doc_ids) < 2 ** 15 else torch.int32

    def build():
        state, meta = {}, {}
        pos = pd.Index(doc_ids)
        for s in splits:
            run = cached_run(col, "splade", s, k).sort_values(["query_id", "rank"], kind="stable")
            qids, counts = np.unique(run["query_id"].astype(str).to_numpy(), return_counts=True)
            state[f"{s}/doc"] = torch.from_numpy(pos.get_indexer(run["doc_id"].astype(str))
                                                 .astype(np.int64)).to(row_type)
            state[f"{s}/score"] = torch.from_numpy(run["score"].to_numpy(np.float32))
            state[f"{s}/count"] = torch.from_numpy(counts.astype(np.int64))
            meta[s] = qids.tolist()
        return state, meta

    config = _fingerprint(col, "splade", splits, k=k, drop_self_hits=drops_self_hits(col))
    state, meta = _get(f"{col.name}/splade_runs", config, build, "fp32")
    out = {}
    for s in splits:
        counts = state[f"{s}/count"].numpy()
        ranks = np.concatenate([np.arange(1, c + 1) for c in counts]) if len(counts) else []
        out[s] = pd.DataFrame({
            "query_id": np.repeat(np.asarray(meta[s], dtype=object), counts),
            "doc_id": doc_ids[state[f"{s}/doc"].numpy().astype(np.int64)],
            "score": state[f"{s}/score"].numpy().astype(np.float32),
            "rank": np.asarray(ranks, np.int64)})
    return out


def needed_splits(col, cfg: Config) -> list[str]:
    tune = cfg.tune_splits.get(col.name)
    return [tune, "test"] if tune else ["test"]


def dense_first_round(first: FirstRound, queries: np.ndarray) -> pd.DataFrame:
    """The dense first-round run over the stored embeddings, under the self-hit policy:
    where it drops them, one extra document is retrieved so the list stays `first.k` long."""
    if not first.drop_self_hits:
        return dense_search(first, queries)
    wide = dense_search(dataclasses.replace(first, k=first.k + 1), queries)
    keep = wide["doc_id"].astype(str).to_numpy() != wide["query_id"].astype(str).to_numpy()
    run = wide[keep].copy()
    run["rank"] = run.groupby("query_id", observed=True).cumcount() + 1
    return run[run["rank"] <= first.k].reset_index(drop=True)


def load_first(col, split: str, cfg: Config) -> tuple[FirstRound, str]:
    """The FirstRound of `split` (dense from the artifact, partners: bm25 recomputed,
    splade from the artifact) and a line saying where each part came from."""
    from ...retrieval.first_round import cached_run
    from ...retrieval.search import self_hit_record

    splits = needed_splits(col, cfg)
    docs, queries = dense_vectors(col, splits)
    sparse = {}
    for p in cfg.partners:
        sparse[p] = (splade_runs(col, splits, cfg.depth)[split] if p == "splade"
                     else cached_run(col, p, split, cfg.depth))
    qids, _ = _queries(col, split)
    first = FirstRound(query_ids=qids, query_vectors=queries[split],
                       doc_ids=col.docs["doc_id"].astype(str).tolist(), doc_vectors=docs,
                       dense=None, k=cfg.depth, k0=cfg.depth, normalize=cfg.normalize,
                       drop_self_hits=drops_self_hits(col))
    first.dense = dense_first_round(first, queries[split])
    first.sparse = {p: first.categorical(r) for p, r in sparse.items()}
    origin = ("dense: flat search over the dense artifact; "
              + ", ".join(f"{p}: {'artifact' if p == 'splade' else 'recomputed'}"
                          for p in cfg.partners) + f"; self-hits {self_hit_record(col)}")
    return first, origin
