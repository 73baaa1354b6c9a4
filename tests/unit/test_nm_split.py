"""Split N:M settings: feed-forward and attention projections at different patterns."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselab.models.lm import build_model
from sparselab.sparsity import (
    LAYER_GROUPS,
    SplitRecipe,
    is_split,
    make_recipe,
    make_split_recipe,
    nm_layers,
    nm_linear_factory,
    nm_step_flops,
    parse_split,
)
from sparselab.sparsity.split import format_split, split_layers, split_sparsity
from sparselab.studies import nm_training as study
from sparselab.studies.nm_training import pipeline

SPLIT = "ff=1:32,attn=1:8"


def test_parse_and_format_round_trip():
    assert parse_split(SPLIT) == {"ff": (1, 32), "attn": (1, 8)}
    assert parse_split(" ff = 1:32 , qkv=1:8, o=2:4") == {"ff": (1, 32), "qkv": (1, 8),
                                                          "o": (2, 4)}
    assert format_split(parse_split(" ff = 1:32 , attn=1:8")) == SPLIT
    assert is_split(SPLIT) and not is_split("1:8")


@pytest.mark.parametrize(("text", "message"), [
    ("ff=1:32,mlp=1:8", "unknown layer group 'mlp'"),
    ("ff=1:32,ff=1:8", "'ff' is given twice"),
    ("ff=1:32,attn=1:8,q=1:4", "'q' overlaps 'attn'"),
    ("ff=1:32,attn=8:8", "attn=8:8 has N = 8 >= M = 8"),
    ("ff=1:32,attn=one", "attn=one"),
    ("ff=1:32,attn", "entry 'attn' is not"),
    ("1:8", "expected '<group>=<N:M>"),
])
def test_bad_split_settings_name_the_value(text, message):
    with pytest.raises(ValueError, match=message):
        parse_split(text)


def test_every_layer_needs_a_group():
    names = ["blocks.0.attn.q", "blocks.0.attn.o", "blocks.0.mlp.up"]
    got = split_layers("ff=1:32,qkv=1:8,o=1:4", names)
    assert got == {"blocks.0.attn.q": ("qkv", 1, 8), "blocks.0.attn.o": ("o", 1, 4),
                   "blocks.0.mlp.up": ("ff", 1, 32)}
    with pytest.raises(ValueError, match="covers no group of layer 'blocks.0.attn.o'.*attn, o"):
        split_layers("ff=1:32,qkv=1:8", names)


def test_split_sparsity_known_answer():
    # two layers of 64 x 64: one at 1:8 (7/8 pruned), one at 1:32 (31/32 pruned)
    shapes = {"b.attn.q": (64, 64), "b.mlp.up": (64, 64)}
    assert split_sparsity("attn=1:8,ff=1:32", shapes) == pytest.approx((7 / 8 + 31 / 32) / 2)


def test_split_recipe_masks_each_group_at_its_pattern():
    torch.manual_seed(0)
    recipe = make_split_recipe("ste", SPLIT, warmup=0.0, final=0.0)
    assert isinstance(recipe, SplitRecipe) and recipe.key == "ste" and recipe.pattern == SPLIT
    model = recipe.apply(build_model("xs", nm_linear_factory(make_recipe("dense")),
                                     vocab_size=20))
    recipe.set_step(0, 10)
    assert recipe.phase == "decay"
    for name, layer in nm_layers(model):
        m = 32 if ".mlp." in name else 8
        mask = layer.hard_mask()
        assert mask.mean().item() == pytest.approx(1 / m)
        groups = mask.reshape(mask.shape[0], -1, m).sum(-1)
        assert torch.all(groups == 1), name
    # FLOPs: each layer at its own density (forward + input gradient at N/M, dense wgrad)
    tokens = 4
    want = sum(2 * tokens * l.in_features * l.out_features
               * (2 / (32 if ".mlp." in n else 8) + 1) for n, l in nm_layers(model))
    assert nm_step_flops(model, tokens) == pytest.approx(want)


def test_split_recipe_rejects_a_group_that_does_not_fit():
    recipe = make_split_recipe("ste", "ff=1:256,attn=1:8")
    model = build_model("xs", nm_linear_factory(make_recipe("dense")), vocab_size=20)
    with pytest.raises(ValueError, match="ff=1:256 does not fit layer 'blocks.0.mlp.up'"):
        recipe.apply(model)


def test_split_groups_are_the_model_projections():
    names = [n for n, _ in build_model("s", vocab_size=20).linear_layers()]
    for group, suffixes in LAYER_GROUPS.items():
        assert all(any(n.endswith(s) for n in names) for s in suffixes if s != "mlp.gate"), group


@pytest.fixture
def synthetic_text(monkeypatch):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, 6000).astype(np.int64)
    monkeypatch.setattr(pipeline, "char_splits", lambda text, test=False: (
        {"train": ids[:5000], "val": ids[5000:5500], "test": ids[5500:]} if test else
        {"train": ids[:5000], "val": ids[5000:]}, 20))


def _cfg(**kw):
    base = {"steps": 6, "batch_size": 2, "seq_len": 16, "eval_every": 2, "flip_every": 2,
            "val_windows": 4, "workers": 1, "seeds": [0]}
    return study.Config.from_overrides(**{**base, **kw})


def test_split_run_trains_and_starts_from_the_uniform_runs_weights(synthetic_text):
    specs = study.run_specs(_cfg(recipes=["mdgf_exp"], patterns=["1:8", SPLIT]))
    assert [s.pattern for s in specs] == ["1:8", SPLIT]
    torch.manual_seed(0)
    uniform, _ = pipeline.build_run_model(specs[0], 20)
    torch.manual_seed(0)
    split, _ = pipeline.build_run_model(specs[1], 20)
    for (n, a), (_, b) in zip(nm_layers(uniform), nm_layers(split)):
        assert torch.equal(a.weight, b.weight)
        assert b.recipe.m == (32 if ".mlp." in n else 8)
    rec = study.train_run(specs[1])
    assert np.isfinite(rec["val_bpc"]) and rec["spec"]["pattern"] == SPLIT
    df = study.results_frame([rec])
    assert bool(df.split.iloc[0]) and np.isnan(df.sparsity.iloc[0])


@pytest.mark.parametrize(("overrides", "message"), [
    ({"patterns": ["1:8", "ff=1:32,mlp=1:8"]}, "patterns: split setting .* group 'mlp'"),
    ({"patterns": ["ff=1:32"]}, "covers no group of layer 'blocks.0.attn.q'"),
    ({"patterns": ["ff=1:256,attn=1:8"]}, "ff=1:256: M = 256 does not divide the input width 64"),
    ({"patterns": [SPLIT], "iso_flops_patterns": ["ff=1:32,xattn=1:8"]},
     "iso_flops_patterns: .*'xattn'"),
])
def test_bad_split_settings_fail_before_training(overrides, message, monkeypatch):
    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(pipeline, "train_run", never)
    monkeypatch.setattr(pipeline, "schedule_flops", never)
    with pytest.raises(ValueError, match=message):
        study.run(_cfg(**overrides))
