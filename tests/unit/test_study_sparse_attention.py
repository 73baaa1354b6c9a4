"""Study 01: a tiny grid runs on an untrained model, cells are cached, CI and test functions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sparselab.models.lm import build_model
from sparselab.studies import sparse_attention as study
from sparselab.studies.sparse_attention import grid
from sparselab.studies.sparse_attention.stats import max_compression, mean_ci, noninferior, wilson
from sparselab.tasks.suite import build_tasks

FLEX = {1: 1.0, 4: 0.9}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))
    return tmp_path


def _unit(cells, backend="torch"):
    task = build_tasks(["niah_single"], 64, sources=("synthetic",))[0]
    model = build_model("xs", vocab_size=task.vocab.size, d_model=32, n_layers=1, n_heads=2,
                        n_kv_heads=1).eval()
    return grid.evaluate_unit(model, "tiny", {"id": "tiny"}, task, 4, cells, FLEX, backend)


def test_tiny_grid_runs_and_reuses_cached_cells(cache, monkeypatch):
    cells = [grid.Cell("prefill", "dense", 1.0)] + [
        grid.Cell(p, m, c) for p, m in (("prefill", "vertical_slash"), ("prefill", "flexprefill"),
                                        ("decode", "quest"), ("decode", "snapkv")) for c in (1.0, 4.0)]
    rows = _unit(cells)
    assert [(r["phase"], r["method"], r["level"]) for r in rows] == [(c.phase, c.method, c.level) for c in cells]
    assert all(len(r["scores"]) == 4 for r in rows)
    dense = rows[0]["scores"]
    assert all(r["scores"] == dense for r in rows if r["level"] == 1.0)  # level 1 is dense
    sparse = [r for r in rows if r["level"] == 4.0]
    assert all(r["prefill_effective"] > 0 for r in sparse if r["method"] == "vertical_slash")
    assert all(r["decode_effective"] > 0 for r in sparse if r["phase"] == "decode")
    n_dirs = len(list((cache / "sparse_attention").iterdir()))
    assert n_dirs == 1 + 4  # dense + one per sparse cell; level-1 cells are not stored

    def boom(*a, **k):
        raise AssertionError("a cached cell was recomputed")

    monkeypatch.setattr(grid, "build_method", boom)
    assert _unit(cells) == rows


def test_kernel_backend_matches_torch(tmp_path, monkeypatch):
    from sparselab.attention import kernel

    calls = []
    real = kernel.block_sparse_attention
    monkeypatch.setattr(kernel, "block_sparse_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
    cells = [grid.Cell("prefill", "dense", 1.0), grid.Cell("prefill", "block_sparse", 4.0),
             grid.Cell("prefill", "vertical_slash", 4.0)]
    rows = {}
    for backend in ("torch", "kernel"):  # a cache each: the backend is not in the cell's key
        monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / backend))
        torch.manual_seed(0)  # the same untrained weights for both
        rows[backend] = _unit(cells, backend)
        assert len(calls) == (0 if backend == "torch" else 2)  # one layer, two sparse cells
    assert rows["torch"] == rows["kernel"]


def test_decode_after_prefill_equals_generate():
    from sparselab.attention import DECODE, PREFILL

    task = build_tasks(["mqar"], 64, sources=("synthetic",))[0]
    model = build_model("xs", vocab_size=task.vocab.size, n_layers=1).eval()
    x = __import__("torch").from_numpy(np.stack([task.sample(i, "test").prompt for i in range(3)]))
    ref, _ = model.generate(x, 5, prefill=PREFILL.get("dense")(), decode=DECODE.get("quest")(compression=4))
    pre = model.prefill(x, PREFILL.get("dense")(), obs_window=64)
    ids, stats = grid.decode_after_prefill(model, pre, 64, 5, DECODE.get("quest")(compression=4))
    assert (ids == ref).all() and stats["effective_sparsity"] > 0


def test_wilson_hand_example():
    lo, hi = wilson(8, 10)  # textbook: 0.8 with n = 10 -> [0.490, 0.943]
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert mean_ci([1, 1, 0, 0])[0] == 0.5
    m, lo, hi = mean_ci([0.5, 0.25, 0.75, 1.0])  # non-binary: bootstrap
    assert m == 0.625 and lo < m < hi


def test_noninferiority_and_max_compression_synthetic():
    rng = np.random.default_rng(0)
    dense = (rng.random(400) < 0.8).astype(float)
    keep = dense.copy()
    small = dense.copy()
    small[np.flatnonzero(dense)[:8]] = 0  # loses 2 points
    big = dense.copy()
    big[np.flatnonzero(dense)[:80]] = 0  # loses 20 points
    assert noninferior(dense, keep)[1] < 0.05
    assert noninferior(dense, small)[1] < 0.05
    assert noninferior(dense, big)[1] > 0.5
    cells = pd.DataFrame({"model": "m", "phase": "decode", "method": "x", "level": [1.0, 2.0, 4.0, 8.0],
                          "scores": [dense, keep, small, big]})
    out = max_compression(cells, margin=0.05, alpha=0.05)
    assert set(out.max_level) == {4.0}
    assert list(out.noninferior) == [True, True, False]
    with pytest.raises(ValueError, match="level-1"):
        max_compression(cells[cells.level > 1], 0.05, 0.05)


def test_config_rejects_unknown_parameter_and_missing_model_entry():
    with pytest.raises(ValueError, match="unknown parameter"):
        study.Config.from_overrides(n_sample=3)
    cfg = study.Config.from_overrides(models=["xs", "m"])
    with pytest.raises(ValueError, match="train_steps needs an entry for model 'm'"):
        study.recipe_for(cfg, "m")
