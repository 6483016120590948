"""Browser tests: the built dashboard in headless Chromium (Debian's ``chromium``, driven by
Python Playwright with ``executable_path``; Playwright's own browsers are never downloaded)
against a running ``oracle-monitor serve`` fed with `tests.e2e.scenario`.

Without Chromium: as root it is installed with apt-get; otherwise the tests skip with the
reason (and fail in CI, see tests/conftest.py). Without a dashboard build they skip too
(``make test`` builds it first).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from oracle_monitor.api.ui import STATIC_DIR
from tests.e2e.scenario import Seeded, seed
from tests.integration.oracle_server import OracleServer

# Not test-results/: pytest-playwright empties that folder at the start of every run.
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def chromium_path() -> str | None:
    """Debian's Chromium, installed with apt-get when missing and we are root."""
    found = os.environ.get("ORACLE_E2E_CHROMIUM") or shutil.which("chromium")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, check=False, env=env).returncode != 0:
            # A new machine's package lists may be empty or stale: refresh them once, retry.
            subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
            subprocess.run(install, check=False, env=env)
        found = shutil.which("chromium")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Our Chromium, headless, for one module. Playwright's sync API runs an event loop while
    it is open, so it is closed with the module: a session-wide one (pytest-playwright's)
    breaks the asyncio tests that run after it."""
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium: install it (apt-get install -y chromium) to run the UI tests")
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the dashboard is not built: run `make ui`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own context: no cookies or storage from the test before)."""
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def seeded_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[OracleServer, Seeded]]:
    """One server per module, fed with the scenario (its own loop snapshots once an hour, so
    the stored history is the scenario's)."""
    yield from seeded_server_with(tmp_path_factory, "e2e", {})


def seeded_server_with(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[tuple[OracleServer, Seeded]]:
    """A server (``env`` added to its settings) fed with the scenario, stopped afterwards."""
    data_dir = tmp_path_factory.mktemp(name) / "data"
    server = OracleServer(
        data_dir=data_dir, env={"ORACLE_SNAPSHOT_INTERVAL_SECONDS": "3600", **env}
    )
    server.start()
    try:
        yield server, seed(server)
    finally:
        try:
            server.stop()
        except subprocess.TimeoutExpired:
            server.stop(9)


def screenshot_path(name: str) -> Path:
    """Where a view's screenshot goes (``build/e2e/<name>.png``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
