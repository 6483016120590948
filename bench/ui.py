"""The dashboard's figures, in headless Chromium against a real server fed with the browser
tests' scenario (`tests.e2e.scenario`): production bundle size (gzipped), first render of the
Overview, 10 agents updating every 2 s (frames longer than 50 ms while they update), the
5,000-span waterfall's open time and its scrolling (frame times).

Targets (reported, not asserted): bundle ≤ 350 kB gzipped; first render ≤ 1 s on localhost;
no dropped frames with 10 agents updating every 2 s; 5,000 spans open in ≤ 1 s and scroll
smoothly. Needs a build (``make ui``) and Debian's ``chromium``.
Usage: ``python bench/ui.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the shared scenario

from playwright.sync_api import Browser, Page, sync_playwright
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.e2e.scenario import BIG_TRACE, export, seed
from tests.integration.oracle_server import OracleServer

from oracle_monitor.api.ui import STATIC_DIR
from oracle_monitor.model import Attributes, Span, SpanKind, StatusCode
from oracle_monitor.processing.conventions import derive

FRAMES_JS = """async ([ms]) => {
  const gaps = []; let last = performance.now(); const end = last + ms;
  while (performance.now() < end) {
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now(); gaps.push(now - last); last = now;
  }
  return gaps;
}"""
SCROLL_JS = """async () => {
  const el = document.querySelector('[data-testid=waterfall-scroll]');
  const gaps = []; let last = performance.now();
  for (let i = 0; i < 120; i++) {
    el.scrollTop += 300;
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now(); gaps.push(now - last); last = now;
  }
  return gaps;
}"""


def bundle_kb() -> tuple[float, float]:
    """(raw, gzipped) kB of the built JavaScript and CSS."""
    raw = packed = 0
    for path in (STATIC_DIR / "assets").iterdir():
        if path.suffix in (".js", ".css"):
            data = path.read_bytes()
            raw += len(data)
            packed += len(gzip.compress(data, 9))
    return raw / 1000, packed / 1000


def frames(gaps: list[float]) -> str:
    gaps = sorted(gaps)
    long = sum(1 for g in gaps if g > 50)
    p95 = gaps[int(len(gaps) * 0.95) - 1]
    return (
        f"median {statistics.median(gaps):.1f} ms, p95 {p95:.1f} ms, max {gaps[-1]:.0f} ms,"
        f" {long}/{len(gaps)} frames over 50 ms"
    )


def first_render(browser: Browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url + "/")
    page.wait_for_selector("[data-testid=agent-card]")
    found: float = page.evaluate("performance.getEntriesByName('overview-rendered')[0].startTime")
    page.close()
    return found


def open_waterfall(page: Page, url: str) -> tuple[float, float]:
    """(ms from navigation to 5,000 rows ready, ms of it waiting for the API's answer)."""
    page.goto(url + "/traces")
    page.wait_for_selector("[data-testid=trace-row]")
    started: float = page.evaluate("performance.now()")
    page.evaluate(
        f"history.pushState(null, '', '/traces/{BIG_TRACE}');"
        "dispatchEvent(new PopStateEvent('popstate'))"
    )
    page.wait_for_selector("[data-testid=waterfall][data-rows='5000']")
    opened: float = page.evaluate("performance.now()")
    fetch: float = page.evaluate(
        f"""performance.getEntriesByType('resource').filter(e => e.name.endsWith('{BIG_TRACE}'))
            .map(e => e.responseEnd - e.startTime).pop()"""
    )
    return opened - started, fetch


def updating_agents(server: OracleServer, stop: threading.Event) -> None:
    """Every 2 s one span per agent for 10 agents (tokens, reasoning), over OTLP/gRPC; the
    server's own loop turns them into a snapshot every 2 s and pushes it to the page."""
    tick = 0
    while not stop.is_set():
        now = time.time_ns()
        spans = []
        for i in range(10):
            attributes: Attributes = {
                "gen_ai.agent.name": f"agent-{i}", "oracle.task.id": f"task-{tick}-{i}",
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 100 + tick,
                "gen_ai.usage.output_tokens": 20 + i,
                "oracle.agent.reasoning": f"step {tick}: weigh source {i} against the others",
            }  # fmt: skip
            resource: Attributes = {"service.name": f"agent-{i}"}
            spans.append(
                Span(
                    trace_id=f"{tick + 1:016x}{i + 1:016x}", span_id=f"{i + 1:016x}",
                    parent_span_id="", name="chat gpt-4o", kind=SpanKind.CLIENT,
                    start_time_ns=now - 500_000_000, end_time_ns=now,
                    status_code=StatusCode.ERROR if (tick + i) % 7 == 0 else StatusCode.UNSET,
                    attributes=attributes, resource=resource, **derive(attributes, resource),
                )
            )  # fmt: skip
        export(server, spans)
        tick += 1
        stop.wait(2.0)


def updates(browser: Browser, tmp: Path) -> str:
    """Frames of the Overview on a second server (snapshot every 2 s) while 10 agents work."""
    server = OracleServer(tmp / "live", {"ORACLE_SNAPSHOT_INTERVAL_SECONDS": "2"})
    server.start()
    stop = threading.Event()
    writer = threading.Thread(target=updating_agents, args=(server, stop))
    writer.start()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(server.api_url + "/")
        page.wait_for_selector("[data-agent='agent-9']", timeout=15_000)
        gaps: list[float] = page.evaluate(FRAMES_JS, [12_000])
        connection = page.get_by_test_id("connection").get_attribute("data-connection")
        page.close()
        return f"{frames(gaps)} (connection: {connection})"
    finally:
        stop.set()
        writer.join()
        server.stop()


def waterfall(page: Page, url: str, runs: int, api_ms: float) -> None:
    """Open the 5,000-span trace ``runs`` times, then scroll it twice; print the figures."""
    opens = [open_waterfall(page, url) for _ in range(runs)]
    total = statistics.median(o[0] for o in opens)
    waiting = statistics.median(o[1] for o in opens)
    rows = page.locator("[data-testid=span-row]").count()
    print(
        f"5,000-span waterfall: opens in median {total:.0f} ms, {waiting:.0f} ms of it waiting"
        f" for GET /traces/{{id}} (4 MB; {api_ms:.0f} ms from Python); target ≤ 1000 ms;"
        f" {rows} rows in the DOM"
    )
    for attempt in ("first", "second"):
        page.evaluate("document.querySelector('[data-testid=waterfall-scroll]').scrollTop = 0")
        gaps: list[Any] = page.evaluate(SCROLL_JS)
        print(f"5,000-span waterfall scrolling, {attempt} pass: {frames(gaps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or not (STATIC_DIR / "index.html").is_file():
        sys.exit("needs Debian's chromium and a dashboard build (make ui)")
    raw, packed = bundle_kb()
    print(f"bundle: {raw:.0f} kB raw, {packed:.1f} kB gzipped (target ≤ 350 kB)")
    with tempfile.TemporaryDirectory() as tmp:
        server = OracleServer(Path(tmp) / "data", {"ORACLE_SNAPSHOT_INTERVAL_SECONDS": "3600"})
        server.start()
        try:
            seed(server)
            began = time.perf_counter()
            server.api(f"/api/v1/traces/{BIG_TRACE}").raise_for_status()
            api_ms = (time.perf_counter() - began) * 1000
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                renders = [first_render(browser, server.api_url) for _ in range(args.runs)]
                print(
                    f"first render of the Overview: median {statistics.median(renders):.0f} ms"
                    f" (runs: {', '.join(f'{r:.0f}' for r in renders)}; target ≤ 1000 ms)"
                )
                print(
                    f"10 agents updating every 2 s, 12 s of frames: {updates(browser, Path(tmp))}"
                )
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                waterfall(page, server.api_url, max(1, args.runs // 2), api_ms)
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
