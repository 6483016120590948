"""Time per `build_causal_chain` on a 1,000-span task with a few hundred candidate events.

The task: a research agent's root span (never ended: the pod was OOM-killed) over 250 steps,
each a tool call (execute_tool → PRODUCER send → CONSUMER receive) and an LLM call, spread over
20 minutes on one pod; some tool waits time out, some are retried, some LLM calls get a 429.
The candidate events: lag spikes on the task's partition and on 31 others, consumer status
changes, rate-limit bursts for the task's model and for others, pod events of the task's pod
and of 40 other pods, at times inside and outside the task. Target: median ≤ 100 ms.
Usage: ``python bench/causal_chain.py [--runs 30]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from oracle_monitor.aggregator import build_causal_chain
from oracle_monitor.model import Attributes, InfraEvent, Severity, Span, SpanKind, StatusCode
from oracle_monitor.processing.conventions import derive

S = 1_000_000_000
T0 = 1_795_764_000 * S
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
POD = ("research-agent-7d9f8-abcde", "6a1f4c2e-0b7d-4c1e-9a55-3f2d8e7b1c01")
RESOURCE: Attributes = {
    "service.name": "research-agent",
    "k8s.pod.name": POD[0],
    "k8s.pod.uid": POD[1],
    "k8s.namespace.name": "agents",
    "host.name": POD[0],
}


class Trace:
    """Spans of the task, with sequential ids."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def add(
        self,
        name: str,
        parent: str,
        start: float,
        end: float,
        kind: SpanKind,
        error: str = "",
        **attributes: str | int | float | bool,
    ) -> str:
        attrs: Attributes = {"gen_ai.agent.name": "research", "oracle.task.id": "task-42"}
        attrs.update({k.replace("__", "."): v for k, v in attributes.items()})
        if error:
            attrs["error.type"] = error
        span_id = f"{len(self.spans) + 1:016x}"
        self.spans.append(
            Span(
                TRACE, span_id, parent, name, kind, T0 + int(start * S), T0 + int(end * S),
                StatusCode.ERROR if error else StatusCode.UNSET, error, attrs,
                resource=RESOURCE, **derive(attrs, RESOURCE),
            )
        )  # fmt: skip
        return span_id


def build_trace(rng: random.Random, steps: int = 250) -> list[Span]:
    """``steps`` x (tool, send, receive, chat) = 1,000 spans under an unfinished root."""
    trace = Trace()
    root = "00000000000000ff"  # the root span never ended
    clock = 1.0
    for step in range(steps):
        timed_out = rng.random() < 0.04
        retried = step > 0 and rng.random() < 0.04
        wait = 31.0 if timed_out else rng.uniform(0.5, 3.0)
        tool = trace.add(
            "execute_tool web_research", root, clock, clock + wait + 0.3, SpanKind.INTERNAL,
            "TimeoutError" if timed_out else "", gen_ai__operation__name="execute_tool",
            retry__attempt=1 if retried else 0,
        )  # fmt: skip
        topic = {"messaging__destination__name": "tool-requests"}
        trace.add("send tool-requests", tool, clock + 0.05, clock + 0.1, SpanKind.PRODUCER,
                  **topic)  # fmt: skip
        trace.add(
            "receive tool-responses", tool, clock + 0.1, clock + 0.1 + wait, SpanKind.CONSUMER,
            "TimeoutError" if timed_out else "",
            messaging__destination__name="tool-responses",
            messaging__destination__partition__id=str(step % 4),
            messaging__kafka__consumer__group="research-agents",
        )  # fmt: skip
        clock += wait + 0.4
        limited = rng.random() < 0.03
        duration = rng.uniform(0.4, 4.0)
        trace.add(
            "chat gpt-4o", root, clock, clock + duration, SpanKind.CLIENT,
            "RateLimitError" if limited else "", gen_ai__provider__name="openai",
            gen_ai__request__model="gpt-4o", gen_ai__operation__name="chat",
            http__response__status_code=429 if limited else 200,
        )  # fmt: skip
        clock += duration + 0.1
    return trace.spans


def build_events(rng: random.Random, span_s: float, count: int = 300) -> list[InfraEvent]:
    """``count`` candidate events, a few about the task's pod, partitions and model."""
    events: list[InfraEvent] = []
    for n in range(count):
        when = T0 + int(rng.uniform(-600.0, span_s + 600.0) * S)
        choice = n % 4
        if choice == 0:
            topic, partition = "tool-responses", rng.randrange(32)
            events.append(InfraEvent(
                when, "kafka", "lag_spike", f"partition/{topic}/{partition}", Severity.WARNING,
                "lag", {"messaging.kafka.consumer.group": rng.choice(["research-agents", "b"]),
                        "oracle.kafka.lag": rng.randrange(10_000)},
            ))  # fmt: skip
        elif choice == 1:
            model = rng.choice(["gpt-4o", "gpt-4o-mini", "o3", "gpt-4.1"])
            events.append(InfraEvent(
                when, "llm", "rate_limit_burst", f"model/openai/{model}", Severity.WARNING,
                "burst", {"gen_ai.provider.name": "openai", "gen_ai.request.model": model},
            ))  # fmt: skip
        elif choice == 2:
            group = rng.choice(["research-agents", "billing", "intake"])
            events.append(InfraEvent(
                when, "kafka", "consumer_status_changed", f"consumer_group/{group}",
                Severity.ERROR, "status", {"oracle.kafka.status": rng.choice(["STALL", "OK"])},
            ))  # fmt: skip
        else:
            name, uid = POD if rng.random() < 0.1 else (f"other-{n % 40}", f"uid-{n % 40}")
            kind = rng.choice(["oom_killed", "container_restarted", "pod_ready", "pod_evicted"])
            events.append(InfraEvent(
                when, "k8s", kind, f"pod/agents/{name}", Severity.WARNING, kind,
                {"k8s.pod.name": name, "k8s.pod.uid": uid, "k8s.namespace.name": "agents"},
            ))  # fmt: skip
    return events


def main() -> None:
    """Run the benchmark and print median, p90 and the chain's size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(42)
    spans = build_trace(rng)
    span_s = (max(s.end_time_ns for s in spans) - T0) / S
    events = build_events(rng, span_s)
    now_ns = T0 + int((span_s + 1800.0) * S)
    times: list[float] = []
    chain = build_causal_chain(spans, events, now_ns=now_ns)
    for _ in range(args.runs):
        started = time.perf_counter()
        chain = build_causal_chain(spans, events, now_ns=now_ns)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"{len(spans)} spans, {len(events)} candidate events, {len(chain.chain)} links "
        f"(root cause: {chain.root_cause.kind if chain.root_cause else None})"
    )
    print(
        f"build_causal_chain: median {statistics.median(times):.1f} ms, "
        f"p90 {times[int(len(times) * 0.9) - 1]:.1f} ms, min {times[0]:.1f} ms "
        f"over {args.runs} runs (target ≤ 100 ms)"
    )


if __name__ == "__main__":
    main()
