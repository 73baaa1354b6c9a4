"""N:M masks, recipes (gradients and schedules), NMLinear, mask flips and FLOPs accounting."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from sparselab.sparsity import (
    RECIPES,
    Cost,
    MaskFlipTracker,
    NMLinear,
    linear_step_flops,
    make_recipe,
    nm_linear_factory,
    nm_mask,
    nm_mask_reference,
    nm_step_flops,
    parse_pattern,
)
from sparselab.sparsity.schedules import (
    beta_exp,
    beta_linear,
    default_kappa,
    geometric_patterns,
    stepwise_patterns,
)

KEYS = ["dense", "oneshot", "ste", "sr_ste", "mdgf_linear", "mdgf_exp", "sdgf_stepwise",
        "sdgf_geometric"]


def _groups(t: torch.Tensor, m: int) -> torch.Tensor:
    return t.reshape(t.shape[0], -1, m)  # (out, G, M)


@pytest.mark.parametrize("shape,n,m", [((3, 8), 2, 4), ((5, 16), 1, 4), ((4, 32), 1, 8),
                                       ((2, 64), 1, 16), ((3, 64), 1, 32), ((6, 24), 3, 8),
                                       ((7, 12), 5, 6)])
def test_nm_mask_keeps_exactly_n_largest_per_group(shape, n, m):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    mask = nm_mask(w, n, m)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (_groups(mask, m).sum(-1) == n).all()
    # kept magnitudes dominate pruned ones inside each group
    a, mk = _groups(w.abs(), m), _groups(mask, m).bool()
    kept_min = torch.where(mk, a, torch.inf).amin(-1)
    pruned_max = torch.where(~mk, a, -torch.inf).amax(-1)
    assert (kept_min >= pruned_max).all()
    assert torch.equal(mask, nm_mask_reference(w, n, m))


def test_nm_mask_ties_go_to_lower_index():
    w = torch.tensor([[1.0, -1.0, 1.0, 0.5, 2.0, 2.0, 2.0, 2.0]])
    assert nm_mask(w, 2, 4).tolist() == [[1, 1, 0, 0, 1, 1, 0, 0]]


@pytest.mark.parametrize("shape,n,m,match", [((4, 10), 1, 4, r"m=4 does not divide in_features=10"),
                                             ((4, 8), 4, 4, r"need n < m, got n=4, m=4"),
                                             ((4, 8), 5, 4, r"n=5, m=4"),
                                             ((8,), 1, 4, r"2-D")])
def test_nm_mask_bad_input_names_n_m_and_shape(shape, n, m, match):
    with pytest.raises(ValueError, match=match):
        nm_mask(torch.zeros(shape), n, m)


def test_parse_pattern():
    assert parse_pattern("1:8") == (1, 8) and parse_pattern((2, 4)) == (2, 4)
    for bad in ["1/8", "a:b", "0:4", "5:4"]:
        with pytest.raises(ValueError, match="pattern"):
            parse_pattern(bad)


def test_registry_has_every_recipe():
    assert sorted(RECIPES.keys()) == sorted(KEYS)
    with pytest.raises(KeyError, match="unknown N:M recipe 'srste'"):
        make_recipe("srste", "1:8")


def _grad(recipe_key, w, x, t=90, total=100, **kw):
    recipe = make_recipe(recipe_key, "2:4", **kw)
    recipe.set_step(t, total)
    w = w.clone().requires_grad_(True)
    weff, _ = recipe.transform(w)
    (x @ weff.T).pow(2).sum().backward()
    return w.grad, weff.detach()


def test_ste_gradient_is_the_dense_gradient_of_the_masked_weight():
    g = torch.Generator().manual_seed(1)
    w, x = torch.randn(6, 8, generator=g), torch.randn(5, 8, generator=g)
    grad, weff = _grad("ste", w, x)
    mask = nm_mask(w, 2, 4)
    assert torch.equal(weff, w * mask)
    leaf = (w * mask).requires_grad_(True)  # gradient w.r.t. the masked weight itself
    (x @ leaf.T).pow(2).sum().backward()
    assert torch.allclose(grad, leaf.grad)
    # kept weights: identical to autograd through W * m; pruned weights still get a gradient
    w2 = w.clone().requires_grad_(True)
    (x @ (w2 * mask).T).pow(2).sum().backward()
    kept = mask.bool()
    assert torch.allclose(grad[kept], w2.grad[kept])
    assert (grad[~kept] != 0).any() and (w2.grad[~kept] == 0).all()


def test_sr_ste_adds_exactly_lambda_times_pruned_weights():
    g = torch.Generator().manual_seed(2)  # float64: the difference is exact up to rounding
    w = torch.randn(4, 16, generator=g, dtype=torch.float64)
    x = torch.randn(3, 16, generator=g, dtype=torch.float64)
    g_ste, _ = _grad("ste", w, x)
    g_sr, _ = _grad("sr_ste", w, x)
    mask = nm_mask(w, 2, 4)
    assert torch.allclose(g_sr - g_ste, 2e-4 * (1 - mask) * w, rtol=0, atol=1e-12)
    g_sr2, _ = _grad("sr_ste", w, x, lam=0.1)
    assert torch.allclose(g_sr2 - g_ste, 0.1 * (1 - mask) * w, rtol=0, atol=1e-12)


def test_mdgf_beta_end_points():
    assert beta_linear(0, 0.01) == 1.0 and beta_exp(0, 0.01) == 1.0
    assert beta_linear(100, 0.01) == 0.0 and beta_linear(150, 0.01) == 0.0
    assert beta_linear(50, 0.01) == pytest.approx(0.5)
    vals = [beta_exp(t, 0.05) for t in range(0, 200, 10)]
    assert all(a > b > 0 for a, b in itertools.pairwise(vals))
    assert beta_exp(80, default_kappa("exp", 80)) == pytest.approx(0.01)
    assert beta_linear(80, default_kappa("linear", 80)) == 0.0


@pytest.mark.parametrize("key", ["mdgf_linear", "mdgf_exp"])
def test_mdgf_recipe_phases_and_forward(key):
    r = make_recipe(key, "1:4", warmup=0.1, final=0.1)
    total = 100  # decay phase [10, 90)
    r.set_step(5, total)
    assert r.phase == "dense" and r.beta() == 1.0
    r.set_step(10, total)
    assert r.beta() == 1.0
    r.set_step(50, total)
    assert 0 < r.beta() < 1
    r.set_step(90, total)
    assert r.phase == "final" and r.beta() == 0.0
    w = torch.randn(3, 8)
    r.set_step(30, total)
    weff, _ = r.transform(w)
    mask = nm_mask(w, 1, 4)
    assert torch.allclose(weff, w * (mask + (1 - mask) * r.beta()))
    assert r.cost(8) == Cost(1.0, 1.0)  # pruned weights still multiply: dense matmul


def test_mdgf_explicit_kappa():
    r = make_recipe("mdgf_linear", "1:8", kappa=0.05)
    r.set_step(10 + 20, 100)  # t = 20 steps after the warm-up: 1 - 0.05 * 20 = 0
    assert r.beta() == 0.0
    r.set_step(10 + 10, 100)
    assert r.beta() == pytest.approx(0.5)


def test_sdgf_pattern_lists():
    assert stepwise_patterns(1, 8) == [(7, 8), (4, 8), (2, 8), (1, 8)]
    assert stepwise_patterns(1, 16) == [(15, 16), (8, 16), (4, 16), (2, 16), (1, 16)]
    assert stepwise_patterns(2, 4) == [(3, 4), (2, 4)]
    assert geometric_patterns(1, 8) == [(8, 64), (4, 32), (2, 16), (1, 8)]
    assert geometric_patterns(1, 16) == [(8, 128), (4, 64), (2, 32), (1, 16)]
    # clipped to the layer: 8M = 128 > in_features = 64
    assert geometric_patterns(1, 16, in_features=64) == [(4, 64), (4, 64), (2, 32), (1, 16)]
    assert geometric_patterns(1, 32, in_features=64) == [(2, 64), (2, 64), (2, 64), (1, 32)]


@pytest.mark.parametrize("key,pattern,expected", [
    ("sdgf_stepwise", "1:8", [(7, 8), (4, 8), (2, 8), (1, 8)]),
    ("sdgf_stepwise", "1:16", [(15, 16), (8, 16), (4, 16), (2, 16), (1, 16)]),
    ("sdgf_geometric", "1:8", [(8, 64), (4, 32), (2, 16), (1, 8)]),
    ("sdgf_geometric", "1:16", [(8, 128), (4, 64), (2, 32), (1, 16)]),
])
def test_sdgf_applies_each_phase_pattern(key, pattern, expected):
    r = make_recipe(key, pattern, warmup=0.1, final=0.1)
    total, in_f = 1000, 256
    start, end = r.phases.bounds(total)
    w = torch.randn(4, in_f, generator=torch.Generator().manual_seed(3))
    length = (end - start) / len(expected)
    for i, (n, m) in enumerate(expected):
        r.set_step(int(start + (i + 0.5) * length), total)
        weff, _ = r.transform(w)
        assert ((_groups(weff != 0, m)).sum(-1) == n).all(), (i, n, m)
        assert r.cost(in_f).fwd == pytest.approx(n / m)
    r.set_step(end, total)
    weff, _ = r.transform(w)
    n, m = parse_pattern(pattern)
    assert (_groups(weff != 0, m).sum(-1) == n).all()


def test_nmlinear_eval_is_binary_nm_and_rejects_bad_m():
    r = make_recipe("mdgf_exp", "1:8")
    r.set_step(0, 100)  # dense warm-up: training forward is dense
    layer = NMLinear(16, 5, recipe=r)
    x = torch.randn(2, 16)
    assert torch.allclose(layer(x), x @ layer.weight.T + layer.bias)
    layer.eval()
    assert ((_groups(layer.effective_weight() != 0, 8)).sum(-1) == 1).all()
    with pytest.raises(ValueError, match="m=8 does not divide in_features=12"):
        NMLinear(12, 4, recipe=r)
    assert isinstance(nm_linear_factory(r)(16, 4, False), NMLinear)


def test_oneshot_freezes_mask_and_gradient_is_sparse():
    r = make_recipe("oneshot", "1:4", prune_at=0.5)
    layer = NMLinear(8, 3, bias=False, recipe=r)
    r.set_step(40, 100)
    assert r.cost(8) == Cost(1.0, 1.0)
    layer(torch.randn(2, 8)).sum().backward()
    assert layer.frozen_mask is None and (layer.weight.grad != 0).all()
    r.set_step(50, 100)
    layer.weight.grad = None
    layer(torch.randn(2, 8)).sum().backward()
    mask = layer.frozen_mask.clone()
    assert torch.equal(mask, nm_mask(layer.weight, 1, 4))
    assert (layer.weight.grad[mask == 0] == 0).all()
    with torch.no_grad():
        layer.weight.mul_(torch.rand(3, 8) * 10)  # would change a recomputed mask
    r.set_step(70, 100)
    layer(torch.randn(2, 8))
    assert torch.equal(layer.frozen_mask, mask) and torch.equal(layer.hard_mask(), mask)
    assert r.cost(8) == Cost(0.25, 0.25)
    fresh = NMLinear(8, 3, bias=False, recipe=r)  # resuming a checkpoint restores the mask
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(fresh.frozen_mask, mask)


def test_mask_flip_tracker_counts_changed_entries():
    r = make_recipe("ste", "1:4")
    model = torch.nn.Sequential(NMLinear(4, 2, bias=False, recipe=r))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[4.0, 1, 1, 1], [4.0, 1, 1, 1]]))
    tracker = MaskFlipTracker(model)
    assert tracker.update(0) is None
    assert tracker.update(1) == 0.0
    with torch.no_grad():
        model[0].weight[0, 1] = 9.0  # row 0: keep moves from index 0 to 1 -> 2 of 8 entries
    assert tracker.update(2) == pytest.approx(2 / 8)
    assert tracker.history == [(1, 0.0), (2, 0.25)]


def test_flops_accounting():
    t, k, o = 10, 16, 8
    assert linear_step_flops(k, o, t, Cost(1, 1)) == 6 * t * k * o
    r = make_recipe("ste", "1:8")
    model = torch.nn.Sequential(NMLinear(k, o, recipe=r))
    r.set_step(0, 100)
    assert nm_step_flops(model, t) == 6 * t * k * o
    r.set_step(95, 100)
    assert nm_step_flops(model, t) == pytest.approx(2 * t * k * o * (2 / 8 + 1))
    d = make_recipe("dense", "1:8")
    assert nm_step_flops(torch.nn.Sequential(NMLinear(k, o, recipe=d)), t) == 6 * t * k * o


def test_recipe_set_step_validates():
    r = make_recipe("ste", "2:4")
    with pytest.raises(ValueError, match="t=5, total=4"):
        r.set_step(5, 4)
    assert math.isclose(make_recipe("sr_ste", "1:8").lam, 2e-4)
