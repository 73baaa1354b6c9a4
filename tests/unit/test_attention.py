"""Sparse attention methods: dense equality at full budget, zero weight on masked keys,
selection rules against brute-force re-implementations, analytic costs, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sparselab.attention import DECODE, PREFILL
from sparselab.attention.block_sparse import top_k_for_compression
from sparselab.attention.execute import run_layout
from sparselab.attention.flexprefill import cover_count
from sparselab.attention.layout import dense_layout, layout_from_lines
from sparselab.attention.quest import page_bounds, page_scores
from sparselab.attention.reference import (
    causal_mask,
    dense_causal_attention,
    masked_attention,
    masked_attention_weights,
)
from sparselab.attention.vertical_slash import lines_coverage, top_lines_for_budget

SMALL = {"window": 32, "local": 8, "block": 16}  # scaled-down windows for 64-128 token tests
PREFILL_CASES = {
    "vertical_slash": SMALL,
    "block_sparse": {"block": 16},
    "sliding_window": {"block": 16},
    "oracle_topk": {},
}
DECODE_CASES = {
    "quest": {},
    "snapkv": {"window": 16, "recent": 8, "pool": 5},
    "ada_snapkv": {"window": 16, "recent": 8, "pool": 5},
    "sliding_window": {},
    "oracle_topk": {},
}


def qkv(b=2, h=4, hkv=2, t=64, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, h, t, d, generator=g), torch.randn(b, hkv, t, d, generator=g),
            torch.randn(b, hkv, t, d, generator=g))


# ---------------------------------------------------------------- reference
def test_reference_zero_weight_on_masked_and_rows_sum_to_one():
    q, k, _ = qkv()
    mask = torch.rand(2, 4, 64, 64, generator=torch.Generator().manual_seed(1)) < 0.3
    mask |= torch.eye(64, dtype=torch.bool)  # every row keeps at least one key
    w = masked_attention_weights(q, k, mask)
    assert torch.all(w[~mask] == 0)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 64, dtype=torch.float64))


def test_reference_dense_matches_sdpa_and_all_masked_row_is_zero():
    q, k, v = qkv()
    sdpa = PREFILL.get("dense")().prefill(q, k, v).out
    torch.testing.assert_close(dense_causal_attention(q, k, v).float(), sdpa, atol=1e-5, rtol=1e-5)
    mask = causal_mask(64, 64).clone()
    mask[5] = False
    assert torch.all(masked_attention(q, k, v, mask)[:, :, 5] == 0)


def test_dense_prefill_with_fewer_queries_than_keys_aligns_to_last_key():
    q, k, v = qkv(t=64)
    out = PREFILL.get("dense")().prefill(q[:, :, -10:], k, v).out
    torch.testing.assert_close(out, dense_causal_attention(q, k, v)[:, :, -10:].float(),
                               atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- full budget == dense
@pytest.mark.parametrize("key", sorted(PREFILL_CASES) + ["flexprefill"])
def test_prefill_full_budget_is_dense(key):
    q, k, v = qkv()
    kw = dict(alpha=1.0, **SMALL) if key == "flexprefill" else dict(compression=1, **PREFILL_CASES[key])
    out = PREFILL.get(key)(**kw).prefill(q, k, v)
    torch.testing.assert_close(out.out, PREFILL.get("dense")().prefill(q, k, v).out, atol=0, rtol=0)
    assert out.nominal_sparsity == 0.0 and out.effective_sparsity == 0.0


@pytest.mark.parametrize("key", ["vertical_slash", "block_sparse", "sliding_window"])
def test_layout_selection_at_full_budget_covers_causal(key):
    q, k, _ = qkv(t=80)  # ragged last block
    method = PREFILL.get(key)(compression=1, **PREFILL_CASES[key])
    layout, _ = method.select(q, k)
    assert torch.equal(layout.to_mask(), causal_mask(80, 80).expand(2, 4, 80, 80))


@pytest.mark.parametrize("key", sorted(DECODE_CASES))
def test_decode_full_budget_is_dense(key):
    q, k, v = qkv(t=70)
    dense, method = DECODE.get("dense")(), DECODE.get(key)(compression=1, **DECODE_CASES[key])
    sd, sm = dense.compress(k, v, q[:, :, -16:]), method.compress(k, v, q[:, :, -16:])
    for step in range(3):
        kn, vn, qn = qkv(t=1, seed=10 + step)
        sd, sm = dense.append(sd, kn[:, :2], vn[:, :2]), method.append(sm, kn[:, :2], vn[:, :2])
        a, b = dense.decode(qn, sd), method.decode(qn, sm)
        torch.testing.assert_close(b.out, a.out, atol=1e-6, rtol=1e-6)
        assert b.effective_sparsity == 0.0


# ---------------------------------------------------------------- masked keys get zero weight
@pytest.mark.parametrize("key", sorted(PREFILL_CASES) + ["flexprefill"])
def test_prefill_output_ignores_values_outside_its_support(key):
    q, k, v = qkv(t=96, seed=3)
    kw = dict(alpha=0.2, min_budget=4, **SMALL) if key == "flexprefill" else \
        dict(compression=4, **PREFILL_CASES[key])
    method = PREFILL.get(key)(**kw)
    mask = method.mask(q, k) if key == "oracle_topk" else method.select(q, k)[0].to_mask()
    out = method.prefill(q, k, v)
    assert 0 < out.effective_sparsity < 1
    ref = masked_attention(q, k, v, mask).float()
    torch.testing.assert_close(out.out, ref, atol=1e-5, rtol=1e-5)
    # a key's value may only reach the rows that attend it: perturb a few keys, compare the rest
    for j in (30, 45, 60):
        v2 = v.clone()
        v2[:, :, j] += 100.0
        blind = ~mask[..., j]  # (B, H, T) rows that skip key j
        assert blind[:, :, j:].any()
        assert torch.equal(method.prefill(q, k, v2).out[blind], out.out[blind])


# ---------------------------------------------------------------- vertical-slash selection
def brute_line_scores(q, k, window):
    b, h, t, _d = q.shape
    w = masked_attention_weights(q, k, causal_mask(t, t))[:, :, -window:]  # (B, H, w, S)
    col = w.sum(2)
    diag = torch.zeros(b, h, t, dtype=torch.float64)
    for i in range(window):
        p = t - window + i
        for j in range(p + 1):
            diag[:, :, p - j] += w[:, :, i, j]
    return col, diag


def test_vertical_slash_scores_match_brute_force():
    q, k, _ = qkv(t=48)
    col, diag = PREFILL.get("vertical_slash")(compression=2, window=16).scores(q, k)
    bcol, bdiag = brute_line_scores(q, k, 16)
    np.testing.assert_allclose(col, bcol.numpy(), atol=1e-5)
    np.testing.assert_allclose(diag, bdiag.numpy(), atol=1e-5)


def test_lines_coverage_and_budget_search_match_brute_force():
    rng = np.random.default_rng(0)
    length = 40
    causal = np.tril(np.ones((length, length), dtype=bool))
    for _ in range(20):
        cols = rng.choice(length, rng.integers(0, 10), replace=False)
        diags = rng.choice(length, rng.integers(1, 10), replace=False)
        m = np.zeros((length, length), dtype=bool)
        m[:, cols] = True
        for o in diags:
            m |= np.eye(length, k=-o, dtype=bool)
        assert lines_coverage(cols, diags, length) == (m & causal).sum()
    cs, ds = rng.random(length), rng.random(length)
    budget = 300
    c, d, cov = top_lines_for_budget(cs, ds, length, 2, 3, budget)
    rank_c, rank_d = np.argsort(-cs[2:]) + 2, np.argsort(-ds[3:]) + 3
    for n in range(length):  # brute force: smallest n whose coverage reaches the budget
        bc = np.r_[0, 1, rank_c[:n]]
        bd = np.r_[0, 1, 2, rank_d[:n]]
        if lines_coverage(bc, bd, length) >= budget:
            break
    assert set(c) == set(bc) and set(d) == set(bd) and cov >= budget


def test_layout_from_lines_matches_brute_force_blocks():
    length, bq = 50, 8  # ragged last block
    cols, diags = [np.array([0, 3, 21, 44]), np.array([7])], [np.array([0, 5, 30]), np.array([0])]
    lay = layout_from_lines(cols, diags, 1, 2, length, bq, bq)
    expect = np.zeros((2, length, length), dtype=bool)
    for g in range(2):
        for n in range(-(-length // bq)):
            rows = np.arange(n * bq, min(length, n * bq + bq))
            for o in diags[g]:
                keys = rows - o
                for kb in set(keys[keys >= 0] // bq):
                    expect[g, rows[0] : rows[-1] + 1, kb * bq : kb * bq + bq] = True
            for c in cols[g]:
                expect[g, rows[0] : rows[-1] + 1, c] = True
    expect &= np.tril(np.ones((length, length), dtype=bool))
    assert np.array_equal(lay.to_mask()[0].numpy(), expect)
    # a column inside a diagonal block is not listed again as a column
    for g in range(2):
        for n in range(lay.n_query_blocks):
            kbs = set(lay.blocks[0, g, n, : lay.block_counts[0, g, n]])
            assert not any(c // bq in kbs for c in lay.columns[0, g, n, : lay.column_counts[0, g, n]])


# ---------------------------------------------------------------- block-sparse selection
def test_block_sparse_selection_matches_brute_force():
    q, k, _ = qkv(t=72, seed=5)  # 5 blocks of 16, ragged last
    method = PREFILL.get("block_sparse")(compression=1.5, block=16)
    layout, _ = method.select(q, k)
    top = method.top_k(72)
    kk = k.repeat_interleave(2, dim=1)
    for b in range(2):
        for h in range(4):
            for n in range(5):
                pq = q[b, h, n * 16 : n * 16 + 16].double().mean(0)
                scores = {j: float(pq @ kk[b, h, j * 16 : j * 16 + 16].double().mean(0))
                          for j in range(n + 1)}
                forced = {j for j in (0, n - 1, n) if j >= 0}
                rest = sorted(set(scores) - forced, key=lambda j: -scores[j])
                expect = forced | set(rest[: max(0, top - len(forced))])
                got = set(layout.blocks[b, h, n, : layout.block_counts[b, h, n]].tolist())
                assert got == expect


def test_block_sparse_top_k_reaches_target_density():
    def kept(n, k):
        return sum(min(k, i + 1) for i in range(n))

    for n, c in [(8, 1.5), (16, 4.0), (16, 2.0), (5, 1.0)]:
        k = top_k_for_compression(n, c)
        target = n * (n + 1) / 2 / c
        assert kept(n, k) >= target - 1e-9
        assert k == 3 or kept(n, k - 1) < target  # the smallest such k, never below 3
    assert top_k_for_compression(8, 1.0) == 8


# ---------------------------------------------------------------- flexprefill selection
def test_cover_count_is_the_fewest_reaching_alpha():
    rng = np.random.default_rng(1)
    x = rng.random(30)
    for alpha in (0.1, 0.5, 0.9, 0.99):
        n = cover_count(x, alpha)
        s = np.sort(x)[::-1]
        assert s[:n].sum() >= alpha * x.sum() - 1e-12 and s[: n - 1].sum() < alpha * x.sum()
    assert cover_count(x, 1.0) == 30


def test_flexprefill_adapts_to_concentrated_attention():
    q, k, v = qkv(t=128, seed=2)
    method = PREFILL.get("flexprefill")(alpha=0.3, window=32, min_budget=4, local=4, block=16)
    uniform = method.prefill(torch.zeros_like(q), k, v)  # every causal key weighs the same
    focused_k = k.clone()
    focused_k[:, :, 7] = q[:, ::2, -32:].mean(2) * 8  # a key every late query attends strongly
    focused = method.prefill(q, focused_k, v)
    layout = focused.extra["layout"]
    assert all(7 in layout.columns[b, h, -1] or 0 in layout.blocks[b, h, -1]
               for b in range(2) for h in range(4))
    assert focused.nominal_sparsity > uniform.nominal_sparsity


# ---------------------------------------------------------------- quest
def test_quest_page_scores_are_upper_bounds_and_selection_matches_brute_force():
    q, k, v = qkv(t=75, seed=4)  # 5 pages, last one partial
    qd = q[:, :, -1:]
    kmin, kmax = page_bounds(k, 16)
    scores = page_scores(qd, kmin, kmax)
    kk = k.repeat_interleave(2, dim=1)
    dots = (qd @ kk.transpose(-1, -2))[:, :, 0]  # (B, H, S)
    for p in range(5):
        assert torch.all(scores[..., p] >= dots[..., p * 16 : p * 16 + 16].amax(-1) - 1e-5)
    method = DECODE.get("quest")(compression=2.5)  # budget 30 -> 1 top page + current
    state = method.compress(k, v, q)
    pages = method.select_pages(qd, state)
    for b in range(2):
        for h in range(4):
            best = int(torch.argmax(scores[b, h, :4]))
            assert set(torch.nonzero(pages[b, h]).flatten().tolist()) == {best, 4}
    out = method.decode(qd, state)
    assert out.effective_sparsity == pytest.approx(1 - (16 + 11) / 75)


def test_quest_shared_group_selects_one_page_set_per_kv_head_by_summed_scores():
    q, k, v = qkv(t=75, seed=5)  # 4 query heads over 2 KV heads
    qd = q[:, :, -1:]
    kmin, kmax = page_bounds(k, 16)
    scores = page_scores(qd, kmin, kmax)
    shared = DECODE.get("quest")(compression=2.5, group="shared")
    pages = shared.select_pages(qd, shared.compress(k, v, q))
    for b in range(2):
        for g in range(2):
            summed = scores[b, 2 * g] + scores[b, 2 * g + 1]
            best = int(torch.argmax(summed[:4]))
            for h in (2 * g, 2 * g + 1):
                assert set(torch.nonzero(pages[b, h]).flatten().tolist()) == {best, 4}
    per_head = DECODE.get("quest")(compression=2.5)
    differs = per_head.select_pages(qd, per_head.compress(k, v, q)) != pages
    assert differs.any()  # the seed has heads of one group that disagree on their own
    # without GQA the two agree
    k1, v1 = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    assert torch.equal(shared.select_pages(qd, shared.compress(k1, v1, q)),
                       per_head.select_pages(qd, per_head.compress(k1, v1, q)))
    with pytest.raises(ValueError, match="quest: group 'kv'"):
        DECODE.get("quest")(group="kv")


# ---------------------------------------------------------------- snapkv / ada-snapkv
def brute_importance(k, q_obs, window, pool, reduce):
    b, hkv, s, d = k.shape
    h = q_obs.shape[1]
    qw = q_obs[:, :, -window:].double()
    kk = k.double().repeat_interleave(h // hkv, dim=1)
    imp = torch.zeros(b, hkv, s, dtype=torch.float64)
    for bi in range(b):
        for g in range(hkv):
            per_head = []
            for hh in range(g * (h // hkv), (g + 1) * (h // hkv)):
                tot = torch.zeros(s, dtype=torch.float64)
                for i in range(window):
                    p = s - window + i
                    logits = kk[bi, hh, : p + 1] @ qw[bi, hh, i] / math.sqrt(d)
                    tot[: p + 1] += torch.softmax(logits, 0)
                per_head.append(tot)
            stack = torch.stack(per_head)
            imp[bi, g] = stack.mean(0) if reduce == "mean" else stack.amax(0)
    padded = torch.nn.functional.pad(imp, (pool // 2, pool // 2))
    return torch.stack([padded[..., j : j + pool].sum(-1) / pool for j in range(s)], -1)


@pytest.mark.parametrize("key", ["snapkv", "ada_snapkv"])
def test_snapkv_kept_tokens_match_brute_force(key):
    q, k, v = qkv(t=60, seed=6)
    method = DECODE.get(key)(compression=3, window=12, pool=5, sinks=2, recent=6)
    state = method.compress(k, v, q[:, :, -12:])
    imp = brute_importance(k, q[:, :, -12:], 12, 5, "mean" if key == "snapkv" else "max")
    cap = 20
    forced = set(range(2)) | set(range(54, 60))
    for b in range(2):
        kept_sets, expect = [], []
        for g in range(2):
            rows = state.k[b, g] if state.valid is None else state.k[b, g][state.valid[b, g]]
            kept_sets.append({int(torch.nonzero((k[b, g] == r).all(-1))[0]) for r in rows})
            order = [j for j in torch.argsort(-imp[b, g]).tolist() if j not in forced]
            floor = cap if key == "snapkv" else max(int(0.2 * cap), len(forced))
            expect.append(forced | set(order[: floor - len(forced)]))
        if key == "ada_snapkv":  # global top-k of the rest across heads
            rest = [(float(imp[b, g, j]), g, j) for g in range(2) for j in range(60)
                    if j not in expect[g]]
            for _, g, j in sorted(rest, key=lambda r: -r[0])[: 2 * (cap - floor)]:
                expect[g].add(j)
        assert kept_sets == expect
        assert sum(len(s) for s in kept_sets) == 2 * cap


def test_ada_snapkv_heads_get_different_counts_and_decode_masks_padding():
    q, k, v = qkv(t=60, seed=7)
    k[:, 0, 30] = q[:, 0:2, -12:].mean((1, 2)) * 6  # head 0 focused, head 1 diffuse
    method = DECODE.get("ada_snapkv")(compression=3, window=12, pool=1, sinks=2, recent=6)
    state = method.compress(k, v, q[:, :, -12:])
    qd = q[:, :, -1:]
    out = method.decode(qd, state)
    valid = state.valid if state.valid is not None else torch.ones(state.k.shape[:3], dtype=bool)
    ref = masked_attention(qd, state.k, state.v, valid.repeat_interleave(2, 1)[:, :, None])
    torch.testing.assert_close(out.out, ref.float(), atol=1e-5, rtol=1e-5)


def test_oracle_topk_matches_brute_force():
    q, k, v = qkv(t=24, seed=8)
    method = PREFILL.get("oracle_topk")(compression=3)
    mask = method.mask(q, k)
    kk = k.repeat_interleave(2, 1)
    for i in range(24):
        n = math.ceil((i + 1) / 3)
        s = (q[:, :, i : i + 1] @ kk[:, :, : i + 1].transpose(-1, -2))[:, :, 0]
        top = torch.argsort(s, dim=-1, descending=True)[..., :n]
        expect = torch.zeros(2, 4, 24, dtype=torch.bool).scatter_(-1, top, True)
        assert torch.equal(mask[:, :, i], expect)
    dec = DECODE.get("oracle_topk")(compression=4)
    state = dec.compress(k, v, q)
    sel = dec.select(q[:, :, -1:], state)
    assert torch.all(sel.sum(-1) == 6)


def test_sliding_window_decode_keeps_sinks_and_recent():
    q, k, v = qkv(t=40)
    method = DECODE.get("sliding_window")(compression=4, sinks=3)
    sel = method.select(q[:, :, -1:], method.compress(k, v, q))[0, 0, 0]
    assert torch.nonzero(sel).flatten().tolist() == [0, 1, 2] + list(range(33, 40))


# ---------------------------------------------------------------- analytic costs (hand counts)
def test_flops_and_kv_bytes_hand_counts():
    dense = PREFILL.get("dense")()
    assert dense.flops(128, 16, 4) == 4 * 16 * 4 * (128 * 129 // 2)
    assert dense.kv_bytes(128, 16, 2) == 2 * 4 * 16 * 2 * (128 * 129 // 2) / 64
    bs = PREFILL.get("block_sparse")(compression=1.5, block=16)
    assert bs.top_k(128) == 4  # 8 blocks: k=3 keeps 21 < 24 = 36 / 1.5, k=4 keeps 26
    assert bs.flops(128, 16, 4) == 4 * 16 * 4 * (8 * 136 + 18 * 256)
    sw = PREFILL.get("sliding_window")(window=4, sinks=1)
    assert sw.flops(10, 1, 1) == 4 * (sum(min(i + 1, 4) for i in range(10)) + 6)  # + sink column
    quest = DECODE.get("quest")(compression=4)
    assert quest.flops(100, 16, 4) == 4 * 16 * 4 * (25 + 7)
    assert quest.kv_bytes(100, 16, 2) == 2 * 4 * 16 * 2 * (25 + 7)
    snap = DECODE.get("snapkv")(compression=4)
    assert snap.flops(100, 16, 4) == 4 * 16 * 4 * 25 and snap.kv_bytes(100, 16, 2, 2) == 2 * 2 * 16 * 2 * 25
    assert DECODE.get("dense")().flops(100, 16, 4) == 4 * 16 * 4 * 100
    assert PREFILL.get("oracle_topk")(compression=2).flops(4, 1, 1) == 4 * (1 + 1 + 2 + 2)


def test_effective_sparsity_counts_executed_blocks():
    q, k, v = qkv(t=128, seed=9)
    out = PREFILL.get("vertical_slash")(compression=4, **SMALL).prefill(q, k, v)
    layout = out.extra["layout"]
    kept = layout.to_mask().sum().item() / (2 * 4)
    assert out.effective_sparsity == pytest.approx(1 - kept / (128 * 129 / 2))
    assert out.nominal_sparsity >= out.effective_sparsity
    assert out.nominal_sparsity == pytest.approx(0.75, abs=0.02)


def test_dense_layout_runs_dense():
    q, k, v = qkv(t=40)
    lay = dense_layout(2, 4, 40, 16)
    torch.testing.assert_close(run_layout(q, k, v, lay), dense_causal_attention(q, k, v).float(),
                               atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("key", sorted(PREFILL_CASES))
@pytest.mark.parametrize("bad", [0.5, float("nan"), float("inf"), -2])
def test_bad_compression_raises(key, bad):
    with pytest.raises(ValueError, match="compression"):
        PREFILL.get(key)(compression=bad)
    with pytest.raises(ValueError, match="compression"):
        DECODE.get("quest")(compression=bad)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="block"):
        PREFILL.get("vertical_slash")(compression=2, block=0)
    with pytest.raises(ValueError, match="backend"):
        PREFILL.get("block_sparse")(compression=2, backend="cuda-magic")
    with pytest.raises(ValueError, match="alpha"):
        PREFILL.get("flexprefill")(alpha=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        PREFILL.get("flexprefill")(alpha=1.5)
    with pytest.raises(ValueError, match="pool"):
        DECODE.get("snapkv")(compression=2, pool=4)
    with pytest.raises(ValueError, match="min_share"):
        DECODE.get("ada_snapkv")(compression=2, min_share=1.5)
    with pytest.raises(ValueError, match="page"):
        DECODE.get("quest")(compression=2, page=0)
    with pytest.raises(KeyError, match="unknown prefill attention method"):
        PREFILL.get("nope")
    q, k, v = qkv(h=3, hkv=2)
    with pytest.raises(ValueError, match="multiple"):
        PREFILL.get("block_sparse")(compression=2).prefill(q, k, v)
    q, k, v = qkv()
    with pytest.raises(ValueError, match="T == S"):
        PREFILL.get("vertical_slash")(compression=2).prefill(q[:, :, :10], k, v)
    dec = DECODE.get("quest")(compression=2)
    with pytest.raises(ValueError, match=r"\(B, H, 1, D\)"):
        dec.decode(q[:, :, :2], dec.compress(k, v, q))


def test_params_for_length_scales_and_reaches_methods_defaults():
    from sparselab.attention import params_for_length

    assert params_for_length("prefill", "vertical_slash", 16384) == {"window": 256, "local": 64,
                                                                     "block": 64}
    assert params_for_length("prefill", "vertical_slash", 256) == {"window": 32, "local": 16,
                                                                   "block": 16}
    assert params_for_length("decode", "snapkv", 4096) == {"window": 256, "recent": 128, "pool": 21}
    assert params_for_length("decode", "quest", 4096) == {"page": 16, "group": "shared"}
    assert params_for_length("decode", "quest", 256) == {"page": 16}  # per head (default)
    small = params_for_length("decode", "ada_snapkv", 512)
    assert small["pool"] % 2 == 1 and small["recent"] == 32
    for phase, reg in (("prefill", PREFILL), ("decode", DECODE)):
        for key in reg:  # every method accepts its scaled parameters
            reg.get(key)(**params_for_length(phase, key, 512))
    with pytest.raises(KeyError, match="no prefill method"):
        params_for_length("prefill", "quest", 512)
    with pytest.raises(ValueError, match="phase"):
        params_for_length("both", "dense", 512)


def test_flexprefill_alpha_zero_is_a_fixed_budget_of_min_budget_lines():
    """The paper's alpha = 0 grid points keep exactly `min_budget` columns and diagonals
    (the forced sinks and local diagonals among them), whatever the input."""
    from sparselab.attention.flexprefill import select_lines

    rng = np.random.default_rng(0)
    for _ in range(5):
        picked = select_lines(rng.random(64), forced=4, alpha=0.0, min_budget=10)
        assert len(picked) == 10 and set(range(4)) <= set(picked)
    q, k, v = qkv(t=64)
    m = PREFILL.get("flexprefill")(alpha=0.0, window=16, min_budget=10, local=4, block=8, sinks=2)
    _, nominal = m.select(q, k)
    _, ref_nominal = m.select_reference(q, k)
    np.testing.assert_array_equal(nominal, ref_nominal)
    out = m.prefill(q, k, v)
    assert 0 < out.effective_sparsity < 1 and out.extra["density_per_row"].shape == (q.shape[0],)
