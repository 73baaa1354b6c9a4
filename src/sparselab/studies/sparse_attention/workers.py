"""What a sweep worker needs to score study 01's cells: the exact weights and the cell function.

The driver publishes the weights it scores with (after the artifact round trip, e.g. fp16) as
`<cache>/cells/sparse_attention_weights/<model>-<sha>.pt`, named by the sha256 of the tensors,
and every grid cell names that sha. A worker loads exactly those weights, never a retrained or
differently stored copy, so a cell's key says which weights produced it. Workers on other
machines need the cache folder on a shared file system.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
from pathlib import Path

import torch

from ...cache import atomic_write_bytes
from ...models.lm import LMConfig, TinyLM
from ...paths import cache_dir

WEIGHTS_STAGE = "sparse_attention_weights"


def weights_sha(model: TinyLM) -> str:
    """16-hex sha256 over every tensor's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        flat = t.detach().cpu().reshape(-1).contiguous()  # (numel,)
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return h.hexdigest()[:16]


def _path(name: str, sha: str) -> Path:
    return cache_dir() / "cells" / WEIGHTS_STAGE / f"{name}-{sha}.pt"


def publish_weights(name: str, model: TinyLM) -> str:
    """Write `model`'s weights for the workers (once per content); returns their sha."""
    from dataclasses import asdict

    sha = weights_sha(model)
    path = _path(name, sha)
    if not path.exists():
        buf = io.BytesIO()
        torch.save({"state": model.state_dict(), "model_cfg": json.dumps(asdict(model.cfg))}, buf)
        atomic_write_bytes(path, buf.getvalue())
    return sha


@functools.lru_cache(maxsize=8)  # a worker scores many cells of one model: load it once
def load_weights(name: str, sha: str) -> TinyLM:
    """The model `publish_weights` wrote; a missing or altered file raises naming it."""
    path = _path(name, sha)
    if not path.exists():
        raise FileNotFoundError(f"no published weights at {path} (the study publishes them "
                                f"before its grid; is the cache folder shared with this worker?)")
    ck = torch.load(path, map_location="cpu", weights_only=True)
    model = TinyLM(LMConfig(**json.loads(ck["model_cfg"])))
    model.load_state_dict(ck["state"])
    model.eval()
    if weights_sha(model) != sha:
        raise ValueError(f"{path}: weights do not match their sha {sha} (file altered?)")
    return model


@functools.lru_cache(maxsize=64)
def _task(key: str, length: int):
    from ...tasks.suite import build_tasks

    return build_tasks([key], int(length))[0]


def score_cell(cell: dict) -> dict:
    """Sweep cell function (runs in any worker): the cell's model and task, then `grid.score`."""
    from .grid import score

    return score(load_weights(cell["model"], cell["weights"]), _task(cell["task"], cell["length"]),
                 cell)


def calibrate_cell(cell: dict) -> dict:
    """Sweep cell function: calibrate one (model, length, phase, method) over its targets
    (`calibrate.calibrate` on the first `n` test prompts of every task at that length)."""
    from .calibrate import calibrate

    tasks = [_task(t, cell["length"]) for t in cell["tasks"]]
    samples = [t.sample(i, "test") for t in tasks for i in range(int(cell["n"]))]
    n_new = {t.key: t.max_answer_len() for t in tasks}  # each task decodes as its cells do
    recs = calibrate(load_weights(cell["model"], cell["weights"]), samples, cell["phase"],
                     cell["method"], cell["targets"], n_new, cell["protocol"], cell["backend"])
    return {"records": recs}
