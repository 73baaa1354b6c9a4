"""BM25 as a sparse encoder (Lucene / Pyserini "flat" scoring, precomputed impacts).

Documents become impact vectors: entry (d, t) holds the full BM25 contribution of term t to
document d, `idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))` with
`idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`. Queries become term-count vectors (Anserini's
bag-of-words query boosts a repeated term by its count), so the BM25 score is the sparse inner
product `q @ d`.
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .analysis import MAX_TOKEN_LEN, Analyzer, raw_tokens, tokenize
from .base import ENCODERS, SparseEncoder

_CHUNK = 2048  # texts analysed per step (progress granularity)


def _lucene_int4(i: np.ndarray) -> np.ndarray:
    """SmallFloat.longToInt4 for non-negative int64 arrays."""
    i = i.astype(np.int64)
    n_bits = np.frexp(i.astype(np.float64))[1].astype(np.int64)  # bit length (exact below 2**53)
    shift = n_bits - 4
    normal = n_bits >= 4
    enc = i.copy()
    s = shift[normal]
    enc[normal] = ((i[normal] >> s) & 0x07) | ((s + 1) << 3)
    return enc


def _lucene_int4_decode(e: np.ndarray) -> np.ndarray:
    bits = e & 0x07
    shift = (e >> 3) - 1
    out = e.copy()
    normal = shift >= 0
    out[normal] = (bits[normal] | 0x08) << shift[normal]
    return out


def lucene_doc_lengths(dl: np.ndarray) -> np.ndarray:
    """Document lengths as Lucene's norms store them (SmallFloat.intToByte4 round trip).

    Lengths below 24 are exact; longer ones are rounded down to 4 significant bits, which is
    what Lucene's BM25Similarity (and so Pyserini) uses as `dl`.
    dl: int (n_docs,) -> int64 (n_docs,).
    """
    dl = np.asarray(dl, dtype=np.int64)
    free = 255 - int(_lucene_int4(np.array([2**31 - 1]))[0])  # NUM_FREE_VALUES = 24
    out = dl.copy()
    big = dl >= free
    out[big] = free + _lucene_int4_decode(_lucene_int4(dl[big] - free))
    return out


@ENCODERS.register("bm25")
class BM25Encoder(SparseEncoder):
    """BM25 impacts over an analysed vocabulary fitted by `encode_docs`.

    k1, b: BM25 parameters (Pyserini defaults for BEIR: 0.9, 0.4).
    stemmer: PyStemmer algorithm (`porter`); lucene_departures: see `Analyzer`.
    lucene_norms: quantise document lengths like Lucene's norms (matches Pyserini).
    Self-hits are handled by the search layer, alike for every encoder
    (`retrieval.search.SELF_HITS`).
    """

    key = "bm25"

    def __init__(
        self,
        k1: float = 0.9,
        b: float = 0.4,
        stemmer: str | None = "porter",
        lucene_departures: bool = True,
        lucene_norms: bool = True,
        progress: bool = False,
    ):
        if k1 < 0:
            raise ValueError(f"k1 must be >= 0, got {k1}")
        if not 0.0 <= b <= 1.0:
            raise ValueError(f"b must be in [0, 1], got {b}")
        self.k1, self.b = float(k1), float(b)
        self.lucene_norms = bool(lucene_norms)
        self.progress = progress
        self.analyzer = Analyzer(stemmer=stemmer, lucene_departures=lucene_departures)
        self.vocab: dict[str, int] | None = None
        self._tok2id: dict[str, int] = {}
        self.idf: np.ndarray | None = None

    def settings(self) -> dict:
        return {
            "k1": self.k1,
            "b": self.b,
            "lucene_norms": self.lucene_norms,
            "analyzer": self.analyzer.settings(),
        }

    def term_counts(self, texts: Sequence[str], grow: bool) -> sp.csr_matrix:
        """Term-frequency matrix (n_texts, |vocab|) float32; `grow` adds unseen terms to vocab.

        Distinct tokens map to term ids through a per-fit dict (token -> id, -1 for stopwords and
        unknown terms); the per-token work stays in C (`pd.factorize`, array indexing).
        """
        from sparselab.progress import bar as progress_bar  # terminal only, never the report

        vocab, tok2id = self.vocab, self._tok2id
        ids_parts, len_parts = [], []
        starts = range(0, len(texts), _CHUNK)
        for s in progress_bar(starts, desc="bm25 analyse", disable=not self.progress or len(starts) < 2):
            toks = [raw_tokens(x) for x in texts[s : s + _CHUNK]]
            flat = np.fromiter(chain.from_iterable(toks), object, sum(map(len, toks)))
            codes, uniques = pd.factorize(flat)  # hashing in C; uniques in first-seen order
            if len(uniques) and max(map(len, uniques)) > MAX_TOKEN_LEN:  # rare: redo exactly
                toks = [tokenize(x) for x in texts[s : s + _CHUNK]]
                flat = np.fromiter(chain.from_iterable(toks), object, sum(map(len, toks)))
                codes, uniques = pd.factorize(flat)
            new = [t for t in uniques if t not in tok2id]
            for tok, term in zip(*self.analyzer.terms_of(new)):
                if term is None:
                    tok2id[tok] = -1
                elif grow:
                    tok2id[tok] = vocab.setdefault(term, len(vocab))
                else:
                    tok2id[tok] = vocab.get(term, -1)
            lut = np.fromiter(map(tok2id.__getitem__, uniques), np.int64, len(uniques))
            ids_parts.append(lut[codes])
            len_parts.append(np.fromiter(map(len, toks), np.int64, len(toks)))
        ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
        lengths = np.concatenate(len_parts) if len_parts else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        keep = ids >= 0
        m = sp.coo_matrix(
            (np.ones(int(keep.sum()), np.float32), (rows[keep], ids[keep])),
            shape=(len(lengths), len(vocab)),
        ).tocsr()  # duplicates (repeated terms) are summed into counts
        m.sort_indices()
        return m

    def encode_docs(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit vocabulary and idf on `texts` and return their BM25 impacts (n_docs, |vocab|) float32."""
        texts = list(texts)
        self.vocab, self._tok2id = {}, {}
        tf = self.term_counts(texts, grow=True)
        dl = np.asarray(tf.sum(axis=1)).ravel().astype(np.int64)
        # Lucene counts only documents that have the field (>= 1 term) in N and avgdl
        n = int((dl > 0).sum())
        avgdl = float(dl.sum()) / max(n, 1)
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float64)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm_dl = lucene_doc_lengths(dl) if self.lucene_norms else dl
        denom_doc = self.k1 * (1.0 - self.b + self.b * norm_dl / avgdl)  # (n_docs,)
        rows = np.repeat(np.arange(tf.shape[0]), np.diff(tf.indptr))
        f = tf.data.astype(np.float64)
        impact = self.idf[tf.indices] * f * (self.k1 + 1.0) / (f + denom_doc[rows])
        return sp.csr_matrix((impact.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape)

    def encode_queries(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Query term counts over the fitted vocabulary (n_queries, |vocab|) float32; unseen terms drop."""
        if self.vocab is None:
            raise RuntimeError("BM25Encoder.encode_queries needs encode_docs first (it fits the vocabulary)")
        return self.term_counts(list(texts), grow=False)
