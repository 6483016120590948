"""Collector event → WebSocket client: how long until a live-stream client has it.

The path of ``oracle-monitor serve``, in one process: a collector hands an event to the event
sink, the sink's thread stores it in SQLite, its listener gives it to the live hub, the hub
to the client's handler, which sends it over ``WS /api/v1/live`` (uvicorn on a loopback
port) to a real ``websockets`` client. One event every ``--gap-ms``; target: p50 ≤ 50 ms.
Usage: ``python bench/live.py [--events 200] [--gap-ms 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

import orjson
import uvicorn
from websockets.asyncio.client import connect

from oracle_monitor.aggregator.live import LiveHub
from oracle_monitor.api import create_app
from oracle_monitor.api.serialize import event_json
from oracle_monitor.collectors.event_sink import StoreEventSink
from oracle_monitor.model import InfraEvent, Severity
from oracle_monitor.store import open_store


async def run(events: int, gap_s: float) -> list[float]:
    """Latencies in ms, one per event."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/live.db")
        hub = LiveHub()
        hub.bind(asyncio.get_running_loop())
        sink = StoreEventSink(store)
        sink.add_listener(lambda batch: hub.publish_events([event_json(e) for e in batch]))
        await sink.start()
        config = uvicorn.Config(
            create_app(store, dict, None, (), hub), host="127.0.0.1", port=0,
            log_level="warning", lifespan="off",
        )  # fmt: skip
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        sent: dict[str, float] = {}
        latencies: list[float] = []
        async with connect(f"ws://127.0.0.1:{port}/api/v1/live") as ws:
            assert orjson.loads(await ws.recv())["type"] == "hello"

            async def produce() -> None:
                for n in range(events):
                    event = InfraEvent(
                        time.time_ns(), "k8s", "oom_killed", f"pod/agents/research-{n}",
                        Severity.CRITICAL, "OOMKilled",
                    )  # fmt: skip
                    sent[event.event_id] = time.perf_counter()
                    sink([event])  # what a collector does
                    await asyncio.sleep(gap_s)

            producer = asyncio.create_task(produce())
            while len(latencies) < events:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] == "event":
                    arrived = time.perf_counter()
                    latencies.append((arrived - sent[message["event"]["event_id"]]) * 1000)
            await producer
        server.should_exit = True
        await serving
        await sink.shutdown()
        store.close()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    args = parser.parse_args()
    latencies = sorted(asyncio.run(run(args.events, args.gap_ms / 1000)))
    p = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"collector event -> WebSocket client ({args.events} events): "
        f"p50 {statistics.median(latencies):.2f} ms  p90 {p[89]:.2f} ms  p99 {p[98]:.2f} ms  "
        f"max {latencies[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
