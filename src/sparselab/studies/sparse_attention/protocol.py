"""How one prompt batch is run in each phase, with per-sample attended density (issue 14).

Two decode protocols:

* "answer" (the study's original protocol, `grid.score`): dense prefill of the whole prompt;
  the first answer token comes from that dense prefill, the rest from the decode method;
* "question" (decode on equal footing): dense prefill of the context only; the question and
  `<a>` are then decoded token by token with the method (teacher-forced), and every answer token
  is produced by it, so prefill and decode are compared on the same footing.

The prefill phase is the same in both: the method runs the whole prompt's prefill (its first
answer token comes from those logits), the rest of the answer is decoded densely.

`run_prefill` / `run_decode` return the answer ids, the mean nominal / effective sparsity and
the attended density per sample (mean over layers, and decode steps), which the calibration
turns into achieved compression.
"""
from __future__ import annotations

import numpy as np
import torch

from ...attention import DECODE, PREFILL
from ...attention.base import DecodeMethod, PrefillMethod

PROTOCOLS = ("answer", "question")


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"decode_protocol must be one of {PROTOCOLS}, got {protocol!r}")
    return protocol


class _RecordPrefill(PrefillMethod):
    """Pass-through prefill method that keeps each call's attended density per batch row."""

    def __init__(self, inner: PrefillMethod):
        self.inner, self.rows = inner, []
        self.key = inner.key

    def prefill(self, q, k, v):
        res = self.inner.prefill(q, k, v)
        rows = res.extra.get("density_per_row")
        self.rows.append(np.full(q.shape[0], 1.0 - res.effective_sparsity) if rows is None
                         else np.asarray(rows, float))
        return res


class _RecordDecode(DecodeMethod):
    """Pass-through decode method that keeps each step's attended density per batch row."""

    def __init__(self, inner: DecodeMethod):
        self.inner, self.rows = inner, []
        self.key = inner.key

    def compress(self, k, v, q_obs):
        return self.inner.compress(k, v, q_obs)

    def append(self, state, k_new, v_new):
        return self.inner.append(state, k_new, v_new)

    def decode(self, q, state):
        res = self.inner.decode(q, state)
        rows = res.extra.get("density_per_row")
        self.rows.append(np.full(q.shape[0], 1.0 - res.effective_sparsity) if rows is None
                         else np.asarray(rows, float))
        return res


def _summary(rows: list[np.ndarray], nominal: list[float], n: int) -> dict:
    density = np.mean(rows, axis=0) if rows else np.ones(n)
    return {"nominal_sparsity": float(np.mean(nominal)) if nominal else 0.0,
            "effective_sparsity": float(1.0 - density.mean()), "density_per_sample": density}


def question_len(samples) -> int:
    """Tokens at the end of every prompt that hold a question (+ `<a>`): the batch's longest."""
    return max(int(s.meta["question_len"]) for s in samples)


@torch.no_grad()
def run_prefill(model, x: torch.Tensor, method: PrefillMethod, n_new: int) -> tuple[torch.Tensor, dict]:
    """The prefill phase: `method` prefills x (B, T), dense decoding of the rest of the answer."""
    rec = _RecordPrefill(method)
    ids, info = model.generate(x, n_new, prefill=rec, decode=DECODE.get("dense")(), eos=None)
    stats = _summary(rec.rows, [info["prefill"].get("nominal_sparsity", 0.0)], x.shape[0])
    return ids, stats


@torch.no_grad()
def run_decode(model, x: torch.Tensor, method: DecodeMethod, n_new: int, protocol: str,
               q_len: int) -> tuple[torch.Tensor, dict]:
    """The decode phase under `protocol` for prompts x (B, T); `q_len`: question tokens
    (with `<a>`) decoded by the method under "question" (see the module docstring)."""
    check_protocol(protocol)
    length = x.shape[1]
    rec = _RecordDecode(method)
    if protocol == "answer":
        pre = model.prefill(x, PREFILL.get("dense")(), obs_window=length)
        ids, steps = model.continue_decoding(pre, length, n_new, rec, eos=None)
    else:
        if not 1 <= q_len < length:
            raise ValueError(f"q_len must be in [1, {length}), got {q_len}")
        ctx = length - q_len
        pre = model.prefill(x[:, :ctx], PREFILL.get("dense")(), obs_window=ctx)
        ids, steps = model.continue_forced(pre, ctx, x[:, ctx:], n_new, rec)
    return ids, _summary(rec.rows, [s["nominal_sparsity"] for s in steps], x.shape[0])
