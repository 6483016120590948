"""OTLP forwarding benchmark: what forwarding costs ingestion, and how fast it forwards.

Runs the same workload (agent traces of 10 spans, requests of 512 spans, on SQLite) through a
real ``oracle-monitor serve`` three times: without forwarding; forwarding over OTLP/gRPC to a
second ``oracle-monitor serve``; forwarding to a target that accepts connections and never
answers. For each it reports spans per second until everything is readable in the first
server, the first server's CPU time and, when forwarding, how long until every span is
readable in the target and the health counters (forwarded, dropped, failed).

Usage: ``python bench/forward.py [--traces N] [--concurrency N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from ingest import Server, cpu_seconds, running_server, send_all, wait_readable
from workload import SPANS_PER_TRACE, requests


@contextmanager
def serve(**env: str) -> Iterator[Server]:
    with (
        tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir,
        running_server(data_dir, log_level="ERROR", **env) as server,
    ):
        yield server


@contextmanager
def black_hole() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def run(label: str, bodies: list[bytes], spans: int, last: str, concurrency: int,
        forward_to: str | None, target: Server | None) -> None:  # fmt: skip
    env = {"ORACLE_FORWARD_OTLP_ENDPOINTS": forward_to} if forward_to else {}
    with serve(**env) as server:
        idle = cpu_seconds(server.process.pid)
        started = time.perf_counter()
        asyncio.run(send_all(f"127.0.0.1:{server.grpc_port}", bodies, concurrency))
        wait_readable(server.api, last, SPANS_PER_TRACE)
        readable = time.perf_counter() - started
        cpu = cpu_seconds(server.process.pid) - idle
        line = f"{label}: {spans / readable:,.0f} spans/s stored, CPU {cpu:.1f} s"
        if target is not None:
            wait_readable(target.api, last, SPANS_PER_TRACE, timeout_s=600)
            line += f"; all in the target after {time.perf_counter() - started:.1f} s"
        if forward_to:
            time.sleep(1.0)
            (entry,) = httpx.get(f"{server.api}/api/v1/health").json()["forward"]["endpoints"]
            line += (
                f"; forwarded {entry['forwarded_spans']:,}, dropped {entry['dropped_spans']:,},"
                f" failed {entry['failed_spans']:,}, queued {entry['queued_spans']:,}"
            )
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=5_000, help="agent traces to send")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    args = parser.parse_args()
    messages = list(requests(args.traces))
    bodies = [message.SerializeToString() for message in messages]
    spans = args.traces * SPANS_PER_TRACE
    last = messages[-1].resource_spans[-1].scope_spans[-1].spans[-1].trace_id.hex()
    print(f"{spans:,} spans in {len(bodies)} requests, {os.cpu_count()} cores")
    run("no forwarding", bodies, spans, last, args.concurrency, None, None)
    with serve() as target:
        run("forwarding to a second server (gRPC)", bodies, spans, last, args.concurrency,
            f"grpc://127.0.0.1:{target.grpc_port}", target)  # fmt: skip
    with black_hole() as port:
        run("forwarding to a hung target", bodies, spans, last, args.concurrency,
            f"grpc://127.0.0.1:{port}", None)  # fmt: skip


if __name__ == "__main__":
    main()
