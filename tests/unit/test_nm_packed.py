"""Packed N:M weights and the numba matmul against the masked dense product."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselab.sparsity import nm_mask
from sparselab.sparsity.packed import nm_matmul, nm_matmul_reference, pack_nm, unpack_nm

SHAPES = [(8, 16, 2, 4), (5, 32, 1, 8), (7, 64, 1, 16), (3, 96, 1, 32), (6, 48, 3, 8),
          (4, 24, 1, 4)]


@pytest.mark.parametrize("out_f,in_f,n,m", SHAPES)
def test_pack_roundtrip_equals_masked_weight(out_f, in_f, n, m):
    w = torch.randn(out_f, in_f, generator=torch.Generator().manual_seed(out_f))
    p = pack_nm(w, n, m)
    assert p.values.dtype == np.float32 and p.indices.dtype == np.uint8
    assert p.values.shape == p.indices.shape == (out_f, in_f * n // m)
    assert (p.indices < m).all()
    assert np.array_equal(unpack_nm(p), (w * nm_mask(w, n, m)).numpy())
    assert p.nbytes == out_f * in_f * n // m * 5


@pytest.mark.parametrize("out_f,in_f,n,m", SHAPES)
@pytest.mark.parametrize("batch", [1, 8, 64])
def test_nm_matmul_equals_masked_dense_product(out_f, in_f, n, m, batch):
    rng = np.random.default_rng(batch * 100 + in_f)
    w = rng.standard_normal((out_f, in_f)).astype(np.float32)
    x = rng.standard_normal((batch, in_f)).astype(np.float32)
    p = pack_nm(w, n, m)
    masked = w * nm_mask(torch.from_numpy(w), n, m).numpy()
    expected = x.astype(np.float64) @ masked.astype(np.float64).T
    got = nm_matmul(x, p)
    assert got.shape == (batch, out_f) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(nm_matmul_reference(x, p), expected, rtol=1e-6, atol=1e-6)


def test_pack_with_explicit_mask_and_vector_input():
    w = np.arange(1, 17, dtype=np.float32).reshape(2, 8)
    mask = np.zeros((2, 8), dtype=bool)
    mask[:, [0, 5]] = True  # keeps the *smallest* of group 0: any valid mask is honoured
    p = pack_nm(w, 1, 4, mask=mask)
    assert p.indices.tolist() == [[0, 1], [0, 1]]
    x = np.ones(8, dtype=np.float32)
    assert nm_matmul(x, p).tolist() == [[1 + 6, 9 + 14]]


def test_pack_and_matmul_reject_bad_input():
    with pytest.raises(ValueError, match="m=8 does not divide in_features=12"):
        pack_nm(np.zeros((2, 12), np.float32), 1, 8)
    with pytest.raises(ValueError, match="exactly n=1 of every m=4"):
        pack_nm(np.zeros((1, 4), np.float32), 1, 4, mask=np.ones((1, 4), bool))
    p = pack_nm(np.ones((2, 8), np.float32), 1, 4)
    with pytest.raises(ValueError, match=r"expected \(B, 8\)"):
        nm_matmul(np.ones((1, 4), np.float32), p)
