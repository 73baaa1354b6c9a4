"""Dask backend on real processes: CLI scheduler + workers, a worker killed, the scheduler lost.

Every address is 127.0.0.1; every wait is bounded by a deadline; every process a test starts
is stopped by its pid.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sparselab
from sparselab.sweeps import SchedulerLostError, backends, cell_path, run_sweep, stage_dir
from sparselab.sweeps.demo import demo_cell

START_S = 180  # a process start on a loaded 2-core machine (torch imports) stays under this
RUN_S = 600  # every sweep in this file finishes well within this (its `timeout`)


def wait_until(pred, timeout: float, what: str, step: float = 0.1):
    """Poll `pred` until true; a timeout fails the test naming what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def dask_cli() -> str:
    exe = Path(sys.executable).with_name("dask")
    found = str(exe) if exe.exists() else shutil.which("dask")
    if not found:
        pytest.skip("the `dask` command-line tool is not installed")
    return found


def child_env() -> dict:
    """This checkout's package on the workers' path (they import the cell function by name)."""
    src = str(Path(sparselab.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM by pid, then SIGKILL if it has not exited within `timeout`."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


@pytest.fixture
def cli_cluster(tmp_path):
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, started with the CLI tools."""
    procs: list[subprocess.Popen] = []
    log = (tmp_path / "dask.log").open("w")

    def start(n_workers: int) -> tuple[str, subprocess.Popen, list[subprocess.Popen]]:
        sfile = tmp_path / "scheduler.json"
        sched = subprocess.Popen([dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(sfile)],
                                 env=child_env(), stdout=log, stderr=log)
        procs.append(sched)
        address = wait_until(lambda: sfile.exists() and json.loads(sfile.read_text() or "{}")
                             .get("address"), START_S, "the scheduler file")
        workers = []
        for _ in range(n_workers):
            w = subprocess.Popen([dask_cli(), "worker", address, "--host", "127.0.0.1",
                                  "--nthreads", "1", "--no-dashboard"],
                                 env=child_env(), stdout=log, stderr=log)
            procs.append(w)
            workers.append(w)
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=START_S)
        return address, sched, workers

    yield start
    for p in reversed(procs):
        stop(p)
    log.close()
    assert all(p.poll() is not None for p in procs)


def serial_rows(cells, cache: Path, monkeypatch):
    monkeypatch.setenv("SPARSELAB_CACHE", str(cache))
    return run_sweep(demo_cell, cells, stage="d", executor="serial", progress=False, timeout=RUN_S).rows


def test_cli_scheduler_and_two_workers_equal_serial(cli_cluster, tmp_path, monkeypatch):
    cells = [{"seed": s, "n": 48} for s in range(8)]
    ref = serial_rows(cells, tmp_path / "serial", monkeypatch)
    address, _, _ = cli_cluster(2)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "dask"))
    res = run_sweep(demo_cell, cells, stage="d", executor="dask", scheduler=address,
                    progress=False, timeout=RUN_S)
    assert res.computed == 8 and res.rows == ref
    infos = [json.loads(cell_path(c, "d", 1).read_text())["info"] for c in cells]
    assert len({i["pid"] for i in infos}) == 2  # both workers ran cells
    assert all(i["threads"]["torch"] == 1 for i in infos)
    # the same address from the environment variable
    monkeypatch.setenv("SPARSELAB_SCHEDULER", address)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "dask-env"))
    again = run_sweep(demo_cell, cells[:2], stage="d", executor="dask", progress=False, timeout=RUN_S)
    assert again.rows == ref[:2]


@pytest.mark.slow  # ~10 s idle, a minute on a loaded machine; the CLI-cluster test stays fast
def test_scheduler_lost_names_the_address_and_keeps_finished_cells(cli_cluster, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_S", 5.0)  # reconnect attempts: 5 s, not 30
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    address, sched, _ = cli_cluster(1)
    cells = [{"seed": s, "n": 32, "sleep": 1.0} for s in range(10)]

    def kill_scheduler_after_two_cells():
        wait_until(lambda: len(list(stage_dir("d").glob("*.json"))) >= 2 if stage_dir("d").exists()
                   else False, START_S, "two finished cells")
        os.kill(sched.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_scheduler_after_two_cells, daemon=True)
    killer.start()
    t0 = time.monotonic()
    with pytest.raises(SchedulerLostError, match=f"scheduler at {address}") as info:
        run_sweep(demo_cell, cells, stage="d", executor="dask", scheduler=address, progress=False, timeout=RUN_S)
    killer.join(timeout=5)
    assert time.monotonic() - t0 < START_S
    kept = [c for c in cells if cell_path(c, "d", 1).exists()]
    assert 2 <= len(kept) < len(cells) and f"{len(kept)} of 10 cells are finished" in str(info.value)
    for c in kept:  # every kept cell is whole and correct
        assert json.loads(cell_path(c, "d", 1).read_text())["row"] == demo_cell(c) | {
            "torch_threads": 1}


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_S", 2.0)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SchedulerLostError, match=r"cannot reach the Dask scheduler at "
                                                 r"tcp://127\.0\.0\.1:9"):
        run_sweep(demo_cell, [{"seed": 0}], stage="d", executor="dask",
                  scheduler="tcp://127.0.0.1:9", progress=False, timeout=RUN_S)


def test_worker_killed_mid_cell_local_cluster_completes_every_cell(tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    cells = [{"seed": s, "n": 32, "sleep": 2.0, "marker_dir": str(marks)} for s in range(6)]
    plain = [{k: v for k, v in c.items() if k not in ("sleep", "marker_dir")} for c in cells]
    ref = serial_rows(plain, tmp_path / "serial", monkeypatch)
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "dask"))
    killed = {}

    def kill_a_worker_running_a_cell():
        mark = wait_until(lambda: sorted(marks.glob("*.started")), START_S, "a cell to start")[0]
        seed, pid = (int(x) for x in mark.stem.split("-"))
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)  # the worker process, while it sleeps inside the cell
        killed.update(seed=seed, pid=pid)

    killer = threading.Thread(target=kill_a_worker_running_a_cell, daemon=True)
    killer.start()
    res = run_sweep(demo_cell, cells, stage="d", executor="dask", workers=2, progress=False, timeout=RUN_S)
    killer.join(timeout=5)
    assert killed, "no worker was killed"
    assert res.ok and res.rows == ref  # every cell, in order, with the serial numbers
    files = sorted(stage_dir("d").glob("*.json"))
    assert len(files) == len(cells) and not list(stage_dir("d").glob(".*"))  # none duplicated
    assert all(json.loads(f.read_text())["row"] for f in files)  # none corrupt
    reruns = list(marks.glob(f"{killed['seed']}-*.started"))
    assert len(reruns) >= 2  # the killed cell started again on a live worker
    final = json.loads(cell_path(cells[killed["seed"]], "d", 1).read_text())["info"]["pid"]
    assert final != killed["pid"]


@pytest.mark.slow
def test_worker_killed_mid_cell_local_processes_completes_every_cell(tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    cells = [{"seed": s, "n": 32, "sleep": 2.0, "marker_dir": str(marks)} for s in range(4)]
    monkeypatch.setenv("SPARSELAB_CACHE", str(tmp_path / "local"))

    def kill_first():
        mark = wait_until(lambda: sorted(marks.glob("*.started")), START_S, "a cell to start")[0]
        os.kill(int(mark.stem.split("-")[1]), signal.SIGKILL)

    killer = threading.Thread(target=kill_first, daemon=True)
    killer.start()
    res = run_sweep(demo_cell, cells, stage="d", executor="local", workers=2, progress=False, timeout=RUN_S)
    killer.join(timeout=5)
    assert res.ok and len(list(stage_dir("d").glob("*.json"))) == 4
    plain = [{k: v for k, v in c.items() if k not in ("sleep", "marker_dir")} for c in cells]
    assert res.rows == serial_rows(plain, tmp_path / "serial", monkeypatch)
