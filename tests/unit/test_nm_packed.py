"""Packed N:M format and kernels against the masked dense product; dispatcher; packed models."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sparselab.sparsity import make_recipe, nm_dispatch, nm_linear_factory, nm_mask
from sparselab.sparsity.inference import PackedLinear, dense_twin, pack_model
from sparselab.sparsity.packed import (
    decode_indices,
    from_bf16,
    index_bits,
    nm_matmul_reference,
    pack_nm,
    to_bf16,
    unpack_nm,
)
from sparselab.sparsity.packed_kernels import candidates, nm_matmul
from sparselab.sparsity.simd import HAS_AVX2

PATTERNS = [(2, 4), (1, 4), (1, 8), (1, 16), (1, 32), (3, 8), (2, 3), (4, 16), (1, 64)]
# (out, in): out not a multiple of 32 (padding), one block, several blocks (an even and an odd
# count: batch 1 runs blocks in pairs, the odd one alone), odd sizes
SHAPES = [(5, 64), (32, 96), (40, 192), (97, 128), (64, 320), (80, 64)]


def _case(out_f, in_f, n, m, seed=0):
    in_f = in_f // m * m or m
    rng = np.random.default_rng(seed + 7 * out_f + in_f + 100 * m)
    return rng.standard_normal((out_f, in_f)).astype(np.float32), in_f


def _masked(w, n, m):
    return w * nm_mask(torch.from_numpy(w), n, m).numpy()


@pytest.mark.parametrize("n,m", PATTERNS)
@pytest.mark.parametrize("out_f,in_f", SHAPES)
def test_pack_roundtrip_equals_masked_weight(out_f, in_f, n, m):
    w, in_f = _case(out_f, in_f, n, m)
    p = pack_nm(w, n, m)
    assert p.values.dtype == np.float32 and p.indices.dtype == np.uint8
    assert p.values.shape == (-(-out_f // 32), in_f * n // m, 32)
    assert p.bits == index_bits(m) and (decode_indices(p) < m).all()
    assert np.array_equal(unpack_nm(p), _masked(w, n, m))


@pytest.mark.parametrize("n,m", PATTERNS)
@pytest.mark.parametrize("out_f,in_f", SHAPES)
@pytest.mark.parametrize("portable", [False, True])
def test_kernels_equal_reference(out_f, in_f, n, m, portable):
    w, in_f = _case(out_f, in_f, n, m)
    p = pack_nm(w, n, m)
    expected = nm_matmul_reference(np.eye(1, in_f, dtype=np.float32), p)  # warm both paths
    for batch in (1, 2, 3, 8):
        x = np.random.default_rng(batch).standard_normal((batch, in_f)).astype(np.float32)
        expected = x.astype(np.float64) @ _masked(w, n, m).astype(np.float64).T
        got = nm_matmul(x, p, portable=portable)
        assert got.shape == (batch, out_f) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(nm_matmul_reference(x, p), expected, rtol=1e-6, atol=1e-6)


def test_fast_kernel_is_used_where_it_can_run():
    # M <= 32 runs the vector kernel on AVX2 hosts; otherwise the portable one (both tested)
    assert [candidates(m) for m in (2, 4, 8, 16, 32, 64)] == [4, 4, 8, 16, 32, 0]
    assert isinstance(HAS_AVX2, bool)


@pytest.mark.parametrize("threads", [1, 2])
def test_parallel_kernel_equals_serial(threads):
    w, in_f = _case(200, 256, 1, 8)
    p = pack_nm(w, 1, 8)
    for batch in (1, 5):  # batch 1: block pairs inside each thread's (odd-sized) range
        x = np.random.default_rng(3).standard_normal((batch, in_f)).astype(np.float32)
        np.testing.assert_allclose(nm_matmul(x, p, threads=threads), nm_matmul(x, p, threads=1),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(nm_matmul(x, p, threads=threads), nm_matmul_reference(x, p),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n,m", [(2, 4), (1, 8), (1, 32)])
def test_bfloat16_values_within_rounding_error(n, m):
    w, in_f = _case(64, 256, n, m)
    p = pack_nm(w, n, m, dtype="bfloat16")
    assert p.values.dtype == np.uint16 and p.dtype == "bfloat16"
    x = np.random.default_rng(1).standard_normal((3, in_f)).astype(np.float32)
    rounded = unpack_nm(p)
    exact = _masked(w, n, m)
    assert np.abs(rounded - exact).max() <= np.abs(exact).max() * 2.0**-8  # 8-bit mantissa
    np.testing.assert_allclose(nm_matmul(x, p), x @ rounded.T, rtol=1e-4, atol=1e-4)
    assert not np.array_equal(rounded, exact)  # it really is rounded


def test_bf16_round_to_nearest_even():
    vals = np.array([1.0, 1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, -2.5], np.float32)
    assert from_bf16(to_bf16(vals)).tolist() == [1.0, 1.0, 1.0 + 2.0**-6, -2.5]


def test_pack_with_explicit_mask_and_vector_input():
    w = np.arange(1, 17, dtype=np.float32).reshape(2, 8)
    mask = np.zeros((2, 8), dtype=bool)
    mask[:, [0, 5]] = True  # keeps the *smallest* of group 0: any valid mask is honoured
    p = pack_nm(w, 1, 4, mask=mask)
    assert decode_indices(p)[0, :, :2].T.tolist() == [[0, 1], [0, 1]]
    x = np.ones(8, dtype=np.float32)
    assert nm_matmul(x, p).tolist() == [[1 + 6, 9 + 14]]


def test_pack_and_matmul_reject_bad_input():
    with pytest.raises(ValueError, match="m=8 does not divide in_features=12"):
        pack_nm(np.zeros((2, 12), np.float32), 1, 8)
    with pytest.raises(ValueError, match="exactly n=1 of every m=4"):
        pack_nm(np.zeros((1, 4), np.float32), 1, 4, mask=np.ones((1, 4), bool))
    with pytest.raises(ValueError, match="dtype must be"):
        pack_nm(np.zeros((1, 4), np.float32), 1, 4, dtype="float16")
    p = pack_nm(np.ones((2, 8), np.float32), 1, 4)
    with pytest.raises(ValueError, match=r"expected \(B, 8\)"):
        nm_matmul(np.ones((1, 4), np.float32), p)


def test_crossover_from_speedups_is_the_winning_prefix():
    assert nm_dispatch.crossover_from_speedups({1: 1.8, 2: 1.4, 4: 1.1, 8: 0.9, 16: 1.2}) == 4
    assert nm_dispatch.crossover_from_speedups({1: 0.8, 2: 1.5}) == 0
    assert nm_dispatch.crossover_from_speedups({1: 5.0, 64: 3.0}) == 64


def test_calibration_is_saved_per_cpu_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))
    # without the committed calibration (benchmarks/results/), whatever CPU measured it
    monkeypatch.setattr(nm_dispatch, "committed_calibration_path", lambda: tmp_path / "none.json")
    nm_dispatch.clear_caches()
    assert nm_dispatch.crossover(2, 4) == nm_dispatch.default_crossover(4)
    path = nm_dispatch.save_calibration({"2:4/float32/threads=1": {1: 1.5, 2: 1.2, 4: 0.7}},
                                        {"size": 64})
    assert path.parent == tmp_path / "nm_calibration"
    assert json.loads(path.read_text())["crossover"] == {"2:4/float32/threads=1": 2}
    assert nm_dispatch.crossover(2, 4, "float32", 1) == 2
    assert nm_dispatch.crossover(2, 4, "float32", 2) == nm_dispatch.default_crossover(4)
    nm_dispatch.clear_caches()


def test_nm_linear_dispatches_to_dense_above_crossover(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))
    nm_dispatch.save_calibration({"1:8/float32/threads=1": {1: 2.0, 2: 2.0, 4: 0.5}}, {})
    w, in_f = _case(48, 64, 1, 8)
    p, dense = pack_nm(w, 1, 8), torch.from_numpy(_masked(w, 1, 8))
    bias = torch.arange(48, dtype=torch.float32)
    for rows in (1, 2, 3, 9):  # packed, packed, dense, dense
        x = torch.randn(rows, in_f)
        y = nm_dispatch.nm_linear(x, p, dense, bias, threads=1)
        torch.testing.assert_close(y, x @ dense.T + bias, rtol=1e-5, atol=1e-5)
    x3 = torch.randn(2, 3, in_f)  # leading dims flatten to 6 rows
    assert nm_dispatch.nm_linear(x3, p, None, None, threads=1).shape == (2, 3, 48)
    nm_dispatch.clear_caches()


def _nm_model(pattern="2:4"):
    from sparselab.models.lm import LMConfig, build_model

    torch.manual_seed(0)
    cfg = LMConfig(vocab_size=40, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, mlp="swiglu",
                   shift=True)
    return build_model(cfg, nm_linear_factory(make_recipe("sr_ste", pattern))).eval()


@pytest.mark.parametrize("pattern", ["2:4", "1:8"])
def test_packed_model_equals_masked_dense_model(pattern):
    from sparselab.attention import DECODE, PREFILL

    model = _nm_model(pattern)
    tokens = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        masked = model(tokens)  # eval(): W * hard_mask
        twin = dense_twin(model)(tokens)
        packed_model = pack_model(_nm_model(pattern), keep_dense=False)  # every batch packed
        packed = packed_model(tokens)
    assert sum(isinstance(m, PackedLinear) for m in packed_model.modules()) == 2 * 7
    torch.testing.assert_close(twin, masked, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(packed, masked, rtol=1e-4, atol=1e-4)
    ids_packed, _ = packed_model.generate(tokens[:1], 6, PREFILL.get("dense")(), DECODE.get("dense")())
    ids_masked, _ = model.generate(tokens[:1], 6, PREFILL.get("dense")(), DECODE.get("dense")())
    assert torch.equal(ids_packed, ids_masked)


def test_layer_pack_and_bad_model():
    layer = _nm_model().blocks[0].mlp.up
    packed = layer.pack(keep_dense=False)
    assert packed.dense_weight is None and "pattern=2:4" in repr(packed)
    x = torch.randn(3, layer.in_features)
    torch.testing.assert_close(packed(x), layer(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="no NMLinear"):
        pack_model(torch.nn.Sequential(torch.nn.Linear(4, 4)))
