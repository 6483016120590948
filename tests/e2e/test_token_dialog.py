"""The dashboard against a server whose API asks for a bearer token (``ORACLE_API_TOKEN``):
the token dialog, a refused token, and a remembered one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import screenshot_path, seeded_server_with
from tests.e2e.scenario import Seeded
from tests.e2e.test_dashboard import usd
from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration

TOKEN = "e2e-t0ken-for-the-dialog"
Fed = tuple[OracleServer, Seeded]


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    """A server with the API token set (OTLP stays open, so the scenario is fed as usual)."""
    yield from seeded_server_with(tmp_path_factory, "e2e-token", {"ORACLE_API_TOKEN": TOKEN})


@pytest.fixture
def problems(page: Page) -> list[str]:
    """Page errors and console errors, except the refusals (401) the dialog is about."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        text = message.text
        socket_refused = "/api/v1/live" in text and "Authentication failed" in text
        if message.type == "error" and "401" not in text and not socket_refused:
            found.append(f"console: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    page.set_viewport_size({"width": 1600, "height": 1000})
    return found


def test_the_dialog_asks_once_and_the_token_is_remembered(
    page: Page, guarded_server: Fed, problems: list[str]
) -> None:
    server, _ = guarded_server
    assert server.api_token == TOKEN
    assert httpx_status(server, "/api/v1/agents", token=None) == 401
    page.goto(server.api_url + "/")
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).not_to_contain_text("refused")
    expect(page.get_by_test_id("agent-card")).to_have_count(0)
    token_input = dialog.get_by_label("API token")
    expect(token_input).to_have_attribute("type", "password")
    expect(dialog.get_by_label("Remember on this browser")).to_be_checked()

    # A wrong token: the dialog comes back and says so.
    token_input.fill("not-the-token")
    dialog.get_by_role("button", name="Connect").click()
    expect(dialog).to_contain_text("That token was refused")
    page.screenshot(path=screenshot_path("token-dialog"))
    expect(page.get_by_test_id("agent-card")).to_have_count(0)

    # The right one: the Overview fills in, live, without a reload.
    dialog.get_by_label("API token").fill(TOKEN)
    dialog.get_by_role("button", name="Connect").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("agent-card")).to_have_count(2)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-connection", "live")
    expect(page.get_by_test_id("cost-total")).to_have_text("$2.85")
    running = page.get_by_test_id("cost-running-total")
    expect(running).to_have_attribute("data-state", "ready")
    end = running.get_attribute("data-end")
    total = server.api("/api/v1/costs", group_by="agent", end=end).json()["total"]["cost_usd"]
    expect(running).to_have_text(usd(total))
    assert "token" not in page.url

    # Remembered: a reload does not ask again, and nothing is refused any more.
    refusals: list[str] = []
    page.on("response", lambda r: refusals.append(r.url) if r.status == 401 else None)
    page.reload()
    expect(page.get_by_test_id("agent-card")).to_have_count(2)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-connection", "live")
    expect(page.get_by_test_id("token-dialog")).to_have_count(0)
    assert refusals == []
    assert problems == []


def test_a_token_in_the_address_is_taken_and_removed(
    page: Page, guarded_server: Fed, problems: list[str]
) -> None:
    server, _ = guarded_server
    page.goto(f"{server.api_url}/traces?token={TOKEN}")
    expect(page).to_have_url(f"{server.api_url}/traces")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_test_id("agent-card")).to_have_count(2)
    expect(page.get_by_test_id("token-dialog")).to_have_count(0)
    assert page.evaluate("localStorage.getItem('oracle.token')") == TOKEN
    assert problems == []


def httpx_status(server: OracleServer, path: str, token: str | None) -> int:
    """The status of ``GET path`` with ``token`` (None: no Authorization header)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server.api_url + path, headers=headers, timeout=10).status_code
