"""System snapshots: time to take, validate and store one; time of ``/snapshots/at``.

One snapshot of a busy system: 50 agents (20 spans each in the last minutes, read back from
the store), 500 pods, 4 consumer groups on 50 partitions each (200 partition lags), LLM usage.
Target: take + validate + store ≤ 20 ms (median, CPU time of one core). Then seven days of
snapshots every 2 s (302,400 rows, small ones so the file stays small — the lookups are what
grows with their number — written by one SQL statement) and, through the API:
``/snapshots/at`` (target ≤ 20 ms) and a 24-hour ``/snapshots`` series at the default 60 s
step (1,440 points; target ≤ 100 ms); and ``snapshot_at`` of a full-size one.
Usage: ``python bench/aggregator.py [--runs 30] [--days 7]``.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the shared test sample

from fastapi.testclient import TestClient
from tests.unit.aggregator.snapshot_sample import collectors

from oracle_monitor.aggregator.snapshot import build_snapshot, validate_snapshot
from oracle_monitor.aggregator.snapshot_loop import take_snapshot
from oracle_monitor.api import create_app
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
    args = parser.parse_args()
    fakes = collectors(pods=500, groups=4, partitions=50)
    with tempfile.TemporaryDirectory() as tmp:
        store: Store = open_store(f"sqlite:///{tmp}/bench.db")
        now = time.time_ns()
        store.write_spans(agent_spans(now))
        clock = [now]

        snapshot = take_snapshot(store, fakes, now)
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
            taken = take_snapshot(store, fakes, clock[0])
            assert not validate_snapshot(taken)
            store.write_snapshot(clock[0], taken)

        for label, fn in (
            ("take (read spans, agents, build)", lambda: take_snapshot(store, fakes, now)),
            ("validate", lambda: validate_snapshot(snapshot)),
            ("store", store_one),
            ("take + validate + store (warm)", once),
        ):
            report(label, timed(args.runs, fn))
        full_at = clock[0]

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
