"""LLM proxy overhead: latency added over calling the upstream directly, and throughput.

Starts a fast local upstream that answers like OpenAI's chat completions API (JSON, and SSE
streams of 20 chunks), ``oracle-monitor serve`` to receive the proxy's spans, and
``oracle-monitor proxy`` in front of the upstream. Reports, for non-streaming calls, p50/p99
of (via proxy) minus (direct); for streams, the delay added to the first chunk; and requests
per second through the proxy (one proxy process, so one core). Usage:
``python bench/proxy.py [--requests N] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ingest import free_port, wait_health

COMPLETION = (
    b'{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion",'
    b'"created":1741569952,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":'
    b'{"role":"assistant","content":"Hello! How can I assist you today?"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,'
    b'"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0},'
    b'"completion_tokens_details":{"reasoning_tokens":0}}}'
)
CHUNK = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06",'
    b'"choices":[{"index":0,"delta":{"content":"word "},"finish_reason":null}]}\n\n'
)
USAGE = (
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o-2024-08-06",'
    b'"choices":[],"usage":{"prompt_tokens":19,"completion_tokens":20,"total_tokens":39}}\n\n'
    b"data: [DONE]\n\n"
)
REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}


async def completions(request: Request) -> Response:
    body = await request.json()
    if not body.get("stream"):
        return Response(COMPLETION, media_type="application/json")

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield CHUNK
            await asyncio.sleep(0.002)
        yield USAGE

    return StreamingResponse(chunks(), media_type="text/event-stream")


def run_upstream(port: int) -> None:
    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
        loop="uvloop", http="httptools",
    )  # fmt: skip


async def latencies(client: httpx.AsyncClient, url: str, count: int) -> list[float]:
    result = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post(url, json=REQUEST)
        result.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return result


async def first_chunk_ms(client: httpx.AsyncClient, url: str, count: int) -> list[float]:
    result = []
    for _ in range(count):
        started = time.perf_counter()
        async with client.stream("POST", url, json={**REQUEST, "stream": True}) as response:
            first = True
            async for _ in response.aiter_raw():
                if first:
                    result.append((time.perf_counter() - started) * 1000)
                    first = False
    return result


async def throughput(url: str, seconds: float, concurrency: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.post(url, json=REQUEST)
                assert response.status_code == 200
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk_throughput(url: str, seconds: float) -> float:
    """Requests per second `wrk` gets at ``url`` with 16 connections on one thread."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        output = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{max(1, int(seconds))}s", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    line = next(line for line in output.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def measure(direct: str, proxied: str, requests: int, seconds: float) -> None:
    async with httpx.AsyncClient() as client:
        await latencies(client, direct, 50)  # warm up both paths
        await latencies(client, proxied, 50)
        base = await latencies(client, direct, requests)
        via = await latencies(client, proxied, requests)
        p50 = statistics.median(via) - statistics.median(base)
        p99 = percentile(via, 0.99) - percentile(base, 0.99)
        print(f"non-streaming overhead: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        direct_p50, via_p50 = statistics.median(base), statistics.median(via)
        print(f"  direct p50 {direct_p50:.2f} ms, via proxy {via_p50:.2f} ms")
        first_direct = await first_chunk_ms(client, direct, requests // 4)
        first_via = await first_chunk_ms(client, proxied, requests // 4)
        delay = statistics.median(first_via) - statistics.median(first_direct)
        print(f"stream first-chunk delay added: p50 {delay:.2f} ms")
    if shutil.which("wrk"):
        direct_rate = wrk_throughput(direct, seconds)
        rate = wrk_throughput(proxied, seconds)
        tool = "wrk"
    else:  # a Python load generator saturates before the proxy does; install wrk for the figure
        direct_rate = await throughput(direct, seconds, concurrency=16)
        rate = await throughput(proxied, seconds, concurrency=16)
        tool = "httpx (install wrk for a truer figure)"
    print(f"throughput through the proxy (one process): {rate:,.0f} requests/s [{tool}]")
    print(f"  the upstream alone: {direct_rate:,.0f} requests/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed calls per path")
    parser.add_argument("--seconds", type=float, default=10, help="throughput run length")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        run_upstream(args.upstream)
        return
    upstream_port, proxy_port = free_port(), free_port()
    grpc_port, api_port = free_port(), free_port()
    quiet = {**os.environ, "ORACLE_LOG_LEVEL": "WARNING", "ORACLE_PROXY_LOG_LEVEL": "WARNING"}
    processes = [
        subprocess.Popen([sys.executable, __file__, "--upstream", str(upstream_port)]),
        subprocess.Popen(
            [sys.executable, "-m", "oracle_monitor", "serve", "--data-dir",
             f"/tmp/oracle-bench-proxy-{os.getpid()}", "--otlp-grpc-port", str(grpc_port),
             "--otlp-http-port", str(free_port()), "--api-port", str(api_port)],
            env=quiet,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "oracle_monitor", "proxy", "--port", str(proxy_port),
             "--openai-upstream", f"http://127.0.0.1:{upstream_port}"],
            env={**quiet, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{grpc_port}",
                 "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        ),
    ]  # fmt: skip
    try:
        wait_health(f"http://127.0.0.1:{api_port}", processes[1])
        for port in (upstream_port, proxy_port):
            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
        asyncio.run(
            measure(
                f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                f"http://127.0.0.1:{proxy_port}/v1/chat/completions",
                args.requests,
                args.seconds,
            )
        )
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)


if __name__ == "__main__":
    main()
