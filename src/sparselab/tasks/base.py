"""Task interface: seeded samples (prompt ids, answer ids) and their scorers.

Every prompt has exactly `length` tokens: `<bos>`, a haystack with the task's records woven in,
the question, and `<a>`. The answer is the content tokens followed by `<eos>`. The first answer
token is therefore predicted by the prefill pass and the remaining ones by decoding, so both
phases' sparse attention matter.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry import Registry
from .haystack import Haystack, weave
from .vocab import Vocab

SPLITS = {"train": 0, "test": 1}


@dataclass(frozen=True)
class Sample:
    """One task instance: `prompt` (length,) and `answer` (n + 1,) int64 ids ending in `<eos>`."""

    task: str
    prompt: np.ndarray
    answer: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def content(self) -> list[int]:
        """Answer without the final `<eos>`."""
        return [int(t) for t in self.answer[:-1]]


def strip_eos(pred: Sequence[int], eos: int) -> list[int]:
    """Generated ids up to (not including) the first `eos`."""
    out = []
    for t in pred:
        if int(t) == eos:
            break
        out.append(int(t))
    return out


def exact_match(pred: Sequence[int], gold: Sequence[int]) -> float:
    """1.0 when the sequences are identical, else 0.0."""
    return float(list(pred) == list(gold))


def position_accuracy(pred: Sequence[int], gold: Sequence[int]) -> float:
    """Fraction of gold positions whose prediction matches (missing positions count wrong)."""
    if not gold:
        return float(not pred)
    return sum(int(p == g) for p, g in zip(pred, gold)) / len(gold)


def set_f1(pred: Sequence[int], gold: Sequence[int]) -> float:
    """F1 between the sets of predicted and gold ids (duplicates ignored)."""
    p, g = set(pred), set(gold)
    if not p and not g:
        return 1.0
    hit = len(p & g)
    if hit == 0:
        return 0.0
    precision, recall = hit / len(p), hit / len(g)
    return 2 * precision * recall / (precision + recall)


SCORERS = {"exact": exact_match, "position": position_accuracy, "set_f1": set_f1}


class Task:
    """Base of every task; subclasses set the labels and implement `build`.

    Args:
        length: prompt length in tokens (haystack fills what records and question leave).
        haystack: filler source shared by tasks (built from `sources` when omitted).
        vocab: token layout; must match the model's vocabulary size.
        sources: haystack sources when `haystack` is omitted.
    """

    key: str = "?"
    dispersion: str = "?"  # Sparse Frontier: how hard the relevant tokens are to locate
    scope: str = "?"  # Sparse Frontier: how many relevant tokens the answer needs
    scoring: str = "exact"
    set_answer: bool = False  # answer is a set: its training order is a seeded permutation

    def __init__(
        self,
        length: int = 256,
        haystack: Haystack | None = None,
        vocab: Vocab | None = None,
        sources: Sequence[str] = ("synthetic", "tinystories", "tinyshakespeare"),
    ):
        self.vocab = vocab or Vocab()
        self.length = int(length)
        self.haystack = haystack or Haystack(self.vocab, sources)

    def build(self, rng: np.random.Generator) -> tuple[list[np.ndarray], list[int], list[int], dict]:
        """Records to weave into the haystack (in order), the question, the answer content, meta."""
        raise NotImplementedError

    def max_answer_len(self) -> int:
        """Upper bound of `len(sample.answer)` (content + `<eos>`)."""
        raise NotImplementedError

    def sample(self, index: int, split: str = "train") -> Sample:
        """The `index`-th sample of `split` ('train' or 'test'); same arguments, same sample."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
        seed = [zlib.crc32(self.key.encode()), SPLITS[split], self.length, int(index)]
        rng = np.random.default_rng(seed)
        records, question, content, meta = self.build(rng)
        v = self.vocab
        n_fill = self.length - 2 - len(question) - sum(len(r) for r in records)
        if n_fill < 0:
            raise ValueError(
                f"{self.key}: length={self.length} is too short for its records and question "
                f"({self.length - n_fill} tokens needed)"
            )
        filler, source = self.haystack.draw(n_fill, rng, split)
        body, starts = weave(filler, records, rng)
        prompt = np.concatenate([[v.bos], body, question, [v.answer]]).astype(np.int64)
        answer = np.asarray(list(content) + [v.eos], dtype=np.int64)
        meta = dict(meta, source=source, record_starts=[s + 1 for s in starts])
        return Sample(self.key, prompt, answer, meta)

    def score(self, pred: Sequence[int], sample: Sample) -> float:
        """Score in [0, 1] of generated ids `pred` (cut at the first `<eos>`)."""
        return SCORERS[self.scoring](strip_eos(pred, self.vocab.eos), sample.content)

    def labels(self) -> dict[str, str]:
        return {"task": self.key, "dispersion": self.dispersion, "scope": self.scope}


TASKS: Registry[type[Task]] = Registry("task")


def collate(samples: Sequence[Sample], pad: int, answer_len: int | None = None):
    """Stack samples into training arrays with the loss on answer tokens only.

    Returns `inputs` (B, L) and `targets` (B, L) int64 and `mask` (B, L) bool, where
    L = prompt length + answer_len - 1 and `targets[:, t]` is the token after `inputs[:, t]`.
    """
    lengths = {len(s.prompt) for s in samples}
    if len(lengths) != 1:
        raise ValueError(f"samples have different prompt lengths {sorted(lengths)}")
    p = lengths.pop()
    a = answer_len or max(len(s.answer) for s in samples)
    seq = np.full((len(samples), p + a), pad, dtype=np.int64)
    mask = np.zeros((len(samples), p + a - 1), dtype=bool)
    for i, s in enumerate(samples):
        seq[i, :p] = s.prompt
        seq[i, p : p + len(s.answer)] = s.answer
        mask[i, p - 1 : p - 1 + len(s.answer)] = True
    return seq[:, :-1], seq[:, 1:], mask


def task_batches(tasks: Sequence[Task], batch_size: int, split: str = "train"):
    """A trainer `batch_fn`: mixed-task batches (task and sample index drawn from the generator).

    Tasks may have different lengths: each step then picks one length uniformly and uses
    `batch_size * shortest / length` samples (at least 1), so every step costs about the same
    number of tokens. Returns `fn(step, generator) -> (inputs, targets, mask)` torch tensors
    (see `collate`).
    """
    import torch

    answer_len = max(t.max_answer_len() for t in tasks)
    pad = tasks[0].vocab.pad
    groups = sorted({t.length for t in tasks})
    by_len = {n: [t for t in tasks if t.length == n] for n in groups}

    def fn(step: int, gen: torch.Generator):
        n = groups[int(torch.randint(len(groups), (1,), generator=gen))] if len(groups) > 1 else groups[0]
        pool, b = by_len[n], max(1, batch_size * groups[0] // n)
        which = torch.randint(len(pool), (b,), generator=gen).tolist()
        idx = torch.randint(2**62, (b,), generator=gen).tolist()
        samples = [pool[w].sample(i, split) for w, i in zip(which, idx)]
        x, y, m = collate(samples, pad, answer_len)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(m)

    return fn
