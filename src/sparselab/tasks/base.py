"""Task interface: seeded samples (prompt ids, answer ids) and their scorers.

Every prompt has exactly `length` tokens: `<bos>`, a haystack with the task's records woven in,
the question, and `<a>`. The answer is the content tokens followed by `<eos>`. The first answer
token is therefore predicted by the prefill pass and the remaining ones by decoding, so both
phases' sparse attention matter.

Training samples also carry *follow-up* questions about the same context (e.g. the other
needles' keys), appended after the answer: several supervised answers per long context make
retrieval learnable by tiny models in CPU budgets. Test samples have none.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..registry import Registry
from .haystack import Haystack, weave
from .vocab import Vocab

SPLITS = {"train": 0, "test": 1}
# Bump whenever a generator, the vocabulary or the haystack changes what samples contain: it is
# part of every trained-model and grid-cell cache key, so stale checkpoints and cells are not reused.
TASKS_VERSION = 2


@dataclass(frozen=True)
class Sample:
    """One task instance: `prompt` (length,) and `answer` (n + 1,) int64 ids ending in `<eos>`."""

    task: str
    prompt: np.ndarray
    answer: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    followups: tuple[tuple[np.ndarray, np.ndarray], ...] = ()  # (question + <a>, answer + <eos>)
    unordered: bool = False  # the answer content is a set (its order is a seeded permutation)

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


def pair_accuracy(pred: Sequence[int], gold: Sequence[int]) -> float:
    """Fraction of gold (key, value) pairs, read from `k1 v1 k2 v2 ...`, that `pred` also states.

    The prediction is read the same way; a key it repeats keeps its first value.
    """
    want = dict(zip(gold[::2], gold[1::2]))
    got: dict[int, int] = {}
    for k, v in zip(pred[::2], pred[1::2]):
        got.setdefault(k, v)
    if not want:
        return float(not got)
    return sum(int(got.get(k) == v) for k, v in want.items()) / len(want)


SCORERS = {"exact": exact_match, "position": position_accuracy, "set_f1": set_f1, "pairs": pair_accuracy}


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

    def build(self, rng: np.random.Generator) -> tuple[list[np.ndarray], list[tuple[list[int], list[int]]], dict]:
        """Records to weave into the haystack (in order), (question, answer content) pairs, meta.

        The first pair is the scored one; the others become training follow-ups.
        """
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
        records, questions, meta = self.build(rng)
        (question, content), extra = questions[0], questions[1:]
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
        # question_len: the prompt's last tokens that are the question and <a> (decoded token by
        # token by study 01's "question" decode protocol)
        meta = dict(meta, source=source, record_starts=[s + 1 for s in starts],
                    question_len=len(question) + 1)
        follow = () if split == "test" else tuple(
            (np.asarray([*q, v.answer], dtype=np.int64), np.asarray([*c, v.eos], dtype=np.int64)) for q, c in extra
        )
        return Sample(self.key, prompt, answer, meta, follow, unordered=self.set_answer)

    def score(self, pred: Sequence[int], sample: Sample) -> float:
        """Score in [0, 1] of generated ids `pred` (cut at the first `<eos>`)."""
        return SCORERS[self.scoring](strip_eos(pred, self.vocab.eos), sample.content)

    def labels(self) -> dict[str, str]:
        return {"task": self.key, "dispersion": self.dispersion, "scope": self.scope}


TASKS: Registry[type[Task]] = Registry("task")


def collate(samples: Sequence[Sample], pad: int, followups: bool = True, sets: bool = False):
    """Stack samples into training arrays with the loss on answer tokens only.

    Each row is prompt, answer, then (when `followups`) every follow-up question and answer,
    right-padded with `pad`. Returns `inputs` (B, L) and `targets` (B, L) int64 and `mask`
    (B, L) bool, where `targets[:, t]` is the token after `inputs[:, t]` and `mask` marks the
    positions whose target is an answer token (including `<eos>`).

    With `sets`, `targets` is (B, L, K): column 0 is the next token and columns 1.. the other
    acceptable next tokens, -1 padded. For an unordered answer (a set, `Sample.unordered`) the
    acceptable tokens at each answer step are the members not yet written, so the trainer's
    loss (`masked_loss`) is order-free: -log of their total probability.
    """
    rows, marks, alts = [], [], []  # alts: per row, (position, members still unwritten)
    for s in samples:
        parts = [(s.prompt, s.answer)]
        parts += list(s.followups) if followups else []
        row, mark, alt, at = [], [], [], 0
        for q, a in parts:
            row += [q, a]
            mark += [np.zeros(len(q), bool), np.ones(len(a), bool)]
            at += len(q)
            if s.unordered:
                content = [int(t) for t in a[:-1]]
                alt += [(at + k, content[k:]) for k in range(len(content))]
            at += len(a)
        rows.append(np.concatenate(row))
        marks.append(np.concatenate(mark))
        alts.append(alt)
    n = max(len(r) for r in rows)
    seq = np.full((len(rows), n), pad, dtype=np.int64)
    mask = np.zeros((len(rows), n), dtype=bool)
    for i, (r, m) in enumerate(zip(rows, marks)):
        seq[i, : len(r)], mask[i, : len(m)] = r, m
    if not sets:
        return seq[:, :-1], seq[:, 1:], mask[:, 1:]
    k = max((len(members) for alt in alts for _, members in alt), default=1)
    tgt = np.full((len(rows), n, k), -1, dtype=np.int64)
    tgt[:, :, 0] = seq
    for i, alt in enumerate(alts):
        for j, members in alt:
            others = [t for t in members if t != seq[i, j]]
            tgt[i, j, 1 : 1 + len(others)] = others
    return seq[:, :-1], tgt[:, 1:], mask[:, 1:]


def task_batches(tasks: Sequence[Task], batch_size: int, split: str = "train", context_weight: float = 0.0,
                 set_loss: bool = False, short_steps: int = 0, weights: Mapping[str, float] | None = None):
    """A trainer `batch_fn`: mixed-task batches (task and sample index drawn from the generator).

    Tasks may have different lengths: each step then picks one length uniformly and uses
    `batch_size * shortest / length` samples (at least 1), so every step costs about the same
    number of tokens. Returns `fn(step, generator) -> (inputs, targets, mask)` torch tensors
    (see `collate`). With `context_weight` > 0 the mask becomes float weights: in each sample
    the answer tokens share weight 1 and the prompt tokens share `context_weight` (an auxiliary
    next-token loss on the context, which teaches copying heads early). With `set_loss` the
    targets carry the acceptable alternatives of unordered answers (see `collate`). Steps below
    `short_steps` all use the shortest length (a curriculum: the same number of tokens buys 4x
    the samples at L=64 as at L=256, and the records, hence the algorithm, do not change with L).
    `weights` (task key -> relative sampling weight, default 1; None: uniform) draws the harder
    tasks more often.
    """
    import torch

    pad = tasks[0].vocab.pad
    groups = sorted({t.length for t in tasks})
    by_len = {n: [t for t in tasks if t.length == n] for n in groups}
    probs = None
    if weights is not None:
        unknown = sorted(set(weights) - {t.key for t in tasks})
        if unknown:
            raise ValueError(f"weights name tasks not in the mix: {unknown}")
        if any(not w > 0 for w in weights.values()):
            raise ValueError(f"weights must be positive, got {dict(weights)}")
        probs = {n: torch.tensor([float(weights.get(t.key, 1.0)) for t in by_len[n]]) for n in groups}

    def fn(step: int, gen: torch.Generator):
        pick = int(torch.randint(len(groups), (1,), generator=gen)) if len(groups) > 1 else 0
        n = groups[0] if step < short_steps else groups[pick]
        pool, b = by_len[n], max(1, batch_size * groups[0] // n)
        if probs is None:
            which = torch.randint(len(pool), (b,), generator=gen).tolist()
        else:
            which = torch.multinomial(probs[n], b, replacement=True, generator=gen).tolist()
        idx = torch.randint(2**62, (b,), generator=gen).tolist()
        samples = [pool[w].sample(i, split) for w, i in zip(which, idx)]
        x, y, m = collate(samples, pad, sets=set_loss)
        x, y, m = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(m)
        if context_weight > 0:
            if set_loss:
                raise ValueError("context_weight and set_loss cannot be combined")
            ctx = torch.zeros_like(m)
            ctx[:, : n - 1] = True  # prompt positions predicting prompt tokens
            w = m / m.sum(1, keepdim=True) + context_weight * ctx / (n - 1)
            return x, y, w.float()
        return x, y, m

    return fn
