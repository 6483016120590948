"""Instructions, not seconds: the cost of a stored span and of an instrumented LLM call, exact
whatever else the machine is doing.

The timed benchmarks (``ingest.py``, ``llm_instrumentation.py``) run on shared machines whose
speed can drift by half within the hour; two versions of the code are best told apart by the
instructions they execute. Each figure here runs a workload in a child process under valgrind's
callgrind twice, at two sizes, in parallel (with a fixed ``PYTHONHASHSEED``, without which two
runs of the same code differ by about 0.1 %); the difference of the two totals over the
difference in size is the cost of one unit, start-up and warm-up cancelling out.

- ``ingest``: ``serve``'s store chain (decode, ``genai_fields``, ``pricing``, the SQLite store)
  in one process over the workload's requests (``workload.py``: 512 spans each, taken four at
  a time as a worker takes them): instructions per stored span.
- ``llm``: OpenAI chat completions (JSON and an 11-event stream) through an
  ``instrument_llm_http`` client and an uninstrumented one, calls alternating, responses
  replayed from memory (``llm_instrumentation.py --replay``); against the same with a second
  uninstrumented client: instructions our instrumentation adds per call.
- ``stream``: the part of that our own stream parsing is: the 11-event stream's recorded
  chunks through a `oracle_monitor.genai.StreamAccumulator` as ``llm_span`` feeds it (chunk
  by chunk up to the first token, then the rest kept and parsed at the end), with the
  request's `start_call` and the response's attributes: instructions per stream.

Needs ``valgrind``. Usage: ``python bench/instructions.py [ingest] [llm] [stream]`` (all by
default).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the shared workload

if TYPE_CHECKING:
    from collections.abc import Callable

    from llm_instrumentation import ReplayPool, Toggle

WARM_UP_REQUESTS = 40
REQUESTS = (20, 60)  # measured after the warm-up: the small and the large run
SPANS_PER_REQUEST = 512
WARM_UP_ROUNDS = 20
ROUNDS = (20, 80)  # LLM calls per client, measured after the warm-up
STREAMS = (200, 1200)  # streams parsed, measured after the warm-up
SUMMARY = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)


def instructions(arguments: list[str]) -> int:
    """Instructions executed by this script run with ``arguments`` under callgrind."""
    with tempfile.TemporaryDirectory(prefix="oracle-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--inner", *arguments],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # else dicts and sets vary run to run
        )  # fmt: skip
        found = SUMMARY.search(out.read_bytes())
        assert found is not None, "callgrind wrote no total"
        return int(found.group(1))


def per_unit(small: list[str], large: list[str], units: int) -> float:
    """(instructions of ``large`` - those of ``small``) / ``units``, both run at once."""
    with ThreadPoolExecutor(2) as pool:
        low, high = pool.map(instructions, (small, large))
    return (high - low) / units


def measure_ingest() -> None:
    small, large = REQUESTS
    spans = (large - small) * SPANS_PER_REQUEST
    cost = per_unit(["ingest", str(small)], ["ingest", str(large)], spans)
    print(f"ingest chain (decode, genai_fields, pricing, SQLite store): {cost:,.0f} per span")


def measure_llm() -> None:
    small, large = ROUNDS
    for kind in ("json", "stream"):
        both = {
            modes: per_unit(["llm", kind, modes, str(small)], ["llm", kind, modes, str(large)],
                            large - small)
            for modes in ("none,none", "none,llm_http")
        }  # fmt: skip
        call = both["none,none"] / 2
        added = both["none,llm_http"] - both["none,none"]
        print(f"openai {kind}: {call:,.0f} per uninstrumented call; llm_http adds {added:+,.0f}")


def measure_stream() -> None:
    small, large = STREAMS
    cost = per_unit(["stream", str(small)], ["stream", str(large)], large - small)
    print(f"openai stream parsing alone (StreamAccumulator, as llm_span feeds it): {cost:,.0f}")


def run_ingest(requests: int) -> None:
    """The child of `measure_ingest`: warm up, then ``requests`` requests through the chain."""
    from oracle_monitor.config import Settings, StoreSettings
    from oracle_monitor.pipeline.components import ChainContext
    from oracle_monitor.pipeline.factories import build_chain, store_chain
    from oracle_monitor.receiver.worker_process import collect_between_batches
    from workload import requests as workload

    random.seed(0)
    # As many bodies made for either size, so that making them cancels out too.
    traces = (WARM_UP_REQUESTS + max(REQUESTS)) * SPANS_PER_REQUEST // 10 + 1
    bodies = [r.SerializeToString() for r in workload(traces)][: WARM_UP_REQUESTS + requests]
    with tempfile.TemporaryDirectory(prefix="oracle-instructions-") as folder:
        store = StoreSettings(url=f"sqlite:///{folder}/s.db", data_dir=Path(folder))
        spec = store_chain(Settings(store=store))
        context = ChainContext(spec.store_url)
        chain = build_chain(spec, context)
        gc.collect()
        gc.freeze()
        gc.disable()  # as in a worker: the collector runs between batches
        for start in range(0, len(bodies), 4):  # as a worker takes them: four at a time
            batch = bodies[start : start + 4]
            items = [item for body in batch for item in chain.decode(0, body).items]
            chain.process(items)
            chain.export(items)
            del items
            collect_between_batches()
        chain.shutdown()
        context.close()


def recorded_openai_calls(
    kind: str, modes: list[str], toggles: dict[str, Toggle]
) -> tuple[ReplayPool, list[Callable[[], None]]]:
    """One OpenAI client per mode on a shared `ReplayPool`, and one recorded answer of ``kind``.

    The local provider answers once, for the recording, and is stopped before the caller
    measures, so its thread adds no instructions. Returns the pool and each client's call.
    """
    import openai

    from llm_instrumentation import ReplayPool, http_client, kinds, transport_class
    from oracle_monitor.demo.llm_provider import running_llm_provider

    replay = ReplayPool()
    calls: list[Callable[[], None]] = []
    with running_llm_provider() as upstream:
        for index, mode in enumerate(modes):
            transport = transport_class(f"{mode}{index}", toggles[mode])
            client = openai.OpenAI(
                api_key="sk-bench",
                base_url=upstream.openai_base_url,
                http_client=http_client(transport, replay),
            )
            calls.append(kinds(client, None)[f"openai {kind}"])  # type: ignore[arg-type]
        replay.record(kind, calls[0])
    replay.key = kind
    return replay, calls


def run_llm(kind: str, modes: str, rounds: int) -> None:
    """The child of `measure_llm`: ``rounds`` calls of ``kind`` through each client in turn."""
    from opentelemetry.sdk.trace import TracerProvider

    from llm_instrumentation import UNINSTRUMENTED
    from oracle_monitor.instrumentation.llm_http import instrument_llm_http, uninstrument_llm_http

    provider = TracerProvider()
    toggles: dict[str, Toggle] = {
        "none": UNINSTRUMENTED,
        "llm_http": (lambda: instrument_llm_http(provider), uninstrument_llm_http),
    }
    _, calls = recorded_openai_calls(kind, modes.split(","), toggles)
    gc.collect()
    for round_ in range(WARM_UP_ROUNDS + rounds):
        for call in calls[round_ % 2 :] + calls[: round_ % 2]:  # in turn, first one then other
            call()


def run_stream(streams: int) -> None:
    """The child of `measure_stream`: parse the recorded stream ``streams`` times."""
    from collections import deque

    import orjson

    from llm_instrumentation import MESSAGES, UNINSTRUMENTED
    from oracle_monitor.genai import StreamAccumulator, start_call
    from oracle_monitor.instrumentation.llm_span import _TAIL_CHUNKS as TAIL_CHUNKS

    replay, _ = recorded_openai_calls("stream", ["none"], {"none": UNINSTRUMENTED})
    chunks = replay.recorded["stream"][2]
    body = orjson.dumps(
        {"messages": MESSAGES, "model": "o4-mini", "stream": True,
         "stream_options": {"include_usage": True}}
    )  # fmt: skip
    gc.collect()
    for _ in range(WARM_UP_ROUNDS + streams):
        call = start_call("openai", "chat", body, capture_content=False)
        stream = StreamAccumulator(call)
        rest = iter(chunks)
        for chunk in rest:  # as `llm_span.SyncBody`: parsed up to the first token
            stream.feed(chunk)
            if stream.first_token_ns is not None:
                break
        kept = deque(rest, maxlen=TAIL_CHUNKS)  # then kept, parsed once at the end
        stream.feed_tail(b"".join(kept), len(kept) < TAIL_CHUNKS)
        stream.finish()
        call.attributes(usage=True, request=False)


def main() -> None:
    if sys.argv[1:2] == ["--inner"]:
        child, *rest = sys.argv[2:]
        if child == "ingest":
            run_ingest(int(rest[0]))
        elif child == "stream":
            run_stream(int(rest[0]))
        else:
            run_llm(rest[0], rest[1], int(rest[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="*", help="ingest, llm, stream (all by default)")
    args = parser.parse_args()
    what: list[str] = args.what or ["ingest", "llm", "stream"]
    if set(what) - {"ingest", "llm", "stream"}:
        parser.error("measure ingest, llm or stream")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt install valgrind)")
    print("instructions executed (valgrind --tool=callgrind), exact whatever the machine's load")
    if "ingest" in what:
        measure_ingest()
    if "llm" in what:
        measure_llm()
    if "stream" in what:
        measure_stream()


if __name__ == "__main__":
    main()
