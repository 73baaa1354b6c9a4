"""The three backends that run cells: serial, local processes, Dask distributed.

Each backend is a generator over `(index, outcome, error)` in completion order: `outcome` is
what `compute` returned (`{"row", "info"}`) or None with `error` a one-line description. The
driver (`sweeps.run`) puts rows back in the cells' order, caches them and shows progress, so
worker order never reaches a result.
"""
from __future__ import annotations

import json
import os
import socket
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import threads as _threads

EXECUTORS = ("serial", "local", "dask")
SCHEDULER_ENV = "SPARSELAB_SCHEDULER"
CONNECT_TIMEOUT_S = 30.0  # reaching a scheduler, and trying to reconnect to a lost one
# Dask's statistical profiler samples every worker's stack each 10 ms in a thread of its own:
# a third busy thread per worker on a loaded machine (benchmarks/sweep_threads.py); cells are
# profiled by their own code, so it is off in the workers we start.
DASK_WORKER_ENV = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
Todo = list[tuple[int, dict]]
Outcome = Iterator[tuple[int, dict | None, str | None]]


class SchedulerLostError(RuntimeError):
    """The Dask scheduler could not be reached, or went away during the sweep."""


class SweepTimeout(TimeoutError):
    """The sweep ran past its `timeout`; finished cells are kept."""


def _left(deadline: float | None) -> float | None:
    """Seconds until `deadline` (a `time.monotonic()` value); None: no limit."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise SweepTimeout("timed out")


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-able")


def compute(fn: Callable[[dict], Mapping], cell: dict, threads: int) -> dict:
    """Run one cell in this process, thread-capped; its row goes through JSON and back.

    The round trip makes a fresh row identical to one read from the cell cache (tuples become
    lists, numpy numbers Python numbers), so a rerun cannot change a table's types.
    """
    settings = _threads.apply(threads)
    t0, c0 = time.perf_counter(), time.process_time()
    row = fn(dict(cell))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if not isinstance(row, Mapping):
        raise TypeError(f"{_name(fn)} returned {type(row).__name__}, not a dict row")
    try:
        row = json.loads(json.dumps(dict(row), sort_keys=True, default=_jsonable))
    except TypeError as exc:
        raise TypeError(f"{_name(fn)} returned a row JSON cannot hold: {exc}") from None
    info = {"wall_s": wall, "cpu_s": cpu, "host": socket.gethostname(), "pid": os.getpid(), "threads": settings}
    return {"row": row, "info": info}


def _name(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def describe(exc: BaseException) -> str:
    """One line naming an exception: `ValueError: message`."""
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}".rstrip(": ")


def run_serial(fn: Callable, todo: Todo, threads: int, deadline: float | None = None) -> Outcome:
    """In this process, one cell after another (the caller's thread settings are restored;
    the deadline is checked between cells)."""
    with _threads.limited(threads):
        for i, cell in todo:
            _check(deadline)
            try:
                yield i, compute(fn, cell, threads), None
            except Exception as exc:  # noqa: BLE001 - any cell failure is reported
                yield i, None, describe(exc) + _where(exc)


def _where(exc: BaseException) -> str:
    """` (at file:line)` of the innermost frame, for a failure listed in one line."""
    tb = traceback.extract_tb(exc.__traceback__)
    return f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""


def run_local(fn: Callable, todo: Todo, threads: int, workers: int, max_crashes: int = 2,
              deadline: float | None = None) -> Outcome:
    """Spawned worker processes on this machine, at most `workers` cells in flight.

    A worker that dies (killed, out of memory, segfault) breaks the pool: the cells it and its
    siblings were running are resubmitted to a fresh pool, and a cell in flight during more
    than `max_crashes` deaths is reported failed, so a cell that always crashes cannot loop.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    def pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                                   initializer=_threads.set_env, initargs=(threads,))

    queue, inflight, crashes = deque(todo), {}, Counter()
    ex, clean = pool(), False
    try:
        while queue or inflight:
            while queue and len(inflight) < workers:
                i, cell = queue.popleft()
                inflight[ex.submit(compute, fn, cell, threads)] = (i, cell)
            done, _ = wait(inflight, timeout=_left(deadline), return_when=FIRST_COMPLETED)
            if not done:
                raise SweepTimeout("timed out")
            lost = []
            for fut in done:
                i, cell = inflight.pop(fut)
                exc = fut.exception()
                if isinstance(exc, BrokenProcessPool):
                    lost.append((i, cell))
                elif exc is not None:
                    yield i, None, describe(exc)
                else:
                    yield i, fut.result(), None
            if lost:  # every other in-flight cell went down with the pool
                lost += [inflight.pop(f) for f in list(inflight)]
                ex.shutdown(wait=True, cancel_futures=True)
                ex = pool()
                for i, cell in sorted(lost, reverse=True):
                    crashes[i] += 1
                    if crashes[i] > max_crashes:
                        yield i, None, (f"WorkerDied: a worker process died while running this "
                                        f"cell {crashes[i]} times")
                    else:
                        queue.appendleft((i, cell))
        clean = True
    finally:
        if not clean:  # timeout, Ctrl-C, a consumer that stopped: do not wait for running cells
            for proc in list(getattr(ex, "_processes", {}).values()):  # no public API (< 3.14)
                proc.terminate()
        ex.shutdown(wait=clean, cancel_futures=True)


def scheduler_address(scheduler: str | None) -> str:
    """The scheduler to use: the argument, else `$SPARSELAB_SCHEDULER`, else '' (LocalCluster)."""
    return (scheduler or os.environ.get(SCHEDULER_ENV, "")).strip()


def run_dask(fn: Callable, todo: Todo, threads: int, workers: int, scheduler: str | None,
             deadline: float | None = None) -> Outcome:
    """Dask distributed: an existing scheduler by address, else a LocalCluster of processes.

    Workers retry a cell whose worker died (Dask's `allowed-failures`, default 3); the
    scheduler going away raises `SchedulerLostError` naming its address.
    """
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    cluster = None
    quiet = _quiet_client_logs()
    if address:
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            quiet()
            raise SchedulerLostError(f"cannot reach the Dask scheduler at {address} "
                                     f"({describe(exc)})") from None
    else:
        # One cell per worker process at a time; the process's share of cores goes to the cell.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, silence_logs=50,
                               env={**_threads.worker_env(threads), **DASK_WORKER_ENV})
        client = Client(cluster)
        address = cluster.scheduler_address
    token = os.urandom(4).hex()  # one sweep's task keys never collide with another's
    try:
        futures = {client.submit(compute, fn, cell, threads, key=f"cell-{i}-{token}", pure=False): i
                   for i, cell in todo}
        yield from _collect_dask(futures, client, address, deadline)
    finally:
        client.close(timeout=CONNECT_TIMEOUT_S)
        if cluster is not None:
            cluster.close()
        quiet()


def _quiet_client_logs() -> Callable[[], None]:
    """Silence the client's reconnect tracebacks (the sweep raises one clear error instead);
    returns the function that restores the previous levels."""
    import logging

    loggers = [logging.getLogger(n) for n in ("distributed.client", "distributed.comm",
                                              "distributed.core", "distributed.utils")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    return lambda: [lg.setLevel(v) for lg, v in zip(loggers, levels)]


def _collect_dask(futures: dict, client, address: str, deadline: float | None) -> Outcome:
    from distributed import as_completed

    try:
        for fut in as_completed(futures, timeout=_left(deadline)):
            i = futures[fut]
            if fut.status == "finished":
                yield i, fut.result(), None
            elif fut.status == "error":
                yield i, None, describe(fut.exception())
            else:  # cancelled: the client lost its scheduler
                raise SchedulerLostError(f"lost the Dask scheduler at {address} "
                                         f"(a cell's task was {fut.status})")
    except SchedulerLostError:
        raise
    except TimeoutError as exc:  # as_completed's deadline (a lost scheduler raises others)
        if deadline is not None and time.monotonic() >= deadline - 1.0:
            raise SweepTimeout("timed out") from None
        raise SchedulerLostError(f"lost the Dask scheduler at {address} ({describe(exc)})") from None
    except Exception as exc:
        if client.status in ("running",) and not _comm_error(exc):
            raise
        raise SchedulerLostError(f"lost the Dask scheduler at {address} ({describe(exc)})") from None


def _comm_error(exc: BaseException) -> bool:
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    return isinstance(exc, (CommClosedError, CancelledError, OSError, TimeoutError))
