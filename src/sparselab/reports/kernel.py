"""Kernel launcher of report runs: ipykernel with its own log file instead of our terminal.

The kernel process inherits the runner's stderr; ipykernel logs there (a warning on every
start, a traceback when a run is interrupted mid-cell). Cell output travels over ZeroMQ into the
notebook either way, so the runner points the kernel's fd 2 at `$SPARSELAB_KERNEL_LOG` (kept
next to the executed notebook) and the terminal shows only the runner's own lines.
"""
from __future__ import annotations

import os

LOG_ENV = "SPARSELAB_KERNEL_LOG"


def main() -> None:
    log = os.environ.get(LOG_ENV)
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
