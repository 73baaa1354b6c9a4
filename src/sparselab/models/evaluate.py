"""Score a model on the task suite: batched greedy generation on held-out samples."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..attention.base import DecodeMethod, PrefillMethod
from ..tasks.base import Task
from .lm import TinyLM


def generate_answers(model: TinyLM, prompts: np.ndarray, n_new: int, eos: int,
                     prefill: PrefillMethod | None = None, decode: DecodeMethod | None = None,
                     obs_window: int = 256) -> tuple[np.ndarray, dict]:
    """Greedy answers (B, <= n_new) for equal-length prompts (B, T).

    With both methods None this is the dense reference (`model.greedy`, full recomputation).
    """
    x = torch.from_numpy(np.ascontiguousarray(prompts))
    model.eval()
    if prefill is None and decode is None:
        return model.greedy(x, n_new, eos=eos).numpy(), {}
    if prefill is None or decode is None:
        raise ValueError("give both prefill and decode methods, or neither (dense reference)")
    ids, info = model.generate(x, n_new, prefill=prefill, decode=decode, obs_window=obs_window, eos=eos)
    return ids.numpy(), info


def evaluate_task(model: TinyLM, task: Task, n: int = 100, split: str = "test", start: int = 0,
                  batch_size: int = 50, prefill: PrefillMethod | None = None,
                  decode: DecodeMethod | None = None, obs_window: int = 256) -> dict:
    """Scores of samples `start .. start + n - 1` of `split`.

    Returns {"task", "scores": list[float], "mean", "prefill": {...}, "decode": {...}} where the
    phase entries hold the methods' mean nominal/effective sparsity (empty for the reference).
    """
    scores, infos = [], []
    for lo in range(start, start + n, batch_size):
        samples = [task.sample(i, split) for i in range(lo, min(lo + batch_size, start + n))]
        prompts = np.stack([s.prompt for s in samples])
        ids, info = generate_answers(model, prompts, task.max_answer_len(), task.vocab.eos,
                                     prefill, decode, obs_window)
        scores += [task.score(row, s) for row, s in zip(ids, samples)]
        infos.append(info)
    out = {"task": task.key, "scores": scores, "mean": float(np.mean(scores))}
    for phase in ("prefill", "decode"):
        rows = [i[phase] for i in infos if i.get(phase)]
        out[phase] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}
    return out


def evaluate_suite(model: TinyLM, tasks: Sequence[Task], **kw) -> dict[str, dict]:
    """`evaluate_task` for every task; keys are task keys."""
    return {t.key: evaluate_task(model, t, **kw) for t in tasks}
