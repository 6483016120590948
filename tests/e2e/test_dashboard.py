"""The dashboard in a real browser against a real server fed with the seed cascade."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, Response, expect

from oracle_monitor.timestamps import rfc3339
from tests.e2e.conftest import screenshot_path
from tests.e2e.scenario import BIG_TRACE, SNAPSHOT_SECONDS, WRITER_TRACE, XSS, Seeded
from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration

Fed = tuple[OracleServer, Seeded]


def usd(value: float) -> str:
    """A dollar amount as the dashboard writes it (frontend/src/lib/format.ts formatUsd)."""
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    if abs(value) < 100:
        return f"${value:.2f}"
    return f"${round(value):,}"


def rfc3339_ms(ns: int) -> str:
    """``ns`` as JavaScript's ``toISOString`` writes it (milliseconds, ``Z``)."""
    return rfc3339(ns)[:23] + "Z"


def missing_live_routes(server: OracleServer) -> bool:
    """Whether this server predates ``GET /alerts`` and ``WS /live`` (the dashboard then polls;
    the browser logs the refused socket and the 404, which are expected and tolerated)."""
    paths = httpx.get(f"{server.api_url}/api/openapi.json").json()["paths"]
    return "/api/v1/alerts" not in paths


@pytest.fixture
def problems(page: Page, seeded_server: Fed) -> list[str]:
    """Console errors, page errors and dialogs (an executed `alert(1)` would be one)."""
    found: list[str] = []
    tolerate = missing_live_routes(seeded_server[0])
    refused: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 404:
            refused.append(response.url)

    page.on("response", on_response)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if tolerate and "/api/v1/live" in message.text:
            return
        if (
            tolerate
            and "status of 404" in message.text
            and any("/api/v1/alerts" in u for u in refused)
        ):
            refused.remove(next(u for u in refused if "/api/v1/alerts" in u))
            return
        found.append(f"console: {message.text}")

    def on_dialog(dialog: Dialog) -> None:
        found.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"page error: {error}"))
    page.on("dialog", on_dialog)
    page.set_viewport_size({"width": 1600, "height": 1000})
    return found


def test_overview_shows_the_latest_snapshot(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, fed = seeded_server
    page.goto(server.api_url + "/")
    expect(page.get_by_test_id("agent-card")).to_have_count(2)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-connection", "live")
    research = page.locator('[data-testid=agent-card][data-agent="research"]')
    expect(research).to_have_attribute("data-status", "error")
    expect(research).to_contain_text("task-42")
    # The writer's reasoning holds markup: shown as text, never parsed.
    writer = page.locator('[data-testid=agent-card][data-agent="writer"]')
    expect(writer.get_by_test_id("agent-reasoning")).to_have_text(XSS)
    assert writer.locator("img").count() == 0
    assert page.locator("img[src=x]").count() == 0
    # Infrastructure: the OOM-killed pod and its replacement, with their marks.
    killed = page.locator(
        f'[data-testid=pod-row][data-pod="{fed.snapshots[-1]["kubernetes"]["pods"][0]["name"]}"]'
    )
    expect(killed).to_contain_text("OOM")
    expect(page.get_by_test_id("pod-row")).to_have_count(4)
    expect(page.locator('[data-testid=group-row][data-group="research-agents"]')).to_have_attribute(
        "data-status", "OK"
    )
    expect(page.get_by_test_id("cost-total")).to_have_text("$2.85")  # 0.02 * 95 * 1.5
    # The running total: all LLM calls up to the shown snapshot, as the API counts them.
    running = page.get_by_test_id("cost-running-total")
    expect(running).to_have_attribute("data-state", "ready")
    end = running.get_attribute("data-end")
    assert end is not None and end[:19] == fed.snapshots[-1]["timestamp"][:19]
    total = server.api("/api/v1/costs", group_by="agent", end=end).json()["total"]["cost_usd"]
    assert total > 0
    expect(running).to_have_text(usd(total))
    expect(page.locator('[data-testid=alert-item][data-kind="oom_killed"]')).to_have_count(1)
    render_ms = page.evaluate(
        "performance.getEntriesByName('overview-rendered')[0]?.startTime ?? null"
    )
    print(f"\nfirst render of the Overview: {render_ms:.0f} ms after navigation start")
    page.screenshot(path=screenshot_path("overview"), full_page=True)
    # An alert leads to its trace.
    page.locator('[data-testid=alert-item][data-kind="oom_killed"]').click()
    expect(page).to_have_url(f"{server.api_url}/traces/{fed.seed_trace}")
    expect(page.get_by_test_id("span-row")).to_have_count(len(fed.seed_span_ids))
    # A pod's events, by entity.
    pod = fed.snapshots[-1]["kubernetes"]["pods"][0]["name"]
    page.goto(f"{server.api_url}/infra?entity=pod/agents/{pod}")
    # The seed's OOM kill and one of the same pod two hours earlier.
    expect(page.get_by_test_id("event-row").filter(has_text="oom_killed")).to_have_count(2)
    assert problems == []


def test_the_scrubber_moved_back_shows_the_earlier_state(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, fed = seeded_server
    page.goto(server.api_url + "/")
    expect(page.get_by_test_id("agent-card")).to_have_count(2)
    # Drag the cursor from now back to 10 s after the third snapshot (lag, no OOM yet).
    third = SNAPSHOT_SECONDS.index(47.0)
    target_ms = fed.snapshot_ns[third] / 1e6 + 5000
    track = page.get_by_test_id("scrubber-track")
    box = track.bounding_box()
    assert box is not None
    start, end = (
        float(track.get_attribute("data-start") or 0),
        float(track.get_attribute("data-end") or 0),
    )
    x = box["x"] + box["width"] * (target_ms - start) / (end - start)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] - 2, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=5)
    page.mouse.move(x, y, steps=5)
    page.mouse.up()
    overview = page.get_by_test_id("overview")
    expect(overview).to_have_attribute("data-snapshot-time", fed.snapshots[third]["timestamp"])
    assert "at=" in page.url
    expect(page.locator('[data-testid=agent-card][data-agent="research"]')).to_have_attribute(
        "data-status", "running"
    )
    expect(page.get_by_test_id("pod-row")).to_have_count(3)
    expect(page.locator('[data-testid=group-row][data-group="research-agents"]')).to_have_attribute(
        "data-status", "STALL"
    )
    expect(page.locator('[data-testid=alert-item][data-kind="oom_killed"]')).to_have_count(0)
    # The running total as of the scrubbed snapshot.
    running = page.get_by_test_id("cost-running-total")
    expect(running).to_have_attribute("data-end", rfc3339_ms(fed.snapshot_ns[third]))
    expect(running).to_have_attribute("data-state", "ready")
    then = server.api(
        "/api/v1/costs", group_by="agent", end=rfc3339_ms(fed.snapshot_ns[third])
    ).json()["total"]["cost_usd"]
    expect(running).to_have_text(usd(then))
    page.screenshot(path=screenshot_path("overview-scrubbed"), full_page=True)
    # Step back one snapshot, then return to live.
    page.get_by_label("step back").click()
    expect(overview).to_have_attribute("data-snapshot-time", fed.snapshots[third - 1]["timestamp"])
    page.get_by_test_id("go-live").click()
    expect(overview).to_have_attribute("data-snapshot-time", fed.snapshots[-1]["timestamp"])
    assert "at=" not in page.url
    # A deep link to a moment opens that moment.
    page.goto(server.api_url + "/?at=" + rfc3339(fed.snapshot_ns[0] + 1_000_000_000))
    expect(overview).to_have_attribute("data-snapshot-time", fed.snapshots[0]["timestamp"])
    assert problems == []


def test_the_waterfall_shows_the_spans_and_the_oom_mark(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, fed = seeded_server
    page.goto(f"{server.api_url}/traces")
    row = page.locator(f'[data-testid=trace-row][data-trace-id="{fed.seed_trace}"]')
    expect(row).to_be_visible()
    page.screenshot(path=screenshot_path("traces"), full_page=True)
    row.get_by_role("link").click()
    expect(page.get_by_test_id("span-row")).to_have_count(len(fed.seed_span_ids))
    ids = {
        page.get_by_test_id("span-row").nth(i).get_attribute("data-span-id")
        for i in range(len(fed.seed_span_ids))
    }
    assert ids == set(fed.seed_span_ids)
    expect(page.locator('[data-testid=event-mark][data-kind="oom_killed"]')).to_have_count(1)
    expect(page.locator('[data-testid=event-mark][data-kind="lag_spike"]')).to_have_count(1)
    assert page.locator("[data-testid=span-row][data-error]").count() >= 3
    assert page.locator("[data-testid=span-row][data-critical]").count() >= 1
    # Select the rate-limited call: its attributes and the correlated 429 burst.
    page.get_by_test_id("span-row").filter(has_text="chat gpt-4o").filter(
        has=page.locator("text=●")
    ).first.click()
    details = page.get_by_test_id("span-details")
    expect(details).to_contain_text("http.response.status_code")
    expect(details).to_contain_text("rate_limit_burst")
    assert "span=" in page.url
    page.screenshot(path=screenshot_path("waterfall"))
    assert problems == []


def test_span_reasoning_is_text_in_the_side_panel(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, _ = seeded_server
    chat = f"{0xC0FFEE01:016x}"
    page.goto(f"{server.api_url}/traces/{WRITER_TRACE}?span={chat}")
    reasoning = page.get_by_test_id("span-details").get_by_test_id("span-reasoning")
    expect(reasoning).to_have_text(XSS)
    assert page.locator("[data-testid=span-details] img").count() == 0
    expect(page.get_by_test_id("span-details")).to_contain_text("tools planned: outline, cite")
    assert problems == []


def test_the_causal_chain_matches_the_api(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, fed = seeded_server
    expected = httpx.get(f"{server.api_url}/api/v1/traces/{fed.seed_trace}/causal-chain").json()
    assert expected["chain"], expected
    page.goto(f"{server.api_url}/traces/{fed.seed_trace}/chain")
    items = page.get_by_test_id("chain-link-item")
    expect(items).to_have_count(len(expected["chain"]))
    kinds = [items.nth(i).get_attribute("data-kind") for i in range(items.count())]
    assert kinds == [link["kind"] for link in expected["chain"]]
    expect(page.get_by_test_id("chain-summary")).to_have_text(expected["summary"])
    for i, link in enumerate(expected["chain"]):
        expect(items.nth(i)).to_contain_text(link["entity"])
    page.screenshot(path=screenshot_path("causal-chain"), full_page=True)
    # Evidence links lead to the span in the waterfall.
    page.get_by_test_id("evidence-span").first.click()
    expect(page.get_by_test_id("span-details")).to_be_visible()
    # The task's chain (its spans' traces found by the task id) links into waterfalls too.
    task = httpx.get(f"{server.api_url}/api/v1/tasks/task-42/causal-chain").json()
    page.goto(f"{server.api_url}/tasks/task-42")
    expect(page.get_by_test_id("chain-link-item")).to_have_count(len(task["chain"]))
    spans = [s for link in task["chain"] for s in link["evidence"]["span_ids"]]
    assert all(len(link["evidence"]["span_ids"]) <= 12 for link in task["chain"])  # none folded
    expect(page.get_by_test_id("evidence-span")).to_have_count(len(spans))
    page.get_by_test_id("evidence-span").first.click()
    expect(page).to_have_url(f"{server.api_url}/traces/{fed.seed_trace}?span={spans[0]}")
    expect(page.get_by_test_id("span-details")).to_be_visible()
    assert problems == []


def test_a_5000_span_trace_opens_virtualised(
    page: Page, seeded_server: Fed, problems: list[str]
) -> None:
    server, _ = seeded_server
    page.goto(f"{server.api_url}/traces")
    expect(page.get_by_test_id("trace-list")).to_be_visible()
    started = page.evaluate("performance.now()")
    # Navigate inside the app (as a click would), so only the trace's loading is timed.
    page.evaluate(
        f"history.pushState(null, '', '/traces/{BIG_TRACE}');"
        "dispatchEvent(new PopStateEvent('popstate'))"
    )
    expect(page.get_by_test_id("waterfall")).to_have_attribute("data-rows", "5000")
    opened = page.evaluate("performance.now()") - started
    drawn = page.get_by_test_id("span-row").count()
    assert 0 < drawn < 200, drawn  # virtualised: only the rows in view are in the DOM
    frames = page.evaluate(
        """async () => {
          const el = document.querySelector('[data-testid=waterfall-scroll]');
          const gaps = []; let last = performance.now();
          for (let i = 0; i < 60; i++) {
            el.scrollTop += 400;
            await new Promise(r => requestAnimationFrame(r));
            const now = performance.now(); gaps.push(now - last); last = now;
          }
          gaps.sort((a, b) => a - b);
          return {median: gaps[30], p95: gaps[57], max: gaps[59], bottom: el.scrollTop};
        }"""
    )
    print(
        f"\n5,000-span waterfall: open {opened:.0f} ms, {drawn} rows in the DOM,"
        f" scroll frames {frames}"
    )
    assert frames["bottom"] > 0
    assert problems == []


def test_states_a_missing_trace_and_a_missing_moment(page: Page, seeded_server: Fed) -> None:
    server, fed = seeded_server
    page.goto(f"{server.api_url}/traces/{'0' * 31}1")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    page.goto(server.api_url + "/?at=" + rfc3339(fed.start_ns - 3600 * 1_000_000_000))
    expect(page.locator("[data-state=empty]")).to_contain_text("No snapshot was taken")


def test_the_server_going_away_and_coming_back(page: Page, seeded_server: Fed) -> None:
    """Last in the module: it restarts the server (same ports, same data)."""
    server, _ = seeded_server
    page.goto(server.api_url + "/")
    connection = page.get_by_test_id("connection")
    expect(connection).to_have_attribute("data-connection", "live")
    server.stop()
    expect(connection).to_have_attribute("data-connection", "unreachable", timeout=15_000)
    expect(connection).to_contain_text("reconnecting")
    expect(page.get_by_test_id("agent-card")).to_have_count(2)  # the last state stays shown
    server.start()
    expect(connection).to_have_attribute("data-connection", "live", timeout=30_000)
