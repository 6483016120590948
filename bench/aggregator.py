"""System snapshots: time to take, validate and store one; time of ``/snapshots/at``.

One snapshot of a busy system: 50 agents (20 spans each in the last minutes, read back from
the store), 500 pods, 4 consumer groups on 50 partitions each (200 partition lags), LLM usage.
Target: take + validate + store ≤ 20 ms (median, CPU time of one core), take ≤ 5 ms.

Then the take of that snapshot with 1,000 and with 100,000 agent spans in the 5-minute window
(the window filled first, through the store, which keeps them per agent and second): the
first round, which reads the window's agent seconds, and the rounds after it, 2 s apart, with
no span and with 500 spans written between two rounds, which should not grow with the window
or with the spans written; beside them the agents' views as they were read before (the
newest 10,000 spans of the window read and folded every round), and the errors each finds.

Then seven days of snapshots every 2 s (302,400 rows, small ones so the file stays small — the
lookups are what grows with their number — written by one SQL statement) and, through the
API: ``/snapshots/at`` (target ≤ 20 ms) and a 24-hour ``/snapshots`` series at the default
60 s step (1,440 points; target ≤ 100 ms); and ``snapshot_at`` of a full-size one.
Usage: ``python bench/aggregator.py [--runs 30] [--days 7] [--windows 1000,100000]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the shared test sample

from fastapi.testclient import TestClient
from tests.unit.aggregator.snapshot_sample import collectors

from oracle_monitor.aggregator.agent_tracker import AgentTracker
from oracle_monitor.aggregator.agent_window import AGENT_WINDOW_NS
from oracle_monitor.aggregator.agents import views_of_activity
from oracle_monitor.aggregator.snapshot import build_snapshot, validate_snapshot
from oracle_monitor.aggregator.snapshot_loop import take_snapshot
from oracle_monitor.api import create_app
from oracle_monitor.collectors.base import Collector
from oracle_monitor.model import Span, SpanKind, StatusCode
from oracle_monitor.store import Store, open_store
from oracle_monitor.timestamps import rfc3339

S = 1_000_000_000


def agent_spans(now_ns: int, agents: int = 50, per_agent: int = 20) -> list[Span]:
    """``per_agent`` recent spans of each agent: a task span, LLM calls, reasoning."""
    spans = []
    for a in range(agents):
        for n in range(per_agent):
            start = now_ns - (per_agent - n) * 5 * S
            attributes: dict[str, object] = {"gen_ai.operation.name": "chat"}
            if n == 0:
                attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": f"{a}"}
            elif n % 4 == 0:
                attributes["oracle.agent.reasoning"] = "Search three sources, then summarise."
                attributes["oracle.agent.tools_planned"] = ["web_search", "summarise"]
            spans.append(
                Span(
                    trace_id=f"{a + 1:032x}", span_id=f"{a * per_agent + n + 1:016x}",
                    parent_span_id="" if n == 0 else f"{a * per_agent + 1:016x}",
                    name="step", kind=SpanKind.INTERNAL, start_time_ns=start,
                    end_time_ns=start + 2 * S, attributes=attributes,  # type: ignore[arg-type]
                    agent_name=f"agent-{a}", task_id=f"task-{a}", pod_name=f"pod-{a}",
                    input_tokens=100, output_tokens=20, cost_usd=0.001,
                    status_code=StatusCode.ERROR if n == 7 else StatusCode.UNSET,
                )
            )  # fmt: skip
    return spans


def traffic(start_ns: int, end_ns: int, count: int, first: int, agents: int = 50) -> list[Span]:
    """``count`` agent spans starting evenly in [start, end), ten per trace (a task span of
    its agent, LLM calls under it naming no agent, some with reasoning, one in 50 failing);
    ids from ``first`` on."""
    step = max((end_ns - start_ns) // max(count, 1), 1)
    spans = []
    for n in range(count):
        number = first + n
        trace, place = divmod(number, 10)
        start = start_ns + n * step
        root = f"{trace * 10 + 1:016x}"
        attributes: dict[str, object] = {"gen_ai.operation.name": "chat"}
        if place == 0:
            attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.id": "7"}
        elif place == 5:
            attributes["oracle.agent.reasoning"] = "Search three sources, then summarise."
            attributes["oracle.agent.tools_planned"] = ["web_search", "summarise"]
        spans.append(
            Span(
                trace_id=f"{trace + 1:032x}", span_id=f"{number + 1:016x}",
                parent_span_id="" if place == 0 else root, name="step",
                kind=SpanKind.INTERNAL, start_time_ns=start, end_time_ns=start + 2 * S,
                attributes=attributes,  # type: ignore[arg-type]
                agent_name=f"agent-{trace % agents}" if place == 0 else None,
                task_id=f"task-{trace}" if place == 0 else None,
                pod_name=f"pod-{trace % agents}", input_tokens=100, output_tokens=20,
                cost_usd=0.001, status_code=StatusCode.ERROR if n % 50 == 7 else StatusCode.UNSET,
            )
        )  # fmt: skip
    return spans


def window_rounds(tmp: str, window: int, runs: int, fakes: Sequence[Collector]) -> None:
    """The take with ``window`` agent spans in the window (see the module docstring)."""
    store: Store = open_store(f"sqlite:///{tmp}/window-{window}.db")
    now = time.time_ns()
    spans = traffic(now - AGENT_WINDOW_NS + 5 * S, now, window, 0)
    for at in range(0, len(spans), 2000):
        store.write_spans(spans[at : at + 2000])
    written = [window]
    tracker = AgentTracker(store)
    clock = [now]
    started, started_cpu = time.perf_counter(), time.process_time()
    first = take_snapshot(tracker, fakes, now)
    first_ms = (time.perf_counter() - started) * 1000
    first_cpu = (time.process_time() - started_cpu) * 1000
    assert len(first["agents"]) == 50
    print(f"{window:,} agent spans in the window: first round (reads {tracker.last_read:,} agent"
          f" seconds) {first_ms:.1f} ms, cpu {first_cpu:.1f} ms")  # fmt: skip
    since = (now - AGENT_WINDOW_NS) // S * S  # where the views' window starts
    everything = views_of_activity(store.recent_agent_activity(since, limit=10**9), now)
    old = views_of_activity(store.recent_agent_activity(now - AGENT_WINDOW_NS), now)
    print(f"  errors in the window: {sum(v['errors'] for v in first['agents'])} in the views,"
          f" {sum(v['errors'] for v in everything)} in a fold of all its spans,"
          f" {sum(v['errors'] for v in old)} in a fold of the newest 10,000")  # fmt: skip

    def before() -> None:  # a round as it was: the newest 10,000 re-read and folded
        rows = store.recent_agent_activity(now - AGENT_WINDOW_NS)
        build_snapshot(now, fakes, views_of_activity(rows, now))

    report("  before: newest 10,000 re-read", timed(runs, before))

    def quiet_round() -> None:
        clock[0] += 2 * S
        take_snapshot(tracker, fakes, clock[0])
        assert tracker.last_read == 0

    report("  take, nothing new", timed(runs, quiet_round))
    rounds: list[tuple[float, float]] = []
    read: list[int] = []
    for _ in range(runs):
        clock[0] += 2 * S
        store.write_spans(traffic(clock[0] - 2 * S, clock[0], 500, written[0]))
        written[0] += 500
        started, started_cpu = time.perf_counter(), time.process_time()
        take_snapshot(tracker, fakes, clock[0])
        rounds.append(
            ((time.perf_counter() - started) * 1000, (time.process_time() - started_cpu) * 1000)
        )
        assert tracker.full_reads == 1
        read.append(tracker.last_read)
    walls, cpus = [r[0] for r in rounds], [r[1] for r in rounds]
    report(f"  take, 500 new spans ({statistics.median(read):.0f} agent seconds)",
           (statistics.median(walls), max(walls), statistics.median(cpus)))  # fmt: skip

    store.close()


def timed(runs: int, fn: Callable[[], object]) -> tuple[float, float, float]:
    """Median and max of ``fn``'s wall time and median of its CPU time, in ms. CPU time is
    the whole process's (the API under TestClient runs in a thread of its own): what the
    cores spend on it, whatever else the machine runs meanwhile."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - started_cpu) * 1000)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu)


def report(label: str, figures: tuple[float, float, float]) -> None:
    """One line of results."""
    median, worst, cpu = figures
    print(f"{label:36s} median {median:7.2f} ms  max {worst:7.2f} ms  cpu median {cpu:7.2f} ms")


def history(store: Store, now: int, days: float) -> int:
    """``days`` of snapshots every 2 s up to ``now`` (a small real snapshot, its timestamp
    rewritten), inserted by one SQL statement; returns how many."""
    rows = round(days * 86400 / 2)
    template = orjson.dumps(build_snapshot(0, collectors(pods=1, groups=1, partitions=1), []))
    text = template.decode().replace(rfc3339(0), "@TS@")
    started = time.perf_counter()
    conn = sqlite3.connect(store.path)  # type: ignore[attr-defined]
    with conn:
        conn.execute(
            "INSERT INTO system_snapshots (timestamp_ns, snapshot)"
            " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " SELECT ? - i * 2000000000, replace(?, '@TS@', strftime('%Y-%m-%dT%H:%M:%S',"
            " (? - i * 2000000000) / 1000000000, 'unixepoch') || '.000000000Z') FROM n",
            (rows, now, text, now),
        )
    conn.close()
    elapsed = time.perf_counter() - started
    print(f"{rows} snapshots of {len(template)} bytes written in {elapsed:.1f} s")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--days", type=float, default=7, help="days of 2 s snapshots stored")
    parser.add_argument("--windows", default="1000,100000", help="agent spans in the window")
    args = parser.parse_args()
    fakes = collectors(pods=500, groups=4, partitions=50)
    with tempfile.TemporaryDirectory() as tmp:
        store: Store = open_store(f"sqlite:///{tmp}/bench.db")
        now = time.time_ns()
        store.write_spans(agent_spans(now))
        clock = [now]
        tracker = AgentTracker(store)

        snapshot = take_snapshot(tracker, fakes, now)
        size = len(orjson.dumps(snapshot))
        assert len(snapshot["agents"]) == 50 and len(snapshot["kubernetes"]["pods"]) == 500
        print(f"snapshot: {size / 1024:.0f} KiB of JSON")
        started = time.perf_counter()
        validate_snapshot(snapshot)  # compiles the validator: once per process
        compile_ms = (time.perf_counter() - started) * 1e3
        print(f"first validation (compiles the schema): {compile_ms:.1f} ms")

        def store_one() -> None:
            clock[0] += 1
            store.write_snapshot(clock[0], snapshot)

        def once() -> None:
            clock[0] += 1
            taken = take_snapshot(tracker, fakes, clock[0])
            assert not validate_snapshot(taken)
            store.write_snapshot(clock[0], taken)

        def take() -> None:
            clock[0] += 1
            take_snapshot(tracker, fakes, clock[0])

        for label, fn in (
            ("take (read agent seconds, build)", take),
            ("validate", lambda: validate_snapshot(snapshot)),
            ("store", store_one),
            ("take + validate + store (warm)", once),
        ):
            report(label, timed(args.runs, fn))
        full_at = clock[0]
        for window in (int(w) for w in args.windows.split(",") if w):
            window_rounds(tmp, window, args.runs, fakes)

        rows = history(store, now, args.days)
        client = TestClient(create_app(store, dict))
        base = now - rows * 2 * S
        probes = [rfc3339(base + (k * 7919 % rows) * 2 * S + S) for k in range(args.runs)]
        it = iter(probes * 2)

        def at() -> None:
            response = client.get("/api/v1/snapshots/at", params={"ts": next(it)})
            assert response.status_code == 200

        params = {"start": rfc3339(now - 86400 * S), "end": rfc3339(now), "step": "60"}
        points = client.get("/api/v1/snapshots", params=params).json()["snapshots"]
        assert len(points) >= 1440 and not validate_snapshot(points[-1]["snapshot"])

        def day() -> None:  # the body as bytes: what a client parses is not the server's cost
            response = client.get("/api/v1/snapshots", params=params)
            assert response.status_code == 200 and len(response.content) > 1440 * 2000

        report(f"GET /snapshots/at ({rows} stored)", timed(args.runs, at))
        report("GET /snapshots 24 h, step 60 s", timed(max(5, args.runs // 3), day))
        found = store.snapshot_at(full_at)
        assert found is not None and found[0] == full_at
        report("snapshot_at of a full one", timed(args.runs, lambda: store.snapshot_at(full_at)))
        store.close()


if __name__ == "__main__":
    main()
