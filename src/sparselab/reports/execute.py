"""Executing a report's notebook: this checkout's kernel, progress in the terminal, one-line errors.

- Kernel: `sparselab` (every notebook declares it) is resolved to *this* interpreter through a
  kernelspec written for the run and put first on `JUPYTER_PATH`, so a `sparselab` kernel that
  another clone registered in the user's Jupyter dir never runs this checkout's notebooks.
  Any other `--kernel` is looked up as Jupyter does; an unknown one is refused up front.
- Progress: papermill's own cell bar is off (its ETA is meaningless for one long cell); the
  runner prints each code cell as it starts and relays the studies' `sparselab.progress` bars,
  which the kernel writes to a side-channel file, to its stderr. None of it enters the notebook.
- Failure: a cell error becomes `NotebookFailed` with one line: error, failing cell, and the path
  of the executed notebook (kept for reading the full traceback).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from .. import progress
from .kernel import LOG_ENV

KERNEL = "sparselab"  # the kernel every notebook declares
ENGINE = "sparselab_terminal"


class NotebookFailed(RuntimeError):
    """A cell raised; the message is one line naming the error, the cell and the executed notebook."""

    def __init__(self, message: str, executed: Path):
        super().__init__(message)
        self.executed = executed


def kernelspec(prefix: Path, name: str = KERNEL) -> Path:
    """Write a kernelspec `name` that runs this interpreter under `prefix/kernels/`; returns it."""
    spec = prefix / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        # ipykernel with its stderr in a log file (reports.kernel), not on our terminal
        "argv": [sys.executable, "-m", "sparselab.reports.kernel", "-f", "{connection_file}"],
        "display_name": "Python (sparselab)", "language": "python",
        "metadata": {"debugger": True},
    }, indent=1))
    return spec


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    """Set (None: unset) environment variables for the block, then restore them."""
    before = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def kernel_env(kernel: str) -> Iterator[None]:
    """Make `kernel` resolvable for the block; `sparselab` always means this interpreter."""
    if kernel != KERNEL:
        from jupyter_client.kernelspec import KernelSpecManager

        known = sorted(KernelSpecManager().find_kernel_specs())
        if kernel not in known:
            raise ValueError(f"unknown Jupyter kernel {kernel!r}; available: {', '.join(known)} "
                             f"(the default {KERNEL!r} runs this checkout's package)")
        yield
        return
    tmp = Path(tempfile.mkdtemp(prefix="sparselab-kernel-"))
    try:
        kernelspec(tmp)
        path = os.pathsep.join(p for p in (str(tmp), os.environ.get("JUPYTER_PATH")) if p)
        with _env(JUPYTER_PATH=path):
            yield
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Relay:
    """Copy what the kernel writes to the progress side-channel onto our stderr, as it comes."""

    def __init__(self, stream=None, poll_s: float = 0.2):
        self.stream = stream or sys.stderr
        self.poll_s = poll_s
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        fd, name = tempfile.mkstemp(prefix="sparselab-progress-", suffix=".log")
        os.close(fd)
        self.path = Path(name)
        cols = shutil.get_terminal_size((100, 24)).columns
        self._env = _env(**{progress.ENV: name, progress.COLS_ENV: str(cols)})
        self._env.__enter__()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def _pump(self) -> None:
        # newline="": keep tqdm's carriage returns (a bar redraws in place)
        with open(self.path, encoding="utf-8", errors="replace", newline="") as fh:
            while True:
                stopping = self._stop.is_set()  # read once more after the stop request
                chunk = fh.read()
                if chunk:
                    self.write(chunk)
                elif stopping:
                    return
                else:
                    self._stop.wait(self.poll_s)

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def note(self, line: str) -> None:
        """A line of ours, appended to the channel so it lands after the kernel's last bar."""
        with open(self.path, "a", encoding="utf-8", newline="") as fh:
            fh.write(line.rstrip("\n") + "\n")

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._env.__exit__(*exc)
        self.path.unlink(missing_ok=True)


def _engine(relay: Relay):
    """A papermill engine that announces each code cell on the terminal as it starts."""
    from papermill.engines import NBClientEngine

    class TerminalEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
            start = nb_man.cell_start

            def cell_start(cell, cell_index=None, **kw):
                if cell_index in code:
                    injected = "injected-parameters" in cell.metadata.get("tags", [])
                    what = "(the run's parameters)" if injected else first_line(cell.source)
                    relay.note(f"  [{code.index(cell_index) + 1}/{len(code)}] {what}")
                return start(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    return TerminalEngine


def first_line(source: str, width: int = 70) -> str:
    """The first non-blank, non-comment line of a cell, shortened to `width`."""
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.startswith("#")]
    line = lines[0] if lines else source.strip().splitlines()[0] if source.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def execute(nb: Path, executed: Path, params: dict[str, Any], kernel: str = KERNEL) -> None:
    """Run `nb` with `params` into `executed` (cwd: the notebook's folder); raise NotebookFailed."""
    import papermill
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    log = executed.with_suffix(".kernel.log")
    log.unlink(missing_ok=True)
    with kernel_env(kernel), Relay() as relay, _env(**{LOG_ENV: str(log)}):
        papermill_engines.register(ENGINE, _engine(relay))
        try:
            papermill.execute_notebook(
                str(nb), str(executed), parameters=params, kernel_name=kernel, engine_name=ENGINE,
                cwd=str(nb.parent), progress_bar=False, report_mode=False,
            )
        except PapermillExecutionError as exc:
            raise NotebookFailed(failure_line(nb, exc, executed), executed) from None
        except RuntimeError as exc:  # nbclient: the kernel died or did not start
            msg = " ".join(str(exc).split())
            raise NotebookFailed(f"{nb.stem}: {msg}; kernel log: {_shown(log)}", executed) from None


def failure_line(nb: Path, exc, executed: Path) -> str:
    """`03_prf: ValueError: msg (cell 5: `res = study.run(cfg)`); executed notebook: path`."""
    evalue = " ".join(str(exc.evalue).split()) or "(no message)"
    return (f"{nb.stem}: {exc.ename}: {evalue} (cell [{exc.exec_count}]: "
            f"`{first_line(exc.source)}`); executed notebook: {_shown(executed)}")


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it lies below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
