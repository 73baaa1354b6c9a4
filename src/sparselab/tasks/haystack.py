"""Haystack filler for the task suite: synthetic sentences or natural text, character-level.

Natural text is split 90/10 by position into a train part and a held-out part, so test samples
never reuse training haystacks. The synthetic filler is RULER's repeated "noise" sentences.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .vocab import Vocab

SYNTHETIC = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
SOURCES = ("synthetic", "tinystories", "tinyshakespeare")
_TEXT_NAMES = {"tinystories": "tinystories-sample", "tinyshakespeare": "tinyshakespeare"}
HELD_OUT = 0.1  # fraction of each natural text kept for the test split


def read_text(name: str) -> str:
    """Text of `tinyshakespeare` or `tinystories-sample` (via `sparselab.data.load_text`)."""
    from ..data import load_text

    return load_text(name)


class Haystack:
    """Draws filler token runs of a given length from one of several sources.

    Args:
        vocab: the shared vocabulary (characters are encoded with it).
        sources: subset of `SOURCES`; each sample picks one uniformly.
        text_loader: name -> text (default `read_text`), injectable for tests.
    """

    def __init__(
        self,
        vocab: Vocab,
        sources: Sequence[str] = SOURCES,
        text_loader: Callable[[str], str] = read_text,
    ):
        unknown = [s for s in sources if s not in SOURCES]
        if unknown or not sources:
            raise ValueError(f"haystack sources must be a non-empty subset of {SOURCES}, got {sources}")
        self.sources = tuple(sources)
        self.streams: dict[tuple[str, str], np.ndarray] = {}
        for src in self.sources:
            if src == "synthetic":
                ids = vocab.encode_text(SYNTHETIC * 8)
                self.streams[(src, "train")] = self.streams[(src, "test")] = ids
                continue
            ids = vocab.encode_text(text_loader(_TEXT_NAMES[src]))
            cut = int(len(ids) * (1 - HELD_OUT))
            self.streams[(src, "train")], self.streams[(src, "test")] = ids[:cut], ids[cut:]

    def draw(self, n: int, rng: np.random.Generator, split: str = "train") -> tuple[np.ndarray, str]:
        """`n` consecutive filler tokens from a random source and offset; returns (ids, source)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        src = self.sources[int(rng.integers(len(self.sources)))]
        stream = self.streams[(src, split)]
        if src == "synthetic":
            period = len(SYNTHETIC)
            start = int(rng.integers(period))
            reps = (start + n) // len(stream) + 1
            return np.tile(stream, reps)[start : start + n].copy(), src
        if n > len(stream):
            raise ValueError(f"haystack of {n} tokens is longer than the {src} {split} text")
        start = int(rng.integers(len(stream) - n + 1))
        return stream[start : start + n].copy(), src


def weave(filler: np.ndarray, segments: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Insert `segments`, in order, at sorted random cut points of `filler`.

    Returns the woven ids (len(filler) + total segment length) and each segment's start offset.
    """
    cuts = np.sort(rng.integers(0, len(filler) + 1, size=len(segments)))
    parts, starts, pos, prev = [], [], 0, 0
    for cut, seg in zip(cuts, segments):
        parts.append(filler[prev:cut])
        pos += cut - prev
        starts.append(int(pos))
        parts.append(np.asarray(seg, dtype=np.int64))
        pos += len(seg)
        prev = cut
    parts.append(filler[prev:])
    return np.concatenate(parts) if parts else filler.copy(), starts

