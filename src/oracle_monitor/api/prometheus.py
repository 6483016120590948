"""What ``GET /metrics`` exports: a prometheus-client collector that reads the current state
at scrape time (nothing is counted twice, nothing kept in step by hand).

Sources: the receiver's counters and queue (the server's status), the collectors' states
(Kubernetes pods, Kafka consumer lag, their health) and, cached, the store's LLM usage per
agent and per model and its OOM kills: re-read after `STORE_TTL_S`, or after `STORE_BUDGET`
times as long as the last read took when that is longer (reading 100,000 spans' LLM usage from
SQLite takes ~0.5 s here), so scrapes never spend more than a twentieth of the time reading.
Names follow Prometheus' conventions (``oracle_`` prefix, base units, ``_total`` counters).
Labels are bounded: no trace, span or task ids; agents and models beyond `MAX_GROUPS` (by
cost) are summed under ``other``; pods, partitions and groups are those the collectors
currently see, at most `MAX_SERIES` each.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector as PromCollector

from oracle_monitor.collectors.base import Collector
from oracle_monitor.store.base import CostGroup, EventQuery, Store

STORE_TTL_S: Final = 10.0
STORE_BUDGET: Final = 20.0
MAX_GROUPS: Final = 50
MAX_SERIES: Final = 1000
MAX_OOM_EVENTS: Final = 100_000
KAFKA_STATUSES: Final = ("OK", "WARN", "STALL", "STOP", "ERR")
POD_PHASES: Final = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
TOKEN_KINDS: Final = ("input", "output", "cache_read", "cache_creation", "reasoning")
_RECEIVER_COUNTERS: Final = (
    ("accepted_spans", "Spans accepted and stored."),
    ("rejected_spans", "Spans rejected one by one (bad ids, absurd times)."),
    ("refused_requests", "Export requests refused because the ingest queue was full."),
    ("malformed_requests", "Export requests that did not decode."),
    ("failed_requests", "Export requests whose spans could not be stored (client retries)."),
    ("worker_restarts", "Ingest worker processes restarted after dying."),
)


def _top(groups: Sequence[CostGroup]) -> list[tuple[str, CostGroup]]:
    """(label, group), the costliest `MAX_GROUPS` by name and the rest summed as ``other``."""
    named = [(g.key if g.key else "unknown", g) for g in groups]
    if len(named) <= MAX_GROUPS:
        return named
    head, tail = named[: MAX_GROUPS - 1], [g for _, g in named[MAX_GROUPS - 1 :]]
    names = [f for f in CostGroup.__dataclass_fields__ if f != "key"]
    other = CostGroup("other", **{f: sum(getattr(g, f) for g in tail) for f in names})
    return [*head, ("other", other)]


class _StoreCache:
    """The store's aggregates, re-read when older than the TTL (module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._at = -STORE_TTL_S
        self._took = 0.0  # how long the last read took
        self._value: tuple[list[CostGroup], list[CostGroup], Counter[tuple[str, str]]] = (
            [], [], Counter(),
        )  # fmt: skip

    def get(self) -> tuple[list[CostGroup], list[CostGroup], Counter[tuple[str, str]]]:
        with self._lock:
            started = time.monotonic()
            if started - self._at >= max(STORE_TTL_S, STORE_BUDGET * self._took):
                query = EventQuery(source="k8s", kind="oom_killed", limit=MAX_OOM_EVENTS)
                ooms = Counter(
                    (str(e.attributes.get("k8s.namespace.name") or ""),
                     str(e.attributes.get("k8s.owner.name") or "unknown"))
                    for e in self._store.find_events(query)
                )  # fmt: skip
                self._value = (self._store.llm_costs("agent"), self._store.llm_costs("model"), ooms)
                self._at = time.monotonic()
                self._took = self._at - started
            return self._value


class OracleMetrics(PromCollector):
    """Collects every family at scrape time (see the module docstring)."""

    def __init__(
        self, store: Store, status: Callable[[], dict[str, Any]], collectors: Sequence[Collector]
    ) -> None:
        self._cache = _StoreCache(store)
        self._status = status
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        yield from receiver_metrics(self._status().get("receiver", {}))
        by_agent, by_model, ooms = self._cache.get()
        yield from llm_metrics("agent", by_agent)
        yield from llm_metrics("model", by_model)
        states = {c.name: c for c in self._collectors}
        up = GaugeMetricFamily(
            "oracle_collector_up",
            "1 when the collector's source is watched and healthy.",
            labels=["collector"],
        )
        for name, collector in sorted(states.items()):
            up.add_metric([name], 1.0 if collector.health().status == "ok" else 0.0)
        yield up
        if "kafka" in states:
            yield from kafka_metrics(states["kafka"].state())
        yield from k8s_metrics(states["k8s"].state() if "k8s" in states else {}, ooms)


def receiver_metrics(receiver: dict[str, Any]) -> Iterator[Metric]:
    """Counters, queue depth and write latency of the OTLP receiver."""
    for name, help_text in _RECEIVER_COUNTERS:
        yield CounterMetricFamily(f"oracle_receiver_{name}", help_text, value=receiver.get(name, 0))
    for name, help_text in (
        ("queued_bytes", "Request bytes handed to ingest workers and not yet durable."),
        ("queued_requests", "Requests handed to ingest workers and not yet durable."),
        ("max_queued_bytes", "Queued bytes beyond which requests are refused (429)."),
    ):
        if name in receiver:
            yield GaugeMetricFamily(f"oracle_receiver_{name}", help_text, value=receiver[name])
    latency = receiver.get("write_latency_seconds")
    if latency:
        buckets = [(str(float(b)) if b != "+Inf" else "+Inf", n) for b, n in latency["buckets"]]
        yield HistogramMetricFamily(
            "oracle_receiver_write_duration_seconds",
            "Time from an export request handed to an ingest worker until its spans are durable.",
            buckets=buckets,
            sum_value=latency["sum"],
        )


def llm_metrics(by: str, groups: Sequence[CostGroup]) -> Iterator[Metric]:
    """LLM calls per agent or per model since the store began: requests, tokens, cost."""
    prefix, label = f"oracle_llm_{by}", [by]
    requests = CounterMetricFamily(f"{prefix}_requests", f"LLM calls per {by}.", labels=label)
    limited = CounterMetricFamily(
        f"{prefix}_rate_limited_requests", f"Rate-limited LLM calls (429) per {by}.", labels=label
    )
    failed = CounterMetricFamily(
        f"{prefix}_failed_requests", f"Failed LLM calls per {by}.", labels=label
    )
    tokens = CounterMetricFamily(
        f"{prefix}_tokens", f"LLM tokens per {by} and kind.", labels=[by, "kind"]
    )
    cost = CounterMetricFamily(
        f"{prefix}_cost_usd", f"LLM spending in USD per {by} (priced calls).", labels=label
    )
    for key, group in _top(groups):
        requests.add_metric([key], group.requests)
        limited.add_metric([key], group.rate_limited)
        failed.add_metric([key], group.errors)
        cost.add_metric([key], group.cost_usd)
        for kind in TOKEN_KINDS:
            tokens.add_metric([key, kind], getattr(group, f"{kind}_tokens"))
    yield from (requests, limited, failed, tokens, cost)


def _limited(items: Iterable[Any]) -> list[Any]:
    return list(items)[:MAX_SERIES]


def kafka_metrics(state: dict[str, Any]) -> Iterator[Metric]:
    """Consumer lag per group and partition (messages, seconds), group status, DLQ depth."""
    labels = ["group", "topic", "partition"]
    lag = GaugeMetricFamily(
        "oracle_kafka_consumer_lag_messages",
        "Messages the group has not consumed yet.",
        labels=labels,
    )
    lag_s = GaugeMetricFamily(
        "oracle_kafka_consumer_lag_seconds",
        "How far behind the group is, in seconds.",
        labels=labels,
    )
    status = GaugeMetricFamily(
        "oracle_kafka_consumer_group_status",
        "1 for the group's current status (Burrow's OK, WARN, STALL, STOP, ERR).",
        labels=["group", "status"],
    )
    rows = [
        (g, p) for g, s in sorted(state.get("groups", {}).items()) for p in s.get("partitions", [])
    ]
    for group, part in _limited(rows):
        values = [group, str(part["topic"]), str(part["partition"])]
        lag.add_metric(values, part["lag"])
        if part.get("lag_seconds") is not None:
            lag_s.add_metric(values, part["lag_seconds"])
    for group, seen in _limited(sorted(state.get("groups", {}).items())):
        for name in KAFKA_STATUSES:
            status.add_metric([group, name], 1.0 if seen.get("status") == name else 0.0)
    dlq = GaugeMetricFamily(
        "oracle_kafka_dlq_messages", "Messages in a dead-letter topic.", labels=["topic"]
    )
    for topic, seen in _limited(sorted(state.get("topics", {}).items())):
        if seen.get("is_dlq") and seen.get("dlq_depth") is not None:
            dlq.add_metric([topic], seen["dlq_depth"])
    yield from (lag, lag_s, status, dlq)


def k8s_metrics(state: dict[str, Any], ooms: Counter[tuple[str, str]]) -> Iterator[Metric]:
    """Pods the collector sees (restarts, readiness, phase, CPU and memory) and OOM kills."""
    labels = ["namespace", "pod"]
    restarts = CounterMetricFamily(
        "oracle_k8s_pod_restarts", "Container restarts of the pod.", labels=labels
    )
    ready = GaugeMetricFamily("oracle_k8s_pod_ready", "1 when the pod is ready.", labels=labels)
    phase = GaugeMetricFamily(
        "oracle_k8s_pod_phase", "1 for the pod's current phase.", labels=[*labels, "phase"]
    )
    gauges = {
        (res, what): GaugeMetricFamily(
            f"oracle_k8s_pod_{res}_{what}_{unit}", f"The pod's {res} {what}.", labels=labels
        )
        for res, unit in (("cpu", "cores"), ("memory", "bytes"))
        for what in ("usage", "limit")
    }
    for pod in _limited(state.get("pods", [])):
        values = [pod["namespace"], pod["name"]]
        restarts.add_metric(values, pod["restarts"])
        ready.add_metric(values, 1.0 if pod["ready"] else 0.0)
        for name in POD_PHASES:
            phase.add_metric([*values, name], 1.0 if pod["phase"] == name else 0.0)
        for (res, what), family in gauges.items():
            value = pod[f"{res}_{'cores' if res == 'cpu' else 'bytes'}"][what]
            if value is not None:
                family.add_metric(values, value)
    oom = CounterMetricFamily(
        "oracle_k8s_oom_kills",
        "Containers OOMKilled, per namespace and owner (e.g. the Deployment).",
        labels=["namespace", "owner"],
    )
    for (namespace, owner), count in _limited(sorted(ooms.items())):
        oom.add_metric([namespace, owner], count)
    yield from (restarts, ready, phase, *gauges.values(), oom)
