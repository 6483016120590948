"""System snapshots: time to take, validate and store one; time of ``/snapshots/at``.

One snapshot of a busy system: 50 agents (20 spans each in the last minutes, read back from
the store), 500 pods, 4 consumer groups on 50 partitions each (200 partition lags), LLM usage.
Target: take + validate + store ≤ 20 ms (median). Then ``GET /api/v1/snapshots/at`` through
the API with many snapshots stored (small ones, so the file stays small: the lookup is what
grows with their number), and ``snapshot_at`` of a full-size one.
Usage: ``python bench/aggregator.py [--runs 30] [--stored 20000]``.
"""

from __future__ import annotations

import argparse
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

from oracle_monitor.aggregator.snapshot import validate_snapshot
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
    """Median and max of ``fn``'s wall time and median of its CPU time (this thread's), in
    ms. CPU time is what one core spends, whatever else the machine runs meanwhile."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        fn()
        cpu.append((time.thread_time() - started_cpu) * 1000)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu)


def report(label: str, figures: tuple[float, float, float]) -> None:
    """One line of results."""
    median, worst, cpu = figures
    print(f"{label:36s} median {median:7.2f} ms  max {worst:7.2f} ms  cpu median {cpu:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--stored", type=int, default=20000, help="snapshots for /at")
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

        small = {"n": 1, "agents": [], "alerts": []}
        base = now - (args.stored + 1) * 2 * S
        for n in range(args.stored):
            store.write_snapshot(base + n * 2 * S, small)
        client = TestClient(create_app(store, dict))
        probes = [rfc3339(base + (k * 7919 % args.stored) * 2 * S + S) for k in range(args.runs)]
        it = iter(probes * 2)

        def at() -> None:
            response = client.get("/api/v1/snapshots/at", params={"ts": next(it)})
            assert response.status_code == 200

        report(f"GET /snapshots/at ({args.stored} stored)", timed(args.runs, at))
        found = store.snapshot_at(full_at)
        assert found is not None and found[0] == full_at
        report("snapshot_at of a full one", timed(args.runs, lambda: store.snapshot_at(full_at)))
        store.close()


if __name__ == "__main__":
    main()
