"""Suite-wide rules: in CI (``CI`` set) a skipped test is a failure, never a silent pass; the
browser tests run last."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every server must be present: {report.longrepr}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests (tests/e2e) after all others.

    Playwright's sync API keeps an event loop running in the main thread while it is open
    (tests/e2e/conftest.py opens it per module and closes it after); an asyncio test run
    meanwhile would fail with "Runner.run() cannot be called from a running event loop", so
    the browser tests also go last.
    """
    items.sort(key=lambda item: "tests/e2e/" in item.nodeid or item.nodeid.startswith("e2e/"))
