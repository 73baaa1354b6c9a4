"""`run_sweep`: read finished cells, run the rest on a backend, cache each as it lands."""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import backends
from . import cells as _cells

FAILED_LIST_MAX = 20  # failed cells printed one per line; the rest are counted


class SweepError(RuntimeError):
    """Some cells failed; every finished cell is cached, the failed ones are listed."""

    def __init__(self, message: str, result: SweepResult):
        super().__init__(message)
        self.result = result


@dataclass
class SweepResult:
    """Rows in the cells' order (`None` where a cell failed) and the failures by position.

    `infos` holds, per cell, where and how it ran (wall and CPU seconds, host, pid, threads):
    what varies between runs, kept out of the rows so that rows depend only on the cells.
    """

    stage: str
    cells: list[dict]
    rows: list[dict | None]
    infos: list[dict | None] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def frame(self, cell_columns: bool = True) -> pd.DataFrame:
        """One row per cell, in the cells' order: the cell's inputs, its row and `error`.

        A failed cell keeps its line (inputs, NaN values, the error), so it cannot silently
        disappear from a table built on this frame. Row keys win over cell keys of the same name.
        """
        out = []
        for i, (cell, row) in enumerate(zip(self.cells, self.rows)):
            rec = dict(cell) if cell_columns else {}
            rec.update(row or {})
            rec["error"] = self.errors.get(i)
            out.append(rec)
        return pd.DataFrame(out)

    def to_parquet(self, path: str | os.PathLike) -> Path:
        """The frame written atomically as Parquet (for a committed artifact)."""
        import io

        from ..cache import atomic_write_bytes

        buf = io.BytesIO()
        self.frame().to_parquet(buf, index=False)
        return atomic_write_bytes(path, buf.getvalue())

    def failures(self) -> list[str]:
        """`<slug>: <error>` per failed cell, in the cells' order."""
        return [f"{_cells.slug(self.cells[i])}: {e}" for i, e in sorted(self.errors.items())]


def _default_workers(threads: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, threads))


def _bar(total: int, initial: int, desc: str, progress: bool):
    """One bar over cells, where the person running the sweep sees it (`sparselab.progress`:
    the terminal of `sparselab report run`, never the rendered report)."""
    from ..progress import bar

    return bar(total=total, initial=initial, desc=desc, unit="cell", disable=not progress,
               mininterval=1.0)


def run_sweep(fn: Callable[[dict], Mapping], cells: Iterable[Mapping], *, stage: str,
              version: int = 1, executor: str = "local", scheduler: str | None = None,
              threads: int = 1, workers: int | None = None, desc: str | None = None,
              errors: str = "raise", progress: bool = True, cache: bool = True,
              timeout: float | None = None) -> SweepResult:
    """Run `fn(cell) -> row` over every cell; finished cells come from the cell cache.

    Args:
        fn: a module-level function (picklable by reference) from a JSON-able cell dict to a
            JSON-able row dict; its result depends only on the cell (seeds are in the cell).
        cells: JSON-able dicts of inputs. Equal cells run once and share their row.
        stage: folder under `<cache>/cells/`; version: the study's version, part of each key.
        executor: "serial", "local" (spawned processes, the default) or "dask".
        scheduler: Dask scheduler address (`tcp://host:8786`); empty -> `$SPARSELAB_SCHEDULER`,
            else a LocalCluster of `workers` processes on 127.0.0.1.
        threads: torch/numba/BLAS threads of each cell (fixed, so results do not depend on the
            backend); workers: processes (default: cores // threads).
        errors: "raise" (default) raises `SweepError` listing failed cells after every other
            cell finished; "keep" returns them in `errors` (and as `error` in `frame()`).
        cache: False runs every cell and writes no cell file (for a function that caches its
            own output, e.g. a model checkpoint).
        timeout: seconds for the whole sweep (None: no limit); past it `SweepTimeout` is
            raised and the finished cells are kept (the serial backend checks between cells).

    Returns:
        `SweepResult` with rows in the cells' order, never in completion order.
    """
    if executor not in backends.EXECUTORS:
        raise ValueError(f"executor {executor!r}: use one of {', '.join(backends.EXECUTORS)}")
    if errors not in ("raise", "keep"):
        raise ValueError(f"errors={errors!r}: use 'raise' or 'keep'")
    cells = list(cells)
    for i, c in enumerate(cells):  # every cell checked before anything runs
        _cells.canonical(c, f"sweep {stage!r}, cell {i}")
    cells = [dict(c) for c in cells]
    paths = [_cells.cell_path(c, stage, version) for c in cells]  # validates every cell first
    result = SweepResult(stage, cells, [None] * len(cells), [None] * len(cells))
    first: dict[Path, int] = {}  # equal cells: the first position runs, the others copy it
    todo = []
    for i, (cell, path) in enumerate(zip(cells, paths)):
        doc = _cells.read_doc(path, cell) if cache else None
        if doc is not None:
            result.rows[i], result.infos[i] = doc["row"], doc.get("info") or {}
            result.cached += 1
        elif path not in first:
            first[path] = i
            todo.append((i, cell))
    workers = int(workers) if workers else _default_workers(threads)
    bar = _bar(len(first) + result.cached, result.cached, desc or stage, progress)
    deadline = None if timeout is None else time.monotonic() + float(timeout)
    try:
        for i, outcome, error in _backend(fn, todo, executor, scheduler, threads, workers,
                                          deadline):
            if error is not None:
                result.errors[i] = error
            else:
                info = {**outcome["info"], "executor": executor,
                        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                if cache:
                    _cells.write_cell(paths[i], cells[i], stage, version, outcome["row"], info)
                result.rows[i], result.infos[i] = outcome["row"], info
                result.computed += 1
            bar.update()
            if result.errors:
                bar.set_postfix(failed=len(result.errors), refresh=False)
    except (backends.SchedulerLostError, backends.SweepTimeout) as exc:
        done = result.cached + result.computed
        what = f"sweep {stage!r} {exc} after {timeout:g} s" if isinstance(
            exc, backends.SweepTimeout) else str(exc)
        raise type(exc)(f"{what}; {done} of {len(cells)} cells are finished and kept under "
                        f"cells/{stage}/ (rerun to compute the rest)") from None
    finally:
        bar.close()
    _fill_duplicates(result, paths, first)
    if result.errors:
        _report_failures(result, errors)
    return result


def _backend(fn, todo, executor, scheduler, threads, workers, deadline):
    if not todo:
        return iter(())
    if executor == "serial":
        return backends.run_serial(fn, todo, threads, deadline)
    if executor == "local":
        return backends.run_local(fn, todo, threads, min(workers, len(todo)), deadline=deadline)
    return backends.run_dask(fn, todo, threads, workers, scheduler, deadline)


def _fill_duplicates(result: SweepResult, paths: list[Path], first: dict[Path, int]) -> None:
    for i, path in enumerate(paths):
        j = first.get(path)
        if j is not None and j != i and result.rows[i] is None:
            result.rows[i], result.infos[i] = result.rows[j], result.infos[j]
            if j in result.errors:
                result.errors[i] = result.errors[j]


def _report_failures(result: SweepResult, errors: str) -> None:
    lines = result.failures()
    shown = lines[:FAILED_LIST_MAX] + ([f"... and {len(lines) - FAILED_LIST_MAX} more"]
                                       if len(lines) > FAILED_LIST_MAX else [])
    head = (f"sweep {result.stage!r}: {len(lines)} of {len(result.cells)} cells failed "
            f"(finished cells are cached under cells/{result.stage}/):")
    message = "\n".join([head, *("  " + s for s in shown)])
    from ..progress import channel

    print(message, file=channel() or sys.stderr, flush=True)  # where the bar is

    if errors == "raise":
        raise SweepError(message, result)


def load_rows(stage: str, cells: Iterable[Mapping], version: int = 1) -> list[dict | None]:
    """Cached rows of `cells` (None where a cell is not finished), without running anything."""
    return [_cells.read_cell(_cells.cell_path(c, stage, version), c) for c in cells]


def stage_frame(stage: str) -> pd.DataFrame:
    """Every finished cell file of a stage as a DataFrame (inputs, row, version, key)."""
    rows = [{**d["cell"], **d["row"], "version": d["version"], "key": d["key"]}
            for d in _cells.load_stage(stage)]
    return pd.DataFrame(rows)

