"""Committed artifacts: formats, manifest checks, modes, concurrency, the verify CLI."""
from __future__ import annotations

import json
import multiprocessing as mp

import numpy as np
import pandas as pd
import pytest
import torch

from sparselab.artifacts import (
    ArtifactError,
    ArtifactMissing,
    ArtifactStore,
    fingerprint,
    get_or_build,
)
from sparselab.artifacts import build as build_mod
from sparselab.artifacts.formats import CODECS, decode_checkpoint, encode_checkpoint
from sparselab.cli import main

CMD = "make report NB=01 PROFILE=full"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_ROOT", str(tmp_path))  # fresh mode writes tmp_path/build/
    monkeypatch.delenv("SPARSELAB_ARTIFACTS", raising=False)
    return ArtifactStore(tmp_path / "artifacts")


def _state():
    g = torch.Generator().manual_seed(0)
    return {"w": torch.randn(4, 3, generator=g), "idx": torch.arange(5), "b": torch.zeros(3)}


@pytest.mark.parametrize("dtype,tol", [("fp16", 1e-3), ("bf16", 1e-2), ("fp32", 0.0)])
def test_checkpoint_round_trip(dtype, tol):
    st = _state()
    back, meta = decode_checkpoint(encode_checkpoint((st, {"steps": 3, "lr": 1e-3}), dtype))
    assert meta == {"steps": 3, "lr": 1e-3}
    assert back["w"].dtype == torch.float32 and back["idx"].dtype == torch.int64
    assert torch.equal(back["idx"], st["idx"])
    assert torch.allclose(back["w"], st["w"], atol=tol, rtol=tol)
    # storage really is reduced: fp16/bf16 files are about half the fp32 one
    if dtype != "fp32":
        big = {"w": torch.ones(64, 64)}
        assert len(encode_checkpoint(big, dtype)) < 0.55 * len(encode_checkpoint(big, "fp32"))


def test_checkpoint_of_tied_weights_and_bad_dtype():
    w = torch.randn(3, 2)
    back, _ = decode_checkpoint(encode_checkpoint({"a": w, "b": w}))  # shared storage
    assert torch.equal(back["a"], back["b"])
    with pytest.raises(ValueError, match="fp8"):
        encode_checkpoint({"a": w}, "fp8")


@pytest.mark.parametrize("kind", ["table", "table_csv"])
def test_table_round_trip(kind):
    df = pd.DataFrame({"model": ["xs", "s"], "acc": [0.91, 0.5], "n": [300, 300]},
                      index=pd.Index([3, 7], name="cell"))
    back = CODECS[kind].decode(CODECS[kind].encode(df))
    pd.testing.assert_frame_equal(back, df, check_dtype=kind == "table")


def test_table_with_array_and_dict_columns_round_trips_to_equal_bytes():
    df = pd.DataFrame({"scores": [np.array([1.0, 0.5]), np.array([0.0])],
                       "kw": [{"x": 1}, {"x": 2}], "model": ["xs", "s"]})
    data = CODECS["table"].encode(df)
    assert data == CODECS["table"].encode(df.copy())  # equal tables, equal bytes (no git churn)
    back = CODECS["table"].decode(data)
    assert back.kw.tolist() == [{"x": 1}, {"x": 2}]
    assert all(np.array_equal(a, b) for a, b in zip(back.scores, df.scores, strict=True))


def test_json_and_bytes_round_trip():
    obj = {"b": [1, 2.5], "a": {"x": None}}
    data = CODECS["json"].encode(obj)
    assert CODECS["json"].decode(data) == obj and data == CODECS["json"].encode(dict(obj))
    assert CODECS["bytes"].decode(CODECS["bytes"].encode(b"\x00ab")) == b"\x00ab"


def test_save_load_and_manifest_fields(store, tmp_path):
    src = tmp_path / "cell.json"
    src.write_text('{"acc": 0.9}\n')
    path = store.save("01/cells/a", src, {"n": 3}, CMD, 12.34, kind="json")
    assert path == store.root / "01/cells/a.json" and path.read_bytes() == src.read_bytes()
    assert store.load("01/cells/a", {"n": 3}) == path
    e = store.entry("01/cells/a")
    assert e["bytes"] == src.stat().st_size and len(e["sha256"]) == 64
    assert e["command"] == CMD and e["wall_s"] == 12.3 and e["fingerprint"] == fingerprint({"n": 3})
    assert set(e) >= {"path", "kind", "commit", "dirty", "created", "config", "version"}


def test_resaving_the_same_bytes_keeps_the_entry(store):
    store.save("a", b"same", {"n": 1}, CMD, 1.0)
    before = store.manifest_path.read_bytes()
    store.save("a", b"same", {"n": 1}, "other command", 9.0)
    assert store.manifest_path.read_bytes() == before
    store.save("a", b"changed", {"n": 1}, CMD, 2.0)
    assert store.entry("a")["bytes"] == 7 and store.load("a", {"n": 1}).read_bytes() == b"changed"


def test_committed_artifacts_match_their_manifest():
    """What `sparselab artifacts verify` checks, on the artifacts/ of this checkout."""
    rep = ArtifactStore(writable=False).verify()
    assert rep.ok, "\n".join(rep.problems)


def test_fingerprint_is_stable_and_sensitive():
    assert fingerprint({"a": 1, "b": (1, 2)}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": 1}, version=1) != fingerprint({"a": 1}, version=2)
    with pytest.raises(TypeError, match="canonical"):
        fingerprint({"a": object()})


@pytest.mark.parametrize("tamper", ["same_size", "appended"])
def test_tampered_artifact_is_refused_naming_it_and_its_command(store, tamper):
    path = store.save("m/xs", b"0123456789", {"n": 1}, CMD, 1.0, suffix=".bin")
    path.write_bytes(b"0123456780" if tamper == "same_size" else b"0123456789!")
    with pytest.raises(ArtifactError, match=r"'m/xs'.*(sha256|bytes).*rebuild with: "
                                            r"SPARSELAB_ARTIFACTS=update make report NB=01"):
        store.load("m/xs", {"n": 1})
    # get_or_build in use mode refuses it too (never rebuilt or used silently)
    with pytest.raises(ArtifactError, match="m/xs"):
        get_or_build("m/xs", {"n": 1}, lambda: b"new", command=CMD, kind="bytes", mode="use",
                     store=store)


def test_changed_config_is_refused_naming_the_changed_key(store):
    store.save("m/xs", b"abc", {"lr": 1e-3, "steps": 10}, CMD, 1.0)
    with pytest.raises(ArtifactError, match=r"'m/xs'.*another configuration.*config\.lr"):
        store.load("m/xs", {"lr": 2e-3, "steps": 10})
    with pytest.raises(ArtifactError, match="version"):
        store.load("m/xs", {"lr": 1e-3, "steps": 10}, version=2)


def test_modes(store, tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"acc": 0.5}

    kw = {"command": CMD, "kind": "json", "store": store}
    with pytest.raises(ArtifactMissing, match=r"'c/1'.*not in"):
        get_or_build("c/1", {"n": 1}, build, mode="require", **kw)
    assert get_or_build("c/1", {"n": 1}, build, mode="off", **kw) == {"acc": 0.5}
    assert store.entries() == {} and not store.root.exists()  # off writes nothing
    assert get_or_build("c/1", {"n": 1}, build, mode="use", **kw) == {"acc": 0.5}
    assert (store.root / "c/1.json").exists() and len(calls) == 2
    assert get_or_build("c/1", {"n": 1}, build, mode="use", **kw) == {"acc": 0.5}
    assert get_or_build("c/1", {"n": 1}, build, mode="require", **kw) == {"acc": 0.5}
    assert len(calls) == 2  # loaded, not rebuilt
    committed = (store.root / "MANIFEST.json").read_bytes()
    # fresh: builds again, writes under build/fresh/artifacts, leaves the committed ones alone
    assert get_or_build("c/1", {"n": 1}, build, mode="fresh", **kw) == {"acc": 0.5}
    assert len(calls) == 3 and (store.root / "MANIFEST.json").read_bytes() == committed
    assert ArtifactStore(build_mod.fresh_root()).entry("c/1")["command"] == CMD
    assert build_mod.fresh_root().is_relative_to(tmp_path / "build")
    # stale config: use refuses, update rebuilds and replaces at the same path
    with pytest.raises(ArtifactError, match="another configuration"):
        get_or_build("c/1", {"n": 2}, build, mode="use", **kw)
    get_or_build("c/1", {"n": 2}, build, mode="update", **kw)
    assert store.load("c/1", {"n": 2}) == store.root / "c/1.json" and len(calls) == 4


def test_mode_from_env_and_profile_defaults(monkeypatch):
    monkeypatch.delenv("SPARSELAB_ARTIFACTS", raising=False)
    assert build_mod.current_mode() == "off"
    assert build_mod.default_mode("full") == "use" and build_mod.default_mode("smoke") == "off"
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "fresh")
    assert build_mod.current_mode() == "fresh" and build_mod.default_mode("smoke") == "fresh"
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "sometimes")
    with pytest.raises(ValueError, match="SPARSELAB_ARTIFACTS='sometimes'"):
        build_mod.current_mode()


def test_read_only_store_refuses_save(store):
    with pytest.raises(ArtifactError, match="read-only"):
        ArtifactStore(store.root, writable=False).save("a", b"x", {}, CMD, 0.0)


def test_checkpoint_through_get_or_build_is_the_same_in_every_mode(store):
    st = _state()
    kw = {"command": CMD, "kind": "checkpoint", "store": store}
    off, _ = get_or_build("m/xs", {"n": 1}, lambda: (st, {"k": 1}), mode="off", **kw)
    use, meta = get_or_build("m/xs", {"n": 1}, lambda: (st, {"k": 1}), mode="use", **kw)
    again, _ = get_or_build("m/xs", {"n": 1}, lambda: 1 / 0, mode="use", **kw)
    assert meta == {"k": 1} and store.path("m/xs").suffix == ".safetensors"
    for k in st:
        assert torch.equal(off[k], use[k]) and torch.equal(use[k], again[k])


def _save_many(root: str, worker: int) -> None:
    s = ArtifactStore(root)
    for i in range(8):
        s.save(f"w{worker}/a{i}", f"{worker}-{i}".encode(), {"i": i}, CMD, 0.0)
        s.save("shared", f"{worker}-{i}-shared-".encode() * (worker + 1), {"w": worker}, CMD, 0.0)


def test_concurrent_saves_leave_one_valid_manifest(store):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_save_many, args=(str(store.root), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    entries = json.loads(store.manifest_path.read_text())["artifacts"]
    assert len(entries) == 4 * 8 + 1
    rep = store.verify()
    assert rep.ok, rep.problems  # the shared artifact's file agrees with its entry
    assert not [p for p in store.root.rglob("*.tmp")]


def test_verify_cli_exit_codes(store, capsys):
    root = str(store.root)
    store.save("m/xs", b"weights", {"n": 1}, CMD, 1.0, suffix=".bin")
    store.save("cells/a", b"cell", {"n": 2}, "make report NB=02 PROFILE=full", 1.0, suffix=".csv")
    assert main(["artifacts", "verify", "--root", root]) == 0
    assert "2 artifacts" in capsys.readouterr().out
    assert main(["artifacts", "list", "--root", root]) == 0
    assert "m/xs" in capsys.readouterr().out

    (store.root / "m/xs.bin").write_bytes(b"weightz")  # tampered
    (store.root / "cells/a.csv").unlink()  # missing
    assert main(["artifacts", "verify", "--root", root]) == 1
    err = capsys.readouterr().err
    assert "'m/xs'" in err and "sha256" in err and "update make report NB=01 PROFILE=full" in err
    assert "'cells/a'" in err and "file missing" in err and "NB=02" in err


def test_verify_fails_on_unlisted_file_and_over_budget(store, capsys):
    store.save("a", b"x" * 100, {}, CMD, 0.0)
    (store.root / "stray.pt").write_bytes(b"?")
    assert main(["artifacts", "verify", "--root", str(store.root)]) == 1
    assert "stray.pt" in capsys.readouterr().err
    (store.root / "stray.pt").unlink()
    m = json.loads(store.manifest_path.read_text())
    m["budget_bytes"] = 50
    store.manifest_path.write_text(json.dumps(m))
    assert main(["artifacts", "verify", "--root", str(store.root)]) == 1
    assert "100 bytes, over the budget of 50 bytes" in capsys.readouterr().err


def test_manifest_path_outside_the_store_is_refused(store):
    store.save("a", b"x", {}, CMD, 0.0)
    m = json.loads(store.manifest_path.read_text())
    m["artifacts"]["a"]["path"] = "../outside"
    store.manifest_path.write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="path leaves"):
        store.load("a", {})


def test_bad_names_are_refused(store):
    for bad in ("../x", "/abs", "a//b", "a/../b", ""):
        with pytest.raises(ValueError, match="artifact name"):
            store.save(bad, b"x", {}, CMD, 0.0)


def test_metrics_rounding_makes_reruns_byte_identical(tmp_path):
    from sparselab.reports.writer import ReportWriter

    a, b = ReportWriter(tmp_path / "a"), ReportWriter(tmp_path / "b")
    a.add_metrics({"acc": 0.1 + 0.2, "loss": np.float32(3.0451234), "z": -0.0, "nan": float("nan"),
                   "n": np.int64(7), "curve": np.array([1 / 3, 2 / 3])})
    b.add_metrics({"acc": 0.3, "loss": 3.0451236, "z": 0.0, "nan": None, "n": 7,
                   "curve": [0.33333333, 0.6666667]})
    assert a.metrics_path.read_bytes() == b.metrics_path.read_bytes()
    m = a.metrics()
    assert m["acc"] == 0.3 and m["loss"] == 3.04512 and m["n"] == 7 and m["nan"] is None
    assert json.dumps(m["z"]) == "0.0"
    # differences above the stated precision still show
    b.add_metrics({"acc": 0.30001})
    assert b.metrics()["acc"] != a.metrics()["acc"]


def test_timings_go_to_their_own_file(tmp_path):
    from sparselab.reports.writer import ReportWriter

    w = ReportWriter(tmp_path)
    w.add_timings({"train_wall_s": 483.2719, "tokens_per_s": 1234567.0})
    assert not w.metrics_path.exists()
    assert json.loads(w.timings_path.read_text()) == {"train_wall_s": 483.3,
                                                      "tokens_per_s": 1235000.0}


def _report(root, name, metrics, claims=None):
    d = root / name
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps(metrics))
    if claims is not None:
        (d / "claims.json").write_text(json.dumps(claims))


def test_report_compare_within_and_beyond_tolerance(tmp_path, capsys):
    from sparselab.reports.compare import compare_trees

    a, b = tmp_path / "reports", tmp_path / "fresh"
    claim = {"id": "c1", "estimate": 0.80, "verdict": "agrees", "ci_low": None}
    _report(a, "01_x", {"acc": 0.90, "loss": 3.0, "n": 4}, [claim])
    _report(a, "02_y", {"r2": 0.5})  # not recomputed: not compared
    _report(b, "01_x", {"acc": 0.915, "loss": 3.14, "n": 4}, [claim | {"estimate": 0.81}])
    assert compare_trees(a, b) == []  # 0.015 <= 0.02 + 0.05*0.9; 0.14 <= 0.02 + 0.15
    assert main(["report", "compare", str(a), str(b)]) == 0
    assert "within |fresh - committed| <= 0.02 + 0.05 * |committed|" in capsys.readouterr().out

    (b / "01_x").joinpath("metrics.json").write_text(json.dumps({"acc": 0.99, "loss": 3.0}))
    (b / "01_x").joinpath("claims.json").write_text(json.dumps([claim | {"verdict": "disagrees"}]))
    keys = {(d.file, d.key) for d in compare_trees(a, b)}
    assert keys == {("metrics.json", "acc"), ("metrics.json", "n"),
                    ("claims.json", "[c1].verdict")}
    assert main(["report", "compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "01_x/claims.json [c1].verdict: committed 'agrees', fresh 'disagrees'" in out
    assert compare_trees(a, b, atol=0.1) != []  # the verdict flip stays whatever the tolerance


def test_report_run_sets_the_artifact_mode_by_profile(monkeypatch):
    from sparselab.artifacts.build import artifact_mode

    monkeypatch.delenv("SPARSELAB_ARTIFACTS", raising=False)
    with artifact_mode("full") as m:
        assert m == "use" and build_mod.current_mode() == "use"
    assert build_mod.current_mode() == "off"
    with artifact_mode("smoke") as m:
        assert m == "off"
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "fresh")  # FRESH=1 wins over the profile
    with artifact_mode("full") as m:
        assert m == "fresh"
    assert build_mod.current_mode() == "fresh"


def test_study01_models_come_from_fp16_artifacts(store, tmp_path, monkeypatch, one_thread):
    """The proof of the API: study 01's trained models through get_or_build (tiny model)."""
    from sparselab.models import recipe as recipe_mod
    from sparselab.models.trainer import TrainConfig
    from sparselab.studies.sparse_attention import pipeline

    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SPARSELAB_ARTIFACTS_DIR", str(store.root))

    def tiny(cfg, name, seed=0, lr=3e-3):  # synthetic tasks only, a few steps: no real data, seconds
        return recipe_mod.SuiteRecipe(model=name, tasks="niah_single", lengths=(32,),
                                      sources=("synthetic",),
                                      train=TrainConfig(steps=int(cfg.train_steps[name]), lr=lr,
                                                        batch_size=2, warmup=1, seed=0))

    monkeypatch.setattr(pipeline, "recipe_for", tiny)
    cfg = pipeline.Config.from_overrides(models=["xs"], train_steps={"xs": 2})
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "use")
    model, meta, key = pipeline.train_models(cfg)["xs"]
    name = f"01_sparse_attention/models/{tiny(cfg, 'xs').slug()}"
    e = store.entry(name)
    assert e["kind"] == "checkpoint" and e["path"].endswith(".safetensors")
    assert e["fingerprint"] == fingerprint(tiny(cfg, "xs").to_dict(), pipeline.MODEL_ARTIFACT_VERSION)
    assert key["weights"] == "fp16" and meta["history"]

    # from the artifact, with training impossible: the same weights
    import shutil

    shutil.rmtree(tmp_path / "cache")
    monkeypatch.setattr(pipeline, "_trained_state", lambda r: 1 / 0)
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "require")
    again, _, _ = pipeline.train_models(cfg)["xs"]
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    # a changed recipe (another lr: same slug, so the same name) is refused, naming the command
    monkeypatch.setenv("SPARSELAB_ARTIFACTS", "use")
    monkeypatch.setattr(pipeline, "recipe_for", lambda c, n, seed=0: tiny(c, n, lr=1e-3))
    with pytest.raises(ArtifactError, match=r"models/xs-.*another configuration.*train\.lr.*NB=01"):
        pipeline.train_models(cfg)
