"""Headless Chromium and the report folders the browser tests render."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sparselab.reports import browser, check

ROOT = Path(__file__).resolve().parents[2]


def page_roots(config) -> list[Path]:
    """--pages, else $SPARSELAB_PAGES (':'-separated), else the committed reports/."""
    given = config.getoption("--pages") or [
        p for p in os.environ.get("SPARSELAB_PAGES", "").split(":") if p]
    return [Path(p).resolve() for p in given] if given else [ROOT / "reports"]


def pytest_generate_tests(metafunc):
    if "report_page" in metafunc.fixturenames:
        params, ids = [], []
        for root in page_roots(metafunc.config):
            if not root.is_dir():
                raise pytest.UsageError(f"--pages {root}: no such folder")
            for page in check.pages(root):
                params.append((root, page))
                ids.append(f"{root.name}/{page.relative_to(root).as_posix()}")
        metafunc.parametrize("report_page", params, ids=ids)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session; skipped without one, unless CI=true."""
    binary = browser.find_chromium()
    if binary is None:
        msg = ("no chromium on PATH: install Debian's `chromium` (apt-get install chromium; "
               ".ci/run does) or set $SPARSELAB_CHROMIUM")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg}. CI=true: the browser test must run.")
        pytest.skip(msg)
    chrome = browser.Chromium(binary)
    yield chrome
    chrome.close()


@pytest.fixture(scope="session")
def serve_root():
    """`serve_root(folder)` -> base URL of a localhost server for it (one per folder)."""
    servers: dict[Path, tuple] = {}

    def get(root: Path) -> str:
        if root not in servers:
            servers[root] = browser.serve(root)
        return servers[root][1]

    yield get
    for server, _ in servers.values():
        server.shutdown()
