"""Latency of the Jaeger-compatible API and of ``/metrics`` with many spans stored.

Fills an embedded SQLite store with the agent traces of ``bench/query.py`` (ten spans each,
one agent per service, LLM calls with tokens and cost), starts ``oracle-monitor serve`` on it
and times what Grafana's Jaeger data source asks for: services, operations, a trace by id,
searches (by service; by operation and tag, which walks the spans of each candidate trace;
one with a tag no span has, the worst case: every trace of the last two days is probed), the
service dependencies of the last day, and a ``/metrics`` scrape (its store-backed part read
once, then cached). Usage: ``python bench/jaeger.py [--spans N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import httpx

from ingest import fresh_store, running_server
from query import fill, report, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=200_000, help="spans to store first")
    parser.add_argument("--rounds", type=int, default=50, help="requests per measurement")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir,
        fresh_store(None, data_dir, keep=False) as url,
    ):
        trace_ids = fill(url, args.spans, None, 1)
        with running_server(data_dir, url) as server:
            api = server.api
            rounds = args.rounds
            with httpx.Client(base_url=api, timeout=120) as client:
                print(f"{args.spans:,} spans stored")
                report("services", timed(client, "/jaeger/api/services", rounds))
                report(
                    "operations of a service",
                    timed(client, "/jaeger/api/operations", rounds, service="writer-agent"),
                )
                by_id = []
                for trace_id in random.sample(trace_ids, min(rounds, len(trace_ids))):
                    by_id += timed(client, f"/jaeger/api/traces/{trace_id}", 1)
                report("trace by id (with its correlated events)", by_id)
                search = "/jaeger/api/traces"
                report(
                    "search by service, limit 20",
                    timed(client, search, rounds, service="writer-agent", limit="20"),
                )
                report(
                    "search by service + operation + tag, limit 20",
                    timed(
                        client, search, rounds, service="writer-agent",
                        operation="execute_tool web_search",
                        tags='{"gen_ai.tool.name":"web_search"}', limit="20",
                    ),
                )  # fmt: skip
                report(
                    "search, a tag no span has (probes every trace)",
                    timed(client, search, 3, service="writer-agent", tags='{"nope":"x"}'),
                )
                end_ts = str(time.time_ns() // 10**6)
                report(
                    "dependencies, last 24 h",
                    timed(client, "/jaeger/api/dependencies", 3, endTs=end_ts),
                )
                report("/metrics, first scrape (reads the store)", timed(client, "/metrics", 1))
                report("/metrics, cached", timed(client, "/metrics", rounds))


if __name__ == "__main__":
    main()
