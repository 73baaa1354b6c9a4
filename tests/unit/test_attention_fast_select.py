"""The batched (numba) selection and layout paths against the per-head Python references:
same selected blocks / columns / diagonals, same counts, same outputs, on several shapes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselab.attention import PREFILL
from sparselab.attention.estimate import diagonal_scores, last_query_attention, line_scores
from sparselab.attention.flexprefill import select_lines
from sparselab.attention.kernel import block_sparse_attention_reference
from sparselab.attention.layout import (
    SparseLayout,
    dense_layout,
    layout_from_lines,
    layout_from_lines_reference,
)
from sparselab.attention.line_select import flex_lines_batch, top_lines_batch
from sparselab.attention.vertical_slash import lines_coverage, top_lines_for_budget

# (B, H, Hkv, L, D): MHA and GQA, head dims 16 / 32 / 64, ragged last blocks
SHAPES = [(1, 4, 4, 256, 16), (2, 4, 2, 200, 32), (1, 8, 2, 320, 64), (1, 2, 1, 97, 32)]
VS = {"window": 32, "local": 16, "block": 16}
FLEX = {"window": 64, "min_budget": 16, "local": 16, "block": 16}


def qkv(b, h, hkv, t, d, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(b, h, t, d, generator=g), scale * torch.randn(b, hkv, t, d, generator=g),
            torch.randn(b, hkv, t, d, generator=g))


def assert_same_layout(a: SparseLayout, b: SparseLayout):
    assert (a.block_q, a.block_k, a.n_queries, a.n_keys) == (b.block_q, b.block_k, b.n_queries, b.n_keys)
    for name in ("blocks", "block_counts", "columns", "column_counts"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype == np.int32, name
        assert np.array_equal(x, y), name


def method(key, c, shape_len):
    if key == "flexprefill":
        return PREFILL.get(key)(alpha=c, **FLEX)
    return PREFILL.get(key)(compression=c, **(VS if key == "vertical_slash" else {"block": 16}))


# ---------------------------------------------------------------- attended pairs
def random_layout(rng, b, h, t, s, bq, bk):
    """Blocks and columns in the layout contract (ascending, disjoint), some beyond causal."""
    nq, nk = -(-t // bq), -(-s // bk)
    kb = np.full((b, h, nq, nk), -1, dtype=np.int32)
    kc = np.zeros((b, h, nq), dtype=np.int32)
    cols = np.full((b, h, nq, 6), -1, dtype=np.int32)
    cc = np.zeros((b, h, nq), dtype=np.int32)
    for idx in np.ndindex(b, h, nq):
        chosen = np.sort(rng.choice(nk, rng.integers(0, nk + 1), replace=False))
        kb[idx][: len(chosen)], kc[idx] = chosen, len(chosen)
        free = [c for c in range(s) if c // bk not in set(chosen)]
        pick = np.sort(rng.choice(free, min(len(free), rng.integers(0, 7)), replace=False))
        cols[idx][: len(pick)], cc[idx] = pick, len(pick)
    return SparseLayout(bq, bk, t, s, kb, kc, cols, cc)


@pytest.mark.parametrize("t,s,bq,bk", [(50, 50, 8, 8), (40, 64, 16, 8), (33, 33, 4, 16), (7, 30, 8, 8)])
def test_attended_pairs_matches_token_mask(t, s, bq, bk):
    rng = np.random.default_rng(t + s)
    for _ in range(5):
        lay = random_layout(rng, 2, 3, t, s, bq, bk)
        np.testing.assert_array_equal(lay.attended_pairs(), lay.attended_pairs_reference())
    lay = dense_layout(1, 2, t, bq) if t == s else random_layout(rng, 1, 1, t, s, bq, bk)
    np.testing.assert_array_equal(lay.attended_pairs(), lay.attended_pairs_reference())


# ---------------------------------------------------------------- layout from lines
@pytest.mark.parametrize("length,bq,bk", [(90, 16, 8), (64, 16, 16), (129, 32, 16), (5, 8, 8)])
def test_layout_from_lines_matches_reference(length, bq, bk):
    rng = np.random.default_rng(length)
    for trial in range(4):
        g = 6
        cols = [rng.integers(0, length, rng.integers(0, 20)) for _ in range(g)]  # unsorted, dups
        diags = [np.r_[0, rng.integers(0, length, rng.integers(0, 8 * trial + 1))] for _ in range(g)]
        fast = layout_from_lines(cols, diags, 2, 3, length, bq, bk)
        assert_same_layout(fast, layout_from_lines_reference(cols, diags, 2, 3, length, bq, bk))
        np.testing.assert_array_equal(fast.attended_pairs(), fast.attended_pairs_reference())


# ---------------------------------------------------------------- line ranking with ties
def test_top_lines_batch_matches_per_head_reference_with_ties():
    rng = np.random.default_rng(3)
    length = 120
    cs = rng.integers(0, 4, (5, length)).astype(np.float64)  # many exact ties
    ds = rng.integers(0, 4, (5, length)).astype(np.float64)
    ds[4] = 0.0  # one head with all diagonal scores tied
    for budget in (200, 1500, 4000, 7260):
        cols, diags, nc, nd, cov = top_lines_batch(cs, ds, length, 4, 8, budget)
        for g in range(5):
            c, d, ref_cov = top_lines_for_budget(cs[g], ds[g], length, 4, 8, budget)
            assert np.array_equal(cols[g, : nc[g]], np.sort(c))
            assert np.array_equal(diags[g, : nd[g]], np.sort(d))
            assert cov[g] == ref_cov == lines_coverage(c, d, length)


def test_flex_lines_batch_matches_per_head_reference_with_ties():
    rng = np.random.default_rng(4)
    length = 100
    v = rng.integers(0, 3, (4, length)).astype(np.float64)
    s = rng.random((4, length))
    for alpha in (0.1, 0.5, 0.9, 1.0):
        for min_budget in (0, 5, 50):
            cols, diags, nc, nd, cov = flex_lines_batch(v, s, 4, 8, alpha, min_budget)
            for g in range(4):
                c, d = select_lines(v[g], 4, alpha, min_budget), select_lines(s[g], 8, alpha, min_budget)
                assert np.array_equal(cols[g, : nc[g]], c) and np.array_equal(diags[g, : nd[g]], d)
                assert cov[g] == lines_coverage(c, d, length)


# ---------------------------------------------------------------- methods: select and prefill
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("key,levels", [("vertical_slash", (1.5, 4, 8)), ("block_sparse", (1.5, 4, 8)),
                                        ("flexprefill", (0.3, 0.9))])
def test_fast_select_matches_reference(shape, key, levels):
    for level in levels:
        for seed, scale in ((0, 1.0), (1, 0.0)):  # random scores; all-equal scores (every tie)
            q, k, _ = qkv(*shape, seed=seed + int(level * 10), scale=scale)
            m = method(key, level, shape[3])
            fast, fast_nominal = m.select(q, k)
            ref, ref_nominal = m.select_reference(q, k)
            assert_same_layout(fast, ref)
            np.testing.assert_array_equal(fast_nominal, ref_nominal)
            np.testing.assert_array_equal(fast.attended_pairs(), ref.attended_pairs_reference())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("key", ["vertical_slash", "block_sparse", "flexprefill"])
def test_kernel_prefill_matches_masked_reference(shape, key):
    q, k, v = qkv(*shape, seed=7)
    level = 0.5 if key == "flexprefill" else 4
    kw = dict(FLEX, alpha=level) if key == "flexprefill" else \
        dict(VS if key == "vertical_slash" else {"block": 16}, compression=level)
    fast = PREFILL.get(key)(backend="kernel", **kw).prefill(q, k, v)
    slow = PREFILL.get(key)(backend="torch", **kw).prefill(q, k, v)
    ref_layout, _ = PREFILL.get(key)(**kw).select_reference(q, k)
    ref = block_sparse_attention_reference(q.numpy(), k.numpy(), v.numpy(), ref_layout)
    np.testing.assert_allclose(fast.out.numpy(), ref, atol=2e-5, rtol=2e-5)
    np.testing.assert_allclose(slow.out.numpy(), ref, atol=2e-5, rtol=2e-5)
    assert fast.nominal_sparsity == slow.nominal_sparsity
    assert fast.effective_sparsity == slow.effective_sparsity
    total = shape[3] * (shape[3] + 1) / 2
    assert fast.effective_sparsity == pytest.approx(1 - ref_layout.attended_pairs_reference().mean() / total)


@pytest.mark.parametrize("shape,window", [((1, 4, 4, 256, 16), 32), ((2, 4, 2, 200, 32), 64),
                                          ((1, 8, 2, 96, 64), 128)])  # window > T: all queries
def test_fused_line_scores_match_materialised_weights(shape, window):
    q, k, _ = qkv(*shape, seed=11, scale=2.0)  # peaked rows: exp's range reduction matters
    col, diag = line_scores(q, k, window)
    w = last_query_attention(q, k, window)
    np.testing.assert_allclose(col, w.sum(-2).double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(diag, diagonal_scores(w).double().numpy(), rtol=1e-5, atol=1e-6)
