"""Per-call cost of the LLM HTTP instrumentation, with the real OpenAI client.

Makes chat-completion calls (JSON, and streamed with usage) from ``openai.OpenAI`` to the
in-process local provider (``oracle_monitor.demo.llm_provider``) in three modes: no instrumentation,
OpenTelemetry's plain httpx2 instrumentation (hooks off), and `instrument_llm_http`. Modes run
in alternating blocks so drift hits them alike. The fake upstream runs in a thread of this
process, so each call is timed in CPU time of the calling thread (`time.thread_time`): what the
client and the instrumentation cost, without the server's work or its GIL contention. Reports
the median per call and the differences, in µs. Spans go to a tracer provider with no
exporter, so export cost is not in it.

Usage: ``python bench/llm_instrumentation.py [--calls N] [--block N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from oracle_monitor.demo.llm_provider import running_llm_provider
from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http

MESSAGES: Any = [{"role": "user", "content": "Say hello"}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per mode and kind")
    parser.add_argument("--block", type=int, default=250, help="calls per alternating block")
    args = parser.parse_args()
    provider = TracerProvider()
    plain = HTTPX2ClientInstrumentor()
    modes: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "none": (lambda: None, lambda: None),
        "httpx2 spans": (lambda: plain.instrument(tracer_provider=provider), plain.uninstrument),
        "llm_http": (lambda: instrument_llm_http(provider), uninstrument_llm_http),
    }
    with running_llm_provider() as upstream:
        client = openai.OpenAI(api_key="sk-bench", base_url=upstream.openai_base_url)

        def json_call() -> None:
            client.chat.completions.create(model="o4-mini", messages=MESSAGES)

        def stream_call() -> None:
            stream = client.chat.completions.create(
                model="o4-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            for _ in stream:
                pass

        for kind, call in (("json", json_call), ("stream", stream_call)):
            times: dict[str, list[float]] = {name: [] for name in modes}
            for _ in range(20):  # warm up connections and caches
                call()
            for _ in range(max(1, args.calls // args.block)):
                for name, (on, off) in modes.items():
                    on()
                    try:
                        for _ in range(args.block):
                            started = time.thread_time()
                            call()
                            times[name].append(time.thread_time() - started)
                    finally:
                        off()
                upstream.requests.clear()
            medians = {name: statistics.median(values) * 1e6 for name, values in times.items()}
            print(f"{kind}: {len(times['none'])} calls per mode, median CPU µs per call")
            for name, value in medians.items():
                print(f"  {name:<14} {value:9.1f}")
            print(f"  llm_http - none          {medians['llm_http'] - medians['none']:+9.1f} µs")
            extra = medians["llm_http"] - medians["httpx2 spans"]
            print(f"  llm_http - httpx2 spans  {extra:+9.1f} µs")


if __name__ == "__main__":
    main()
