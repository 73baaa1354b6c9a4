"""CPU block-sparse kernel against the fp64 reference on several shapes and layouts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselab.attention import PREFILL
from sparselab.attention.kernel import block_sparse_attention, block_sparse_attention_reference
from sparselab.attention.layout import SparseLayout, dense_layout, layout_from_lines

TOL = {"atol": 2e-5, "rtol": 2e-5}


def arrays(b, h, hkv, t, s, d, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, h, t, d), dtype=np.float32),
            rng.standard_normal((b, hkv, s, d), dtype=np.float32),
            rng.standard_normal((b, hkv, s, d), dtype=np.float32))


def random_lines_layout(b, h, length, bq, bk, seed):
    rng = np.random.default_rng(seed)
    cols = [rng.choice(length, rng.integers(1, 12), replace=False) for _ in range(b * h)]
    diags = [np.r_[0, rng.choice(length, rng.integers(0, 4), replace=False)] for _ in range(b * h)]
    return layout_from_lines(cols, diags, b, h, length, bq, bk)


@pytest.mark.parametrize("blas_backend", ["mkl", "openblas"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 64, 16, 16), (2, 4, 2, 100, 32, 8),
                                   (1, 6, 3, 77, 16, 32), (1, 2, 2, 5, 4, 16)])
def test_dense_layout_matches_reference(shape, blas_backend):
    b, h, hkv, t, block, d = shape  # ragged last block in most shapes
    q, k, v = arrays(b, h, hkv, t, t, d)
    lay = dense_layout(b, h, t, block)
    out = block_sparse_attention(q, k, v, lay, chunk=2 * block, blas_backend=blas_backend,
                                 inplace_min=block)
    np.testing.assert_allclose(out, block_sparse_attention_reference(q, k, v, lay), **TOL)


@pytest.mark.parametrize("inplace_min", [8, 10_000])  # runs used in place / always copied
@pytest.mark.parametrize("chunk", [8, 16, 64, 1024])  # flushes between columns, gathers, runs
@pytest.mark.parametrize("bq,bk", [(16, 8), (8, 8), (32, 16)])
def test_lines_layout_with_columns_matches_reference(bq, bk, chunk, inplace_min):
    b, h, hkv, t, d = 2, 4, 2, 90, 16
    q, k, v = arrays(b, h, hkv, t, t, d, seed=bq + bk)
    lay = random_lines_layout(b, h, t, bq, bk, seed=chunk)
    assert lay.column_counts.sum() > 0
    out = block_sparse_attention(q, k, v, lay, chunk=chunk, inplace_min=inplace_min)
    np.testing.assert_allclose(out, block_sparse_attention_reference(q, k, v, lay), **TOL)


def test_fewer_queries_than_keys_and_rows_without_keys():
    b, h, t, s, d, blk = 1, 2, 20, 48, 8, 8
    q, k, v = arrays(b, h, h, t, s, d)
    nq = -(-t // blk)
    blocks = np.full((b, h, nq, 3), -1, dtype=np.int32)
    counts = np.zeros((b, h, nq), dtype=np.int32)
    blocks[0, 0, :, :2] = [[0, 3], [4, 5], [5, -1]][0:nq]  # mixes full, diagonal, above-causal
    counts[0, 0] = [2, 2, 1]
    blocks[0, 1, 1, 0], counts[0, 1, 1] = 5, 1  # head 1: only block 1 attends anything
    cols = np.full((b, h, nq, 1), -1, dtype=np.int32)
    cols[0, 1, 2, 0] = 47  # visible to the last query (position 47) only
    lay = SparseLayout(blk, blk, t, s, blocks, counts, cols, (cols >= 0).sum(-1).astype(np.int32))
    out = block_sparse_attention(q, k, v, lay, chunk=8)
    ref = block_sparse_attention_reference(q, k, v, lay)
    np.testing.assert_allclose(out, ref, **TOL)
    # head 1: block 0 lists nothing, rows 8-11 (positions 36-39) precede key block 5 (40-47),
    # rows 16-18 precede column 47: all of them attend nothing and are exactly 0
    assert np.all(out[0, 1, :12] == 0) and np.all(out[0, 1, 16:19] == 0)
    assert np.all(out[0, 1, 12:16] != 0) and np.all(out[0, 1, 19] != 0)


@pytest.mark.parametrize("key,kw", [
    ("vertical_slash", {"compression": 3, "window": 32, "local": 8, "block": 16}),
    ("block_sparse", {"compression": 3, "block": 16}),
    ("sliding_window", {"compression": 3, "block": 16}),
    ("flexprefill", {"alpha": 0.3, "window": 32, "min_budget": 4, "local": 8, "block": 16}),
])
def test_methods_kernel_backend_equals_reference_backend(key, kw):
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(2, 4, 120, 16, generator=g), torch.randn(2, 2, 120, 16, generator=g), \
        torch.randn(2, 2, 120, 16, generator=g)
    fast = PREFILL.get(key)(backend="kernel", **kw).prefill(q, k, v)
    slow = PREFILL.get(key)(backend="reference", **kw).prefill(q, k, v)
    torch.testing.assert_close(fast.out, slow.out, **TOL)
    assert fast.effective_sparsity == slow.effective_sparsity > 0


def test_random_benchmark_layout_density_and_structure():
    from sparselab.attention.bench import layout_density, random_block_layout

    lay = random_block_layout(2, 3, 256, 0.3, block=16, seed=1)
    mask = lay.to_mask()
    assert layout_density(lay) == pytest.approx(mask.sum().item() / (6 * 256 * 257 / 2))
    assert layout_density(lay) == pytest.approx(0.3, abs=0.02)
    for n in range(16):  # the diagonal block is always there, nothing above it
        assert np.all(lay.blocks[..., n, :][lay.blocks[..., n, :] >= 0] <= n)
        assert np.all((lay.blocks[..., n, :] == n).any(-1))


def test_layout_shape_mismatch_raises():
    q, k, v = arrays(1, 2, 2, 32, 32, 8)
    with pytest.raises(ValueError, match="layout"):
        block_sparse_attention(q, k, v, dense_layout(1, 2, 16, 8))
    with pytest.raises(ValueError, match="blas"):
        block_sparse_attention(q, k, v, dense_layout(1, 2, 32, 8), blas_backend="atlas")
