"""sparselab.sweeps: the cell cache, backends agreeing, failures listed, thread caps."""
from __future__ import annotations

import json
import threading

import pandas as pd
import pytest

from sparselab.sweeps import SweepError, SweepTimeout, cell_path, run_sweep, stage_dir
from sparselab.sweeps.cells import read_cell, write_cell
from sparselab.sweeps.demo import demo_cell
from sparselab.sweeps.threads import limited


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cell cache of its own for each test."""
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def cells(n=4, **extra):
    return [{"seed": s, "n": 32, **extra} for s in range(n)]


def serial(cs, **kw):
    return run_sweep(demo_cell, cs, stage="t", executor="serial", **{"progress": False, **kw})


def test_rows_come_back_in_cell_order_and_are_cached(cache):
    cs = cells(5)
    res = serial(cs)
    assert res.ok and res.computed == 5 and res.cached == 0
    with limited(1):  # each row is the cell's own: recomputed alone, in reverse order
        alone = [json.loads(json.dumps(demo_cell(c))) for c in reversed(cs)][::-1]
    assert res.rows == alone
    files = sorted(stage_dir("t").glob("*.json"))
    assert len(files) == 5 and not list(stage_dir("t").glob(".*"))  # no temporary files left
    doc = json.loads(cell_path(cs[2], "t", 1).read_text())
    assert doc["cell"] == cs[2] and doc["row"] == res.rows[2] and doc["info"]["executor"] == "serial"


def test_rerun_skips_finished_cells_and_recomputes_only_missing(cache):
    cs = cells(4)
    first = serial(cs)
    again = serial(cs)
    assert again.computed == 0 and again.cached == 4 and again.rows == first.rows
    cell_path(cs[1], "t", 1).unlink()
    third = serial(cs)
    assert third.computed == 1 and third.cached == 3 and third.rows == first.rows


def test_version_and_stage_are_part_of_the_key(cache):
    c = cells(1)[0]
    assert cell_path(c, "t", 1) != cell_path(c, "t", 2)
    assert cell_path(c, "t", 1).parent != cell_path(c, "u", 1).parent
    serial([c])
    assert serial([c], version=2).computed == 1


def test_equal_cells_run_once_and_share_their_row(cache):
    c = cells(1)[0]
    res = serial([c, dict(c), cells(2)[1]])
    assert res.computed == 2 and res.rows[0] == res.rows[1]


def test_failed_cells_are_listed_kept_in_the_frame_and_never_cached(cache, capfd):
    cs = cells(4)
    cs[2] = {**cs[2], "fail": True}
    res = serial(cs, errors="keep", progress=True)
    assert set(res.errors) == {2} and "ValueError: demo cell seed=2 was asked to fail" in res.errors[2]
    frame = res.frame()
    assert len(frame) == 4 and frame.error.notna().tolist() == [False, False, True, False]
    assert pd.isna(frame.loc[2, "torch_sum"]) and frame.loc[2, "seed"] == 2
    assert not cell_path(cs[2], "t", 1).exists()
    err = capfd.readouterr().err
    assert "4/4" in err and "failed=1" in err  # the bar: done / total and failures
    assert "1 of 4 cells failed" in err and "seed=2" in err
    with pytest.raises(SweepError, match=r"1 of 4 cells failed(.|\n)*asked to fail") as info:
        serial(cs)
    assert info.value.result.cached == 3  # the finished cells were read back, not recomputed


def test_a_row_json_cannot_hold_is_a_failed_cell(cache):
    res = run_sweep(_returns_a_set, cells(1), stage="t", executor="serial", errors="keep",
                    progress=False)
    assert "JSON cannot hold" in res.errors[0]


def _returns_a_set(cell):
    return {"x": {1, 2}}


@pytest.mark.parametrize("bad, match", [
    ([["seed", 1]], "must be a dict"),
    ([{"seed": {1, 2}}], "not plain JSON"),
    ([{"x": float("nan")}], "not plain JSON"),
])
def test_bad_cells_raise_before_anything_runs(cache, bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        serial(bad)
    assert not stage_dir("t").exists()


def test_bad_options_raise_naming_them(cache):
    with pytest.raises(ValueError, match="executor 'threads'"):
        run_sweep(demo_cell, cells(1), stage="t", executor="threads")
    with pytest.raises(ValueError, match="stage 'a/b'"):
        run_sweep(demo_cell, cells(1), stage="a/b", executor="serial")
    with pytest.raises(ValueError, match="errors="):
        run_sweep(demo_cell, cells(1), stage="t", errors="ignore")


def test_two_writers_of_one_cell_leave_one_valid_copy(cache):
    c, row = cells(1)[0], {"v": list(range(2000))}
    path = cell_path(c, "t", 1)
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            if path.exists():
                seen.append(read_cell(path, c))

    def writer(k):
        for _ in range(30):
            write_cell(path, c, "t", 1, row, {"writer": k})

    threads = [threading.Thread(target=reader)] + [threading.Thread(target=writer, args=(k,))
                                                    for k in range(4)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(timeout=60)
    stop.set()
    threads[0].join(timeout=10)
    assert seen and all(s == row for s in seen)  # a reader never saw a partial file
    assert [p.name for p in stage_dir("t").iterdir()] == [path.name]


def test_a_corrupt_cell_file_is_recomputed(cache):
    c = cells(1)[0]
    first = serial([c])
    cell_path(c, "t", 1).write_text("{not json")
    again = serial([c])
    assert again.computed == 1 and again.rows == first.rows


def test_frame_to_parquet_round_trips(cache, tmp_path):
    res = serial(cells(3))
    out = res.to_parquet(tmp_path / "cells.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), res.frame())


def test_serial_caps_threads_per_cell_and_restores_the_callers(cache):
    import torch

    before = torch.get_num_threads()
    res = serial(cells(2), threads=1)
    assert [r["torch_threads"] for r in res.rows] == [1, 1]
    assert torch.get_num_threads() == before
    info = json.loads(cell_path(cells(2)[0], "t", 1).read_text())["info"]["threads"]
    assert info["torch"] == 1 and info["numba"] == 1
    assert all(p.endswith("=1") for p in info["pools"])  # every BLAS / OpenMP pool


def test_local_processes_equal_serial_with_one_thread_each(tmp_path, monkeypatch):
    cs = cells(4)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "serial"))
    ref = serial(cs)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "local"))
    res = run_sweep(demo_cell, cs, stage="t", executor="local", workers=2, progress=False,
                    timeout=600)
    assert res.computed == 4 and res.rows == ref.rows
    infos = [json.loads(cell_path(c, "t", 1).read_text())["info"] for c in cs]
    assert all(i["threads"]["torch"] == 1 and i["threads"]["numba"] == 1 for i in infos)
    assert all(p.endswith("=1") for i in infos for p in i["threads"]["pools"])
    assert {i["pid"] for i in infos} - {__import__("os").getpid()}  # ran in other processes


def test_report_cli_selects_the_executor_and_scheduler():
    from sparselab.cli import build_parser
    from sparselab.reports.cli import sweep_overrides

    def opts(*argv):
        return sweep_overrides(build_parser().parse_args(["report", "run", "04", *argv]))

    assert opts() == {}
    assert opts("--executor", "dask") == {"executor": "dask"}
    assert opts("--scheduler", "tcp://127.0.0.1:8786") == {"executor": "dask",
                                                           "scheduler": "tcp://127.0.0.1:8786"}
    with pytest.raises(ValueError, match="--scheduler needs --executor dask"):
        opts("--executor", "serial", "--scheduler", "tcp://127.0.0.1:8786")


def test_report_run_rejects_an_executor_the_config_does_not_know():
    from sparselab.reports.runner import check_params, find_notebook, load_params

    nb = find_notebook("04")
    check_params(nb, {**load_params(nb, "smoke"), "executor": "dask"})
    with pytest.raises(ValueError, match="executor"):
        check_params(nb, {**load_params(nb, "smoke"), "executor": "threads"})


def test_make_report_passes_executor_and_scheduler():
    import shutil
    import subprocess
    from pathlib import Path

    if not shutil.which("make"):
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(["make", "-n", "report", "NB=04", "PROFILE=smoke", "EXECUTOR=dask",
                          "SCHEDULER=tcp://127.0.0.1:8786"], cwd=root, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert ("sparselab report run 04 --profile smoke --executor dask "
            "--scheduler tcp://127.0.0.1:8786") in out


def test_sweep_check_command_compares_a_backend_with_serial(cache, capsys):
    from sparselab.cli import main

    assert main(["sweep", "check", "--executor", "serial", "--cells", "2"]) == 0
    assert "2 demo cells on serial" in capsys.readouterr().out
    assert not stage_dir("sweep_check").exists()  # a check caches nothing


def test_a_sweep_past_its_timeout_stops_and_keeps_finished_cells(cache):
    from sparselab.sweeps import threads

    threads.current()  # torch and numba imported before the clock starts
    cs = cells(6, sleep=1.0)
    with pytest.raises(SweepTimeout, match=r"timed out after 1.5 s; \d of 6 cells are finished"):
        serial(cs, timeout=1.5)
    kept = [c for c in cs if cell_path(c, "t", 1).exists()]
    assert 1 <= len(kept) < 6
    assert serial(cs).cached == len(kept)  # the rerun resumes


def test_local_timeout_does_not_wait_for_running_cells(cache):
    import time

    t0 = time.monotonic()
    with pytest.raises(SweepTimeout):
        run_sweep(demo_cell, cells(2, sleep=60), stage="t", executor="local", workers=2,
                  progress=False, timeout=3)
    assert time.monotonic() - t0 < 60  # the workers were terminated, not waited for
