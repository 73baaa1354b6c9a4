"""The one collection model every loader produces (BEIR and classic SMART alike)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd


@dataclass(frozen=True)
class Collection:
    """A test collection.

    docs: DataFrame with columns doc_id (str), title (str), text (str); row order is the
        internal document index used by encoders and indexes.
    queries: split -> DataFrame with columns query_id (str), text (str).
    qrels: split -> DataFrame with columns query_id (str), doc_id (str), relevance (int),
        the column names ir-measures expects.
    checksum: sha256 over the raw files it was read from (qrels included).
    Cache keys of encodings use `docs_checksum` / `queries_checksum(split)` instead: only what
    an encoder reads, so editing a judgement never re-encodes the corpus.
    """

    name: str
    docs: pd.DataFrame
    queries: dict[str, pd.DataFrame]
    qrels: dict[str, pd.DataFrame]
    checksum: str
    meta: dict = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        """Splits that have both queries and qrels."""
        return sorted(set(self.queries) & set(self.qrels))

    @cached_property
    def docs_checksum(self) -> str:
        """sha256 over the documents as encoders read them: ids and flat texts, in order."""
        return _digest(zip(self.docs["doc_id"].astype(str), self.doc_texts()))

    def queries_checksum(self, split: str) -> str:
        """sha256 over the judged queries of `split` (ids and texts, in order)."""
        q = self.split_queries(split)
        return _digest(zip(q["query_id"].astype(str), q["text"].fillna("").astype(str)))

    def doc_texts(self) -> list[str]:
        """Title and text joined by a space ("flat"), in internal document order."""
        titles = self.docs["title"].fillna("").astype(str)
        texts = self.docs["text"].fillna("").astype(str)
        return [f"{t} {x}".strip() for t, x in zip(titles, texts)]

    def split_queries(self, split: str) -> pd.DataFrame:
        """Queries of `split` that have at least one judgement (the evaluated set)."""
        if split not in self.queries or split not in self.qrels:
            raise KeyError(f"collection {self.name!r} has no split {split!r}; has {self.splits}")
        judged = set(self.qrels[split]["query_id"])
        q = self.queries[split]
        return q[q["query_id"].isin(judged)].reset_index(drop=True)


def _digest(pairs) -> str:
    h = hashlib.sha256()
    for a, b in pairs:
        h.update(a.encode("utf-8", "surrogatepass") + b"\0" + b.encode("utf-8", "surrogatepass")
                 + b"\n")
    return h.hexdigest()
