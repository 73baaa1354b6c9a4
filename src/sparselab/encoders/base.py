"""Encoder interfaces (sparse and dense) and the `ENCODERS` registry.

An encoder turns texts into vectors over a fixed space; retrieval is an inner product between a
query vector and document vectors. Sparse encoders (`bm25`, `splade`) return CSR matrices over a
vocabulary, dense encoders (`dense`) return float32 arrays.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..registry import Registry


class Encoder(ABC):
    """Common part: a registry `key` and `settings()` that identify its vectors in cache keys."""

    key: str = ""

    @abstractmethod
    def settings(self) -> dict:
        """JSON-serialisable settings that change the vectors (used in cache keys)."""


class SparseEncoder(Encoder):
    """Texts -> sparse vectors over a vocabulary; score = sparse inner product."""

    @abstractmethod
    def encode_docs(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Encode documents.

        texts: n_docs strings (title and text already joined).
        Returns a float32 CSR matrix of shape (n_docs, vocab_size).
        """

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Encode queries; float32 CSR matrix of shape (n_queries, vocab_size)."""


class DenseEncoder(Encoder):
    """Texts -> dense float32 embeddings; score = inner product."""

    @abstractmethod
    def encode_docs(self, texts: Sequence[str]) -> np.ndarray:
        """Encode documents; float32 array of shape (n_docs, dim)."""

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode queries; float32 array of shape (n_queries, dim)."""


ENCODERS: Registry = Registry("encoder")
