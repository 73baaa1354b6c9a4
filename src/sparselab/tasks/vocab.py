"""The shared token vocabulary of the task suite: characters for haystack text plus symbols.

Haystack text is character-level (printable ASCII and newline), so natural language costs one
token per character. Keys, values, words and classes of the tasks are single reserved symbols,
disjoint from characters: a tiny model then needs no tokenizer to recognise a needle, and the
difficulty comes from *finding* it in a long context, which is what sparse attention changes.

Layout (ids): 0-7 control tokens, 8-103 characters, then `n_keys` keys, `n_values` values,
`n_words` words, `n_classes` classes; the size is padded to a multiple of 8.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTROL = ("<pad>", "<bos>", "<eos>", "<rec>", "<q>", "<a>", "<set>", "<sep>")
CHARS = "\n" + "".join(chr(c) for c in range(32, 127))  # 96 characters


@dataclass(frozen=True)
class Vocab:
    """Token ids of the task suite; see the module docstring for the layout."""

    n_keys: int = 64
    n_values: int = 64
    n_words: int = 64
    n_classes: int = 4

    pad: int = 0
    bos: int = 1
    eos: int = 2
    rec: int = 3  # starts a record / needle
    query: int = 4  # starts the question
    answer: int = 5  # last prompt token: "answer now"
    assign: int = 6  # variable assignment in variable tracking
    sep: int = 7

    @property
    def char0(self) -> int:
        return len(CONTROL)

    @property
    def key0(self) -> int:
        return self.char0 + len(CHARS)

    @property
    def value0(self) -> int:
        return self.key0 + self.n_keys

    @property
    def word0(self) -> int:
        return self.value0 + self.n_values

    @property
    def class0(self) -> int:
        return self.word0 + self.n_words

    @property
    def size(self) -> int:
        """Embedding rows: every id above, rounded up to a multiple of 8."""
        n = self.class0 + self.n_classes
        return (n + 7) // 8 * 8

    def key(self, i: int | np.ndarray) -> int | np.ndarray:
        return self.key0 + i

    def value(self, i: int | np.ndarray) -> int | np.ndarray:
        return self.value0 + i

    def word(self, i: int | np.ndarray) -> int | np.ndarray:
        return self.word0 + i

    def klass(self, i: int | np.ndarray) -> int | np.ndarray:
        return self.class0 + i

    def encode_text(self, text: str) -> np.ndarray:
        """Characters -> int64 ids; tabs and other characters outside printable ASCII become spaces."""
        space = self.char0 + 1
        table = np.full(128, space, np.int64)
        for j, ch in enumerate(CHARS):
            table[ord(ch)] = self.char0 + j
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.full(codes.shape, space, np.int64)
        ascii_ = codes < 128
        ids[ascii_] = table[codes[ascii_]]
        return ids

    def describe(self, ids) -> str:
        """Human-readable rendering of ids (characters as text, symbols as `<k12>`, `<v3>`...)."""
        out = []
        for t in (int(x) for x in ids):
            if t < self.char0:
                out.append(CONTROL[t])
            elif t < self.key0:
                out.append(CHARS[t - self.char0])
            elif t < self.value0:
                out.append(f"<k{t - self.key0}>")
            elif t < self.word0:
                out.append(f"<v{t - self.value0}>")
            elif t < self.class0:
                out.append(f"<w{t - self.word0}>")
            elif t < self.class0 + self.n_classes:
                out.append(f"<c{t - self.class0}>")
            else:
                out.append("<unused>")
        return "".join(out)
