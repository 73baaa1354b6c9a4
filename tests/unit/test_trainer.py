"""Trainer: schedule end points, determinism, checkpoint resume identical, callbacks."""
import pytest
import torch

from sparselab.models.lm import LMConfig, build_model
from sparselab.models.trainer import TrainConfig, Trainer, lr_at

CFG = LMConfig(vocab_size=16, d_model=16, n_layers=1, n_heads=2, n_kv_heads=1)


def batches(step, gen):
    x = torch.randint(0, 16, (4, 8), generator=gen)
    return x, (x + 1) % 16, None


def make(tmp=None, steps=10, callbacks=()):
    torch.manual_seed(0)
    model = build_model(CFG)
    cfg = TrainConfig(steps=steps, warmup=2, lr=1e-2, log_every=2, ckpt_every=5, seed=3)
    return Trainer(model, cfg, batches, ckpt_path=tmp, callbacks=callbacks, progress=False)


def test_schedule_end_points():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == 0.1 and lr_at(9, cfg) == 1.0 and lr_at(10, cfg) == 1.0
    assert abs(lr_at(100, cfg) - 0.1) < 1e-12 and lr_at(55, cfg) < lr_at(20, cfg)


def test_training_reduces_loss():
    tr = make(steps=40)
    hist = tr.train()
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["tokens_per_s"] > 0


def test_resume_from_checkpoint_is_identical(tmp_path):
    full = make()
    full.train()
    part = make(tmp_path / "ck.pt")
    part.train(until=5)  # checkpoint at step 5, then "crash"
    resumed = make(tmp_path / "ck.pt")
    resumed.train()
    assert resumed.step == 10
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), n


def test_callbacks_called_every_step_and_state_checkpointed(tmp_path):
    class Counter:
        def __init__(self):
            self.starts, self.ends = [], 0

        def on_step_start(self, step, trainer):
            self.starts.append(step)

        def on_step_end(self, step, trainer, metrics):
            self.ends += 1
            metrics["ends"] = self.ends

        def state_dict(self):
            return {"ends": self.ends}

        def load_state_dict(self, st):
            self.ends = st["ends"]

    cb = Counter()
    tr = make(tmp_path / "c.pt", steps=6, callbacks=[cb])
    tr.train()
    assert cb.starts == list(range(6)) and tr.history[-1]["ends"] == 6
    cb2 = Counter()
    make(tmp_path / "c.pt", steps=6, callbacks=[cb2]).load()
    assert cb2.ends == 6


def test_suite_recipe_trains_saves_and_loads(tmp_path):
    from sparselab.models.recipe import SuiteRecipe, load_model, recipe_from_meta, train_suite_model

    recipe = SuiteRecipe(model="xs", tasks="niah_single,cwe", lengths=(64, 96), sources=("synthetic",),
                         train=TrainConfig(steps=2, batch_size=2, warmup=1), overrides={"d_model": 16})
    folder = train_suite_model(recipe, tmp_path / "run", progress=False)
    model, meta = load_model(folder)
    assert model.cfg.d_model == 16 and recipe_from_meta(meta) == recipe
    assert (folder / "recipe.json").exists()


def test_mixed_length_batches_keep_tokens_per_step():
    from sparselab.tasks import build_tasks
    from sparselab.tasks.base import task_batches

    tasks = build_tasks("mqar", 64, sources=("synthetic",)) + build_tasks("mqar", 128, sources=("synthetic",))
    fn = task_batches(tasks, 8)
    shapes = {tuple(fn(s, torch.Generator().manual_seed(s))[0].shape) for s in range(12)}
    extra = 9 + 6 + 9 - 1  # answer, follow-up question + <a>, follow-up answer; minus the shift
    assert shapes == {(8, 64 + extra), (4, 128 + extra)}


def test_char_lm_batches_and_bits_per_char():
    import math

    import numpy as np

    from sparselab.tasks.charlm import bits_per_char, char_lm_batches

    ids = np.arange(200) % 16
    x, y, m = char_lm_batches(ids, 10, 3)(0, torch.Generator().manual_seed(0))
    assert x.shape == (3, 10) and m is None and torch.equal(y[:, :-1], x[:, 1:])

    class Uniform(torch.nn.Module):
        def forward(self, t):
            return torch.zeros(*t.shape, 16)

    assert abs(bits_per_char(Uniform(), ids, 10) - math.log2(16)) < 1e-5


def test_train_cli_writes_checkpoint_and_eval(tmp_path, capsys):
    import json

    from sparselab.cli import main

    out = tmp_path / "run"
    rc = main(["train", "--model", "xs", "--tasks", "niah_single,mqar", "--length", "48,64", "--steps", "2",
               "--batch-size", "2", "--sources", "synthetic", "--eval-n", "2", "--out", str(out),
               "--weights", "mqar=2"])
    assert rc == 0 and (out / "checkpoint.pt").exists()
    assert json.loads((out / "recipe.json").read_text())["recipe"]["task_weights"] == {"mqar": 2.0}
    rows = json.loads((out / "eval.json").read_text())["results"]
    assert {(r["task"], r["length"]) for r in rows} == {(t, n) for t in ("niah_single", "mqar") for n in (48, 64)}
    assert "niah_single" in capsys.readouterr().out
    assert main(["train", "--length", "16", "--out", str(out)]) == 2  # bad input: one clear line
    capsys.readouterr()
    assert main(["train", "--weights", "cwe=-1", "--out", str(out)]) == 2
    assert "--weights" in capsys.readouterr().err


def test_parse_weights():
    from sparselab.models.cli import parse_weights

    assert parse_weights("") is None
    assert parse_weights("cwe=2, filter=1.5") == {"cwe": 2.0, "filter": 1.5}
    for bad in ("cwe", "cwe=x", "=2", "cwe=0"):
        with pytest.raises(ValueError, match="--weights"):
            parse_weights(bad)


def test_set_cross_entropy_is_minus_log_total_probability():
    import torch.nn.functional as F

    from sparselab.models.trainer import set_cross_entropy

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 9, generator=g)
    one = torch.randint(0, 9, (4, 1), generator=g)
    assert torch.allclose(set_cross_entropy(logits, one), F.cross_entropy(logits, one[:, 0]))
    allowed = torch.tensor([[1, 4, -1], [2, -1, -1], [0, 3, 8], [5, 6, -1]])
    p = logits.softmax(1)
    want = torch.stack([-torch.log(p[i, [t for t in row.tolist() if t >= 0]].sum()) for i, row in enumerate(allowed)])
    assert torch.allclose(set_cross_entropy(logits, allowed), want.mean(), atol=1e-6)


def test_suite_cache_key_follows_the_family_shape(monkeypatch):
    """A trained model (and every grid cell scored with it) must not be reused after the family
    member it was trained as changes shape."""
    import dataclasses

    from sparselab.models import lm
    from sparselab.models.recipe import SuiteRecipe, recipe_from_meta

    recipe = SuiteRecipe(model="xs")
    before = recipe.to_dict()
    assert recipe_from_meta({"recipe": before}) == recipe
    monkeypatch.setitem(lm.CONFIGS._items, "xs", dataclasses.replace(lm.CONFIGS.get("xs"), n_layers=7))
    after = recipe.to_dict()
    assert after != before and after["family_config"]["n_layers"] == 7


def test_task_weights_draw_tasks_in_proportion():
    from sparselab.tasks import build_tasks
    from sparselab.tasks.base import task_batches

    tasks = build_tasks("niah_single,cwe", 64, sources=("synthetic",))
    voc = tasks[0].vocab
    fn = task_batches(tasks, 64, weights={"cwe": 3.0})
    x = torch.cat([fn(s, torch.Generator().manual_seed(s))[0] for s in range(20)])  # 1,280 samples
    # a cwe prompt ends "<q> <a>"; a needle prompt names its key between them
    at = (x == voc.answer).int().argmax(1)
    is_cwe = (x[torch.arange(len(x)), at - 1] == voc.query).float().mean().item()
    assert 0.70 < is_cwe < 0.80  # expected 0.75; uniform would give 0.5
    with pytest.raises(ValueError, match="not in the mix"):
        task_batches(tasks, 8, weights={"filter": 2.0})
    with pytest.raises(ValueError, match="positive"):
        task_batches(tasks, 8, weights={"cwe": 0.0})


def test_train_cli_cache_hit_keeps_the_training_time(tmp_path, monkeypatch, capsys):
    import json

    from sparselab.cli import main

    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    argv = ["train", "--model", "xs", "--tasks", "niah_single", "--length", "48", "--steps", "2",
            "--batch-size", "2", "--sources", "synthetic", "--eval-n", "2"]
    assert main(argv) == 0
    (ev,) = (tmp_path / "cache" / "models").glob("*/eval.json")
    first = json.loads(ev.read_text())
    assert first["cached"] is False and first["train_seconds"] > 0
    capsys.readouterr()
    assert main([*argv, "--eval-n", "3"]) == 0  # same recipe: loaded, only re-scored
    again = json.loads(ev.read_text())
    assert again["cached"] is True and again["train_seconds"] == first["train_seconds"]
    assert again["results"][0]["n"] == 3
    assert "loaded from the cache" in capsys.readouterr().out
