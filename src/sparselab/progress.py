"""Progress bars for long work: in the terminal, never in a rendered report.

Use `bar` wherever a study, trainer or encoder loops for long:

    for name in progress.bar(cfg.datasets, desc="datasets"): ...
    with progress.bar(total=n, desc="encode", unit="text") as pb: pb.update(k)

Interactively (a terminal or JupyterLab) it is plain `tqdm.auto`: a text bar in a terminal, a
widget in Lab. Under `sparselab report run` the kernel's stdout and stderr become the report, so
there the runner names a side-channel file in `$SPARSELAB_PROGRESS`; every bar writes to that file
and the runner relays it to its own terminal while papermill executes (`reports.execute`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any

ENV = "SPARSELAB_PROGRESS"  # path of the side-channel file the report runner relays
COLS_ENV = "SPARSELAB_PROGRESS_COLS"  # width of the runner's terminal (the kernel has none)

_channels: dict[str, IO[str]] = {}


def channel() -> IO[str] | None:
    """The side-channel opened for appending (one handle per process), or None interactively."""
    target = os.environ.get(ENV)
    if not target:
        return None
    fh = _channels.get(target)
    if fh is None or fh.closed:
        # line-buffered; tqdm also flushes after every refresh, so the relay sees it at once
        fh = _channels[target] = open(target, "a", buffering=1, encoding="utf-8", newline="")  # noqa: SIM115
    return fh


def bar(iterable: Iterable | None = None, *, total: float | None = None,
        desc: str | None = None, **kwargs: Any):
    """A tqdm bar over `iterable` (or a manual one of `total`), shown where a person sees it.

    kwargs go to tqdm unchanged (`unit`, `initial`, `disable`, `leave`, `mininterval`, ...).
    """
    fh = channel()
    if fh is None:
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, **kwargs)
    from tqdm.std import tqdm  # text bar: the relay copies its bytes to a real terminal

    kwargs.setdefault("ncols", int(os.environ.get(COLS_ENV) or 100))
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, total=total, desc=desc, file=fh, **kwargs)


def note(text: str) -> None:
    """One line for the person running a report (e.g. a stage starting); stays out of it too."""
    fh = channel()
    if fh is not None:
        fh.write(text.rstrip("\n") + "\n")
        fh.flush()
