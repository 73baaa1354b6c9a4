"""Atomic writes, cache folders, registries, study configs, report writer."""
from __future__ import annotations

import dataclasses
import json

import pytest

from sparselab.cache import atomic_dir, atomic_write_json, cache_path, is_complete, stable_hash
from sparselab.registry import Registry
from sparselab.reports.writer import ReportWriter
from sparselab.studies.base import StudyConfig


def test_atomic_dir_failure_leaves_previous_content(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as d:
        (d / "a.txt").write_text("first")
    assert is_complete(final) and (final / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError), atomic_dir(final) as d:
        (d / "a.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert (final / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging left behind


def test_interrupted_first_write_is_not_complete(tmp_path):
    final = tmp_path / "never"
    with pytest.raises(KeyboardInterrupt), atomic_dir(final):
        raise KeyboardInterrupt
    assert not final.exists() and not is_complete(final)


def test_cache_path_is_keyed_and_readable(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path))
    a = cache_path("encoded", "scifact dense", {"k": 1})
    assert a.parent == tmp_path / "encoded" and a.name.startswith("scifact-dense-")
    assert a != cache_path("encoded", "scifact dense", {"k": 2})
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})


def test_registry_unknown_key_names_known_ones():
    reg: Registry[int] = Registry("widget")
    reg.add("one", 1)
    with pytest.raises(KeyError, match="unknown widget 'two'; known: one"):
        reg.get("two")
    with pytest.raises(ValueError, match="twice"):
        reg.add("one", 2)


@dataclasses.dataclass
class _Cfg(StudyConfig):
    alpha: float = 0.1
    depth: int = 3


def test_config_from_params_and_overrides():
    assert _Cfg.from_params({"alpha": 0.5, "depth": 2, "other": 1}) == _Cfg(0.5, 2)
    with pytest.raises(ValueError, match="missing: depth"):
        _Cfg.from_params({"alpha": 0.5})
    with pytest.raises(ValueError, match="unknown parameter"):
        _Cfg.from_overrides(alfa=0.2)


def test_report_writer_merges_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_REPORT_DIR", str(tmp_path))
    rep = ReportWriter.open("xx")
    rep.add_metrics({"ndcg@10/alpha=0.1": 0.5})
    rep.add_headline({"best": float("nan")})
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data == {"ndcg@10/alpha=0.1": 0.5, "headline/best": None}
    atomic_write_json(tmp_path / "x.json", {"b": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"b": 1}


def test_atomic_dir_keeps_a_complete_copy_another_writer_published_first(tmp_path, monkeypatch):
    import os

    from sparselab import cache

    final = tmp_path / "cell"
    real = os.replace

    raced = []

    def racing_replace(src, dst):  # another process publishes `final` just before our rename
        if str(dst) == str(final) and not raced:
            raced.append(1)
            other = tmp_path / "other"
            other.mkdir()
            (other / "x").write_text("theirs")
            (other / cache._DONE).write_text("ok\n")
            real(other, final)
        return real(src, dst)

    monkeypatch.setattr(cache.os, "replace", racing_replace)
    with cache.atomic_dir(final) as tmp:
        (tmp / "x").write_text("ours")
    assert cache.is_complete(final) and (final / "x").read_text() in ("ours", "theirs")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
