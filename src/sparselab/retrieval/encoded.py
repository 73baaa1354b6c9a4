"""Encoded collections: document and query vectors of one encoder, cached on disk.

Documents are cached under `cache_path("encoded", f"{collection}-{encoder}", key)` and each
split's queries under `...-{encoder}-queries-{split}`, the key holding the encoder settings and
the checksum of exactly what the encoder reads (`Collection.docs_checksum`, or the split's
judged queries): a qrels edit that leaves the judged query set alone re-encodes nothing. Folders are written with `atomic_dir`, so an interrupted encode leaves
no folder that `is_complete` accepts; it is simply redone.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..cache import atomic_dir, cache_path, is_complete
from ..data.collection import Collection
from ..encoders.base import ENCODERS, Encoder

Vectors = np.ndarray | sp.csr_matrix

# registry key -> module whose import registers it (imported lazily: torch is heavy)
ENCODER_MODULES = {
    "bm25": "sparselab.encoders.bm25",
    "dense": "sparselab.encoders.dense",
    "splade": "sparselab.encoders.splade",
}


def make_encoder(key: str, **opts) -> Encoder:
    """Instantiate the encoder registered under `key` with keyword options."""
    if key not in ENCODER_MODULES and key not in ENCODERS:
        known = ", ".join(sorted(set(ENCODER_MODULES) | set(ENCODERS.keys())))
        raise KeyError(f"unknown encoder {key!r}; known: {known}")
    if key in ENCODER_MODULES:
        importlib.import_module(ENCODER_MODULES[key])
    return ENCODERS.get(key)(**opts)


def save_vectors(folder: Path, vectors: Vectors, ids: list[str]) -> None:
    """Write vectors (dense .npy or sparse .npz) and their row ids into `folder`."""
    if sp.issparse(vectors):
        sp.save_npz(folder / "vectors.npz", sp.csr_matrix(vectors), compressed=False)
    else:
        np.save(folder / "vectors.npy", np.asarray(vectors, dtype=np.float32))
    (folder / "ids.json").write_text(json.dumps(list(ids)))


def load_vectors(folder: Path) -> tuple[Vectors, list[str]]:
    """Read what `save_vectors` wrote: (vectors, row ids)."""
    ids = json.loads((folder / "ids.json").read_text())
    if (folder / "vectors.npz").exists():
        return sp.load_npz(folder / "vectors.npz").tocsr().astype(np.float32), ids
    return np.load(folder / "vectors.npy"), ids


def cached_vectors(folder: Path, ids: list[str], compute) -> Vectors:
    """Vectors from a complete cache folder, else `compute()` them and cache atomically.

    compute: no-argument callable returning vectors with one row per id.
    """
    if is_complete(folder):
        vectors, stored = load_vectors(folder)
        if stored == list(ids):
            return vectors
    vectors = compute()
    if vectors.shape[0] != len(ids):
        raise ValueError(f"encoder returned {vectors.shape[0]} rows for {len(ids)} texts")
    with atomic_dir(folder) as tmp:
        save_vectors(tmp, vectors, ids)
    return vectors


@dataclass
class EncodedCollection:
    """Document vectors of a collection and, per split, its query vectors (lazily encoded).

    doc_vectors: (n_docs, dim) float32 array or (n_docs, vocab) float32 CSR, rows in the
    collection's document order. Query vectors of `split` come from `queries(split)`, rows in
    `collection.split_queries(split)` order.
    """

    collection: Collection
    encoder: Encoder
    doc_vectors: Vectors
    use_cache: bool = True
    _queries: dict = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return self.encoder.key

    def cache_key(self, split: str) -> dict:
        """Key of the query vectors of `split`: encoder settings and the queries it reads."""
        return {"settings": self.encoder.settings(),
                "queries": self.collection.queries_checksum(split)}

    def query_ids(self, split: str) -> list[str]:
        return self.collection.split_queries(split)["query_id"].astype(str).tolist()

    def queries(self, split: str = "test") -> Vectors:
        """Query vectors of `split` (judged queries only), encoded once and cached."""
        if split not in self._queries:
            frame = self.collection.split_queries(split)
            texts = frame["text"].fillna("").astype(str).tolist()
            ids = frame["query_id"].astype(str).tolist()
            compute = lambda: self.encoder.encode_queries(texts)
            if self.use_cache:
                folder = cache_path("encoded", f"{self.collection.name}-{self.key}-queries-{split}",
                                    self.cache_key(split))
                self._queries[split] = cached_vectors(folder, ids, compute)
            else:
                self._queries[split] = compute()
        return self._queries[split]


def encode_collection(collection: Collection, key: str, use_cache: bool = True,
                      encoder: Encoder | None = None, **opts) -> EncodedCollection:
    """Encode a collection's documents with encoder `key` (cached on disk).

    encoder: an already built encoder (else `make_encoder(key, **opts)`).
    use_cache: read/write the on-disk cache (False for encoders fitted on the corpus, such
    as bm25, whose query encoding needs the fitted state anyway).
    """
    enc = encoder if encoder is not None else make_encoder(key, **opts)
    ids = collection.docs["doc_id"].astype(str).tolist()
    texts = collection.doc_texts()
    compute = lambda: enc.encode_docs(texts)
    if use_cache:
        folder = cache_path("encoded", f"{collection.name}-{enc.key}",
                            {"settings": enc.settings(), "docs": collection.docs_checksum})
        docs = cached_vectors(folder, ids, compute)
    else:
        docs = compute()
    return EncodedCollection(collection, enc, docs, use_cache=use_cache)
