"""Per-call cost of the LLM HTTP instrumentation, with the real OpenAI and Anthropic clients.

Makes calls from ``openai.OpenAI`` (chat completions) and ``anthropic.Anthropic`` (messages;
its own SDK spans off, they are not ours) to the local provider
(``oracle_monitor.demo.llm_provider``, in this process), JSON and streamed (with usage),
through these transports:

- ``none``: no instrumentation;
- ``stock``: OpenTelemetry's plain httpx2 instrumentor, no hooks (for reference);
- ``llm_http``: `instrument_llm_http`, spans to a tracer provider with no processor;
- ``unsampled``: `instrument_llm_http` with a sampler that records nothing: our code's cost
  without the recording span's;
- ``llm_http+batch``: the same with a `BatchSpanProcessor` (as `configure` sets up) whose
  exporter encodes each batch to OTLP protobuf and drops it: adds ``on_end``'s cost;
- ``--compare FILE``: also another version of ``llm_http.py`` (say from an older checkout).

Each mode's wrapper is installed, copied onto its own ``HTTPTransport`` subclass and removed,
so all modes live side by side; the calls go round-robin over the modes, in a rotating order,
so the machine's other load hits them alike. The provider runs in a thread of this
process, so each call is timed in CPU time of the calling thread (`time.thread_time`): what the
client and the instrumentation cost, without the server's work or its GIL contention.

Reports, per client and kind, each mode's p50 and p95 CPU µs per call and its overhead over
``none``: ``+p50`` is the median of the per-round differences, ``+p95`` the difference of the
p95s; then the exporter thread's CPU per span (encoding, off the calling thread).

``--replay`` takes the network out: each kind's response is recorded once from the provider,
then every call gets those bytes from an in-memory connection pool (an ``httpcore2`` pool's
``handle_request``, chunk by chunk as they arrived), so the figures are the client's and the
instrumentation's CPU alone, with less noise; the instrumentation is the same code either way.

``--bare`` (implies ``--replay``) makes the same four kinds of call with a plain ``httpx2``
client, without the SDKs: what is left over ``none`` is the instrumentation's own cost, with
less of the clients' work around it to blur it.

``--stream-parts N`` makes each stream N text deltas long (default: the documented examples'
few), as a long answer is: what a chunk costs shows up there.

Usage: ``python bench/llm_instrumentation.py [--rounds N] [--replay] [--bare]
[--stream-parts N] [--compare FILE]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import anthropic
import httpcore2
import httpx2
import openai
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from oracle_monitor.demo.llm_provider import running_llm_provider
from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http

MESSAGES: Any = [{"role": "user", "content": "Say hello"}]
CLAUDE = "claude-sonnet-4-20250514"
Toggle = tuple[Callable[[], None], Callable[[], None]]  # instrument, undo
UNINSTRUMENTED: Toggle = (lambda: None, lambda: None)


class EncodingExporter(SpanExporter):
    """Encodes each batch as the OTLP exporters do, keeps nothing; counts its own CPU time."""

    def __init__(self) -> None:
        self.spans = 0
        self.cpu_s = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        started = time.thread_time()
        encode_spans(spans).SerializeToString()
        self.cpu_s += time.thread_time() - started
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


class ReplayPool:
    """An ``httpcore2`` connection pool that answers each kind of call with recorded bytes."""

    def __init__(self) -> None:
        self.live = httpcore2.ConnectionPool()
        self.recorded: dict[str, tuple[int, list[tuple[bytes, bytes]], list[bytes]]] = {}
        self.key = ""
        self._recording = False

    def record(self, key: str, call: Callable[[], None]) -> None:
        """Make ``call`` once for real and keep its response as the answer for ``key``."""
        self.key, self._recording = key, True
        try:
            call()
        finally:
            self._recording = False

    def handle_request(self, request: httpcore2.Request) -> httpcore2.Response:
        if self._recording:
            response = self.live.handle_request(request)
            chunks = list(response.stream)  # type: ignore[arg-type]
            response.close()
            self.recorded[self.key] = (response.status, response.headers, chunks)
        status, headers, chunks = self.recorded[self.key]
        return httpcore2.Response(status, headers=headers, content=iter(chunks))


def transport_class(name: str, toggle: Toggle) -> type[httpx2.HTTPTransport]:
    """An ``HTTPTransport`` subclass that keeps what ``toggle`` installed, after it is undone."""
    on, off = toggle
    on()
    try:
        method = httpx2.HTTPTransport.__dict__["handle_request"]
    finally:
        off()
    return type(f"Bench{name}Transport", (httpx2.HTTPTransport,), {"handle_request": method})


def http_client(transport: type[httpx2.HTTPTransport], replay: ReplayPool | None) -> httpx2.Client:
    """A client on a new ``transport``, answered from ``replay`` when given."""
    instance = transport()
    if replay is not None:
        instance._pool = replay  # type: ignore[assignment]
    return httpx2.Client(transport=instance)


def load_module(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("compared_llm_http", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1000, help="calls per mode and kind")
    parser.add_argument("--compare", help="another llm_http.py to measure as mode 'compared'")
    parser.add_argument("--stream-parts", type=int, default=0, help="text deltas per stream")
    parser.add_argument("--replay", action="store_true", help="replay recorded responses")
    parser.add_argument("--bare", action="store_true", help="plain httpx2 calls, no SDK; replays")
    args = parser.parse_args()
    args.replay = args.replay or args.bare
    bare = TracerProvider()
    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    exporter = EncodingExporter()
    batched = TracerProvider()
    batched.add_span_processor(BatchSpanProcessor(exporter))
    plain = HTTPX2ClientInstrumentor()
    toggles: dict[str, Toggle] = {
        "none": UNINSTRUMENTED,
        "stock": (lambda: plain.instrument(tracer_provider=bare), plain.uninstrument),
        "llm_http": (lambda: instrument_llm_http(bare), uninstrument_llm_http),
        "unsampled": (lambda: instrument_llm_http(unsampled), uninstrument_llm_http),
        "llm_http+batch": (lambda: instrument_llm_http(batched), uninstrument_llm_http),
    }
    if args.compare:
        other = load_module(args.compare)
        toggles["compared"] = (lambda: other.instrument_llm_http(bare), other.uninstrument_llm_http)
    transports = {name: transport_class(name, toggle) for name, toggle in toggles.items()}
    with running_llm_provider() as upstream:
        if args.stream_parts:
            upstream.stream_parts = [f" w{i}" for i in range(args.stream_parts)]
        calls: dict[str, dict[str, Callable[[], None]]] = {}
        replay = ReplayPool() if args.replay else None

        def client(transport: type[httpx2.HTTPTransport]) -> httpx2.Client:
            return http_client(transport, replay)

        for name, transport in transports.items():
            if args.bare:
                calls[name] = bare_kinds(client(transport), upstream.base_url)
                continue
            oai = openai.OpenAI(
                api_key="sk-bench", base_url=upstream.openai_base_url, http_client=client(transport)
            )
            claude = anthropic.Anthropic(
                api_key="sk-ant-bench",
                base_url=upstream.base_url,
                open_telemetry=False,
                http_client=client(transport),
            )
            calls[name] = kinds(oai, claude)
        if replay is not None:
            for label, call in calls["none"].items():
                replay.record(label, call)
        print(f"{args.rounds} calls per mode, CPU µs per call of the calling thread")
        print(f"{'':<17}{'mode':<15}{'p50':>7}{'p95':>7}{'+p50':>7}{'+p95':>7}")
        for label in calls["none"]:
            if replay is not None:
                replay.key = label
            measure(label, {name: calls[name][label] for name in calls}, args.rounds)
            upstream.requests.clear()
        batched.force_flush()
        if exporter.spans:
            per_span = exporter.cpu_s / exporter.spans * 1e6
            print(f"exporter thread: {exporter.spans} spans, {per_span:.1f} µs CPU per span")


def kinds(oai: openai.OpenAI, claude: anthropic.Anthropic) -> dict[str, Callable[[], None]]:
    def openai_json() -> None:
        oai.chat.completions.create(model="o4-mini", messages=MESSAGES)

    def openai_stream() -> None:
        options: Any = {"include_usage": True}
        for _ in oai.chat.completions.create(
            model="o4-mini", messages=MESSAGES, stream=True, stream_options=options
        ):
            pass

    def anthropic_json() -> None:
        claude.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES)

    def anthropic_stream() -> None:
        stream = claude.messages.create(model=CLAUDE, max_tokens=64, messages=MESSAGES, stream=True)
        for _ in stream:
            pass

    return {
        "openai json": openai_json,
        "openai stream": openai_stream,
        "anthropic json": anthropic_json,
        "anthropic stream": anthropic_stream,
    }


def bare_kinds(http: httpx2.Client, base_url: str) -> dict[str, Callable[[], None]]:
    """The calls of `kinds` as plain requests with the SDKs' bodies, each body read to its end."""
    chat = {"model": "o4-mini", "messages": MESSAGES}
    chat_stream = {**chat, "stream": True, "stream_options": {"include_usage": True}}
    message = {"model": CLAUDE, "max_tokens": 64, "messages": MESSAGES}

    def post(path: str, body: dict[str, Any]) -> Callable[[], None]:
        url = base_url + path
        headers = {"authorization": "Bearer sk-bench", "x-api-key": "sk-ant-bench"}

        def call() -> None:
            with http.stream("POST", url, json=body, headers=headers) as response:
                for _ in response.iter_bytes():
                    pass

        return call

    return {
        "openai json": post("/v1/chat/completions", chat),
        "openai stream": post("/v1/chat/completions", chat_stream),
        "anthropic json": post("/v1/messages", message),
        "anthropic stream": post("/v1/messages", {**message, "stream": True}),
    }


def measure(label: str, calls: dict[str, Callable[[], None]], rounds: int) -> None:
    names = list(calls)
    for _ in range(20):  # warm up connections and caches
        for call in calls.values():
            call()
    gc.collect()
    times: dict[str, list[float]] = {name: [] for name in names}
    diffs: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.thread_time()
            calls[name]()
            times[name].append(time.thread_time() - started)
        for name in names:
            diffs[name].append(times[name][-1] - times["none"][-1])
    base95 = percentile(times["none"], 95)
    for name in names:
        p50, p95 = percentile(times[name], 50), percentile(times[name], 95)
        extra = ""
        if name != "none":
            extra = f"{statistics.median(diffs[name]) * 1e6:+7.0f}{(p95 - base95) * 1e6:+7.0f}"
        print(f"{label:<17}{name:<15}{p50 * 1e6:7.0f}{p95 * 1e6:7.0f}{extra}", flush=True)


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


if __name__ == "__main__":
    main()
