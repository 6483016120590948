"""Trace-by-id latency through the REST API with a million spans stored.

Fills an embedded SQLite store with realistic agent traces (decoded from OTLP like the receiver
does, written in batches of 5,000 through the store's writer), starts ``oracle-monitor serve``
on it, and times ``GET /api/v1/traces/{id}`` for random stored traces over one keep-alive HTTP
connection, plus ``GET /api/v1/traces`` searches. Usage: ``python bench/query.py [--spans N]``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ingest import free_port, wait_health
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.store import open_store
from workload import SPANS_PER_TRACE, requests

BATCH_SPANS = 5_000


def fill(db_path: Path, spans: int) -> list[str]:
    """Write ``spans`` spans; return every trace id."""
    store = open_store(f"sqlite:///{db_path}")
    trace_ids: list[str] = []
    pending = []
    written = 0
    started = time.perf_counter()
    for message in requests(spans // SPANS_PER_TRACE):
        batch = decode_protobuf(message.SerializeToString(), DecodeLimits()).spans
        pending.extend(batch)
        trace_ids.extend(span.trace_id for span in batch if not span.parent_span_id)
        if len(pending) >= BATCH_SPANS:
            store.write_spans(pending)
            written += len(pending)
            pending = []
    if pending:
        store.write_spans(pending)
        written += len(pending)
    elapsed = time.perf_counter() - started
    print(
        f"filled {written:,} spans in {elapsed:.1f} s (decode + write: {written / elapsed:,.0f}/s)"
    )
    assert store.count_spans() == written
    store.close()
    return trace_ids


def timed(client: httpx.Client, path: str, rounds: int, **params: str) -> list[float]:
    latencies = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(path, params=params)
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return latencies


def report(name: str, latencies: list[float]) -> None:
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)]
    print(f"{name}: median {statistics.median(latencies):.2f} ms, p95 {p95:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans to store first")
    parser.add_argument("--lookups", type=int, default=2_000, help="trace-by-id requests")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir:
        trace_ids = fill(Path(data_dir) / "oracle.db", args.spans)
        api_port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "oracle_monitor", "serve", "--data-dir", data_dir,
             "--otlp-grpc-port", str(free_port()), "--otlp-http-port", str(free_port()),
             "--api-port", str(api_port)],
            env={**os.environ, "ORACLE_LOG_LEVEL": "WARNING"},
        )  # fmt: skip
        try:
            api = f"http://127.0.0.1:{api_port}"
            wait_health(api, server)
            with httpx.Client(base_url=api) as client:
                by_id = []
                for trace_id in random.sample(trace_ids, min(args.lookups, len(trace_ids))):
                    by_id += timed(client, f"/api/v1/traces/{trace_id}", 1)
                report(f"trace by id ({args.spans:,} spans stored)", by_id)
                report("search, newest 20", timed(client, "/api/v1/traces", 200))
                report(
                    "search by service + status",
                    timed(client, "/api/v1/traces", 200, service="writer-agent", status="ok"),
                )
                report("search by agent", timed(client, "/api/v1/traces", 200, agent="analysis"))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)


if __name__ == "__main__":
    main()
