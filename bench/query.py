"""Trace-by-id latency through the REST API with a million spans stored.

Fills an embedded SQLite store with realistic agent traces (decoded from OTLP like the receiver
does, written in batches of 5,000 through the store's writer), starts ``oracle-monitor serve``
on it, and times ``GET /api/v1/traces/{id}`` for random stored traces over one keep-alive HTTP
connection, plus ``GET /api/v1/traces`` searches (the newest, filtered, and the last 24 hours).
Usage: ``python bench/query.py [--spans N] [--days D] [--store postgresql://…]``: the traces'
start times are spread over the last ``D`` days (default: 1 ms apart, ending now); with
``--store`` the store is a fresh schema in that PostgreSQL database, filled by
``--fill-workers`` processes and dropped at the end; ``--keep`` keeps it, and a URL that names
a ``schema=`` already filled is benched as it is (to measure again without filling again).
``--replicate K`` (PostgreSQL only) then copies the spans and trace summaries written K - 1
times inside the database, each copy with new trace ids and start times shifted to fall
between the originals': large stores in minutes rather than hours of client-side generation.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx

from ingest import fresh_store, running_server
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.processing.pricing import Pricing, load_prices
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.store import open_store
from workload import SPANS_PER_TRACE, requests

BATCH_SPANS = 5_000


def fill_part(url: str, traces: int, first: int, start_ns: int, step_ns: int) -> list[str]:
    """Write traces ``first`` to ``first + traces``; return their ids."""
    store = open_store(url, migrate=False)
    trace_ids: list[str] = []
    pending = []
    messages = requests(traces, start_ns=start_ns, step_ns=step_ns, first=first)
    processors = (GenAIFields(), Pricing(load_prices(None)))
    for message in messages:
        batch = decode_protobuf(message.SerializeToString(), DecodeLimits()).spans
        for processor in processors:  # as serve's chain does before the store
            processor.process(batch)
        pending.extend(batch)
        trace_ids.extend(span.trace_id for span in batch if not span.parent_span_id)
        if len(pending) >= BATCH_SPANS:
            store.write_spans(pending)
            pending = []
    if pending:
        store.write_spans(pending)
    store.close()
    return trace_ids


def stored_trace_ids(url: str, count: int) -> tuple[list[str], int]:
    """Random trace ids of a filled PostgreSQL store (and how many spans it holds)."""
    from oracle_monitor.store.postgres import StoreURL

    with StoreURL.parse(url).connect() as conn:
        row = conn.execute(b"SELECT count(*) FROM spans").fetchone()
        spans = int(row[0]) if row else 0
        print(f"{spans:,} spans stored in {url}")
        rows = conn.execute(
            b"SELECT encode(trace_id, 'hex') FROM traces TABLESAMPLE SYSTEM (5) LIMIT %s",
            (count * 20,),
        ).fetchall()
    return random.sample([row[0] for row in rows], min(count, len(rows))), spans


def replicate(url: str, copies: int, step_ns: int) -> None:
    """Copy every stored trace ``copies`` times inside PostgreSQL (see the module docstring)."""
    from oracle_monitor.store.postgres import StoreURL
    from oracle_monitor.store.postgres.partitions import ensure_partitions, span_partitions

    started = time.perf_counter()
    new_id = "decode(md5(encode(trace_id, 'hex') || k::text), 'hex')"
    shift = f"(k::bigint * {step_ns // (copies + 1)})"
    columns = (
        "tenant_id, trace_id, span_id, parent_span_id, resource_id, start_time_ns, end_time_ns,"
        " name, kind, status_code, status_message, trace_state, flags,"
        " dropped_attributes_count, dropped_events_count, dropped_links_count, scope_name,"
        " scope_version, service_name, agent_name, provider, model, input_tokens,"
        " output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, pod_name,"
        " namespace, task_id, cost_usd, rate_limited, attributes, attributes_text, events, links"
    )
    copied = columns.replace(" trace_id,", f" {new_id},", 1)
    copied = copied.replace(" start_time_ns, end_time_ns,", f" start_time_ns + {shift},"
                            f" end_time_ns + {shift},", 1)  # fmt: skip
    with StoreURL.parse(url).connect() as conn:
        days = span_partitions(conn)
        ensure_partitions(conn, [*days, max(days) + 1])
        for _, name in sorted(days.items(), reverse=True):  # copies move later, not earlier
            conn.execute(
                f"INSERT INTO spans ({columns}) SELECT {copied}"
                f" FROM {name} CROSS JOIN generate_series(1, {copies}) AS k".encode()
            )
        conn.execute(
            "INSERT INTO traces (tenant_id, trace_id, start_time_ns, end_time_ns, root_name,"
            " root_service, root_seen, root_start_ns, span_count, error_count, input_tokens,"
            f" output_tokens, services, agents) SELECT tenant_id, {new_id},"
            f" start_time_ns + {shift}, end_time_ns + {shift}, root_name, root_service,"
            f" root_seen, root_start_ns + {shift}, span_count, error_count, input_tokens,"
            " output_tokens, services, agents"
            f" FROM traces CROSS JOIN generate_series(1, {copies}) AS k".encode()
        )
        conn.execute(b"ANALYZE")
    print(f"replicated {copies} times in {time.perf_counter() - started:.1f} s")


def fill(url: str, spans: int, days: float | None, workers: int) -> list[str]:
    """Write ``spans`` spans with ``workers`` processes; return every trace id."""
    open_store(url).close()  # the schema, once
    traces = spans // SPANS_PER_TRACE
    step_ns = step_of(spans, days)
    start_ns = time.time_ns() - traces * step_ns
    share = -(-traces // workers)
    parts = [(n * share, min(share, traces - n * share)) for n in range(workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        futures = [
            pool.submit(fill_part, url, count, first, start_ns, step_ns)
            for first, count in parts
            if count > 0
        ]
        trace_ids = [trace_id for future in futures for trace_id in future.result()]
    elapsed = time.perf_counter() - started
    store = open_store(url)
    written = store.count_spans()
    store.close()
    print(
        f"filled {written:,} spans in {elapsed:.1f} s with {workers} process(es)"
        f" (decode + write: {written / elapsed:,.0f}/s)"
    )
    assert written == traces * SPANS_PER_TRACE
    return trace_ids


def step_of(spans: int, days: float | None) -> int:
    """Nanoseconds between the starts of consecutive traces."""
    return int(days * 86_400e9 / (spans // SPANS_PER_TRACE)) if days else 1_000_000


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
    parser.add_argument("--days", type=float, help="spread the traces over this many days")
    parser.add_argument("--store", help="postgresql://… database to bench on instead of SQLite")
    parser.add_argument("--fill-workers", type=int, default=1, help="processes that fill")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument("--replicate", type=int, default=1, help="PostgreSQL: K copies in all")
    args = parser.parse_args()
    reuse = args.store is not None and "schema=" in args.store
    with (
        tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir,
        fresh_store(None if reuse else args.store, data_dir, keep=args.keep) as url,
    ):
        if reuse:
            url = args.store
            trace_ids, total = stored_trace_ids(url, args.lookups)
        else:
            trace_ids = fill(url, args.spans, args.days, args.fill_workers)
            total = args.spans
            if args.replicate > 1:
                replicate(url, args.replicate - 1, step_of(args.spans, args.days))
                trace_ids, total = stored_trace_ids(url, args.lookups)
        with running_server(data_dir, url) as server:
            api = server.api
            with httpx.Client(base_url=api) as client:
                by_id = []
                for trace_id in random.sample(trace_ids, min(args.lookups, len(trace_ids))):
                    by_id += timed(client, f"/api/v1/traces/{trace_id}", 1)
                report(f"trace by id ({total:,} spans stored)", by_id)
                report("search, newest 20", timed(client, "/api/v1/traces", 200))
                report(
                    "search by service + status",
                    timed(client, "/api/v1/traces", 200, service="writer-agent", status="ok"),
                )
                report("search by agent", timed(client, "/api/v1/traces", 200, agent="analysis"))
                now = datetime.now(UTC)
                day = {"start": (now - timedelta(hours=24)).isoformat(), "end": now.isoformat()}
                report("search, last 24 hours", timed(client, "/api/v1/traces", 200, **day))
                report(
                    "search, last 24 hours, agent + error",
                    timed(client, "/api/v1/traces", 200, agent="writer", status="error", **day),
                )


if __name__ == "__main__":
    main()
