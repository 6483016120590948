"""Which infrastructure events belong to which spans. Pure: no I/O, no clock.

A span and an event *correlate* through one of three keys, each with its own time margin:

* **pod** — the span's pod is named by ``k8s.pod.uid`` (span attribute or resource); failing
  that by ``k8s.pod.name`` + ``k8s.namespace.name``; failing that by ``host.name`` (which is
  the pod's name inside Kubernetes). A pod event (``pod/<ns>/<name>``) matches when it names
  the same pod (for ``pod_rescheduled``, the pod it replaced: ``oracle.k8s.replaced_pod.*``;
  the new pod's work all comes after it), and happens within
  ``[span start - pod_margin, span end + pod_margin]``. When the task is still open (its root
  span never arrived) the window of its spans runs on to ``now_ns``: a process killed
  mid-task leaves no span to say so. The events of a node (``node/<name>``: not ready,
  unreachable, memory pressure, deleted) match the spans that name it (``k8s.node.name``, as
  the downward API gives it) the same way.
* **kafka** — a messaging span (one with ``messaging.destination.name``: the CONSUMER and
  PRODUCER spans of `oracle_monitor.instrumentation.kafka`) matches ``partition/<topic>/<n>``
  events of its topic and partition (any partition when the span does not say) and of its
  consumer group when both say one; ``consumer_group/<g>`` events of its group;
  ``topic/<t>`` events of its topic or of that topic's dead-letter topic (``<topic>.dlq``,
  ``<topic>-dlq``, …). Window: ``kafka_margin``. A ``broker_unreachable`` event matches
  every Kafka messaging span (of that broker, when the span names one in ``server.address``)
  that ended after the outage began and started before it ended (``broker_recovered``, or
  now) plus ``kafka_margin``.
* **llm** — a span with a provider or model matches ``model/<provider>/<model>`` events of
  the same provider and model (and agent, when both name one) within ``llm_margin``; an event
  that names the span (``span_id``) matches it whatever the time.

Events that match no span are dropped: the caller may hand over more than correlates.

`correlate_stored` is the one way every reader correlates (the trace API, the Jaeger API, the
causal chains, the alerts, the forwarder): the stored events that can match (`event_window`),
correlated with the configured `ChainConfig` (`chain_config` of the settings).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from oracle_monitor.aggregator.runners import (
    GROUP_KEYS,
    STARVING,
    group_of,
    runners_of,
    starves,
)
from oracle_monitor.model import AttributeValue, InfraEvent, Span, SpanKind
from oracle_monitor.store.base import EventQuery, EventReader, SpanReader, TraceQuery

if TYPE_CHECKING:
    from oracle_monitor.config import Settings

SECOND_NS = 1_000_000_000
Via = Literal["pod", "kafka", "llm"]
#: Suffixes that make ``<topic><suffix>`` the dead-letter topic of ``<topic>``.
DLQ_SUFFIXES = (".dlq", "-dlq", "_dlq", ".dlt", "-dlt", "_dlt", ".dead-letter", "-dead-letter")


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Margins, windows and thresholds of correlation and of the causal rules."""

    #: Pod events this long before a span starts or after it ends still belong to it.
    pod_margin_ns: int = 120 * SECOND_NS
    #: Kafka events (lag, consumer status, DLQ) this close to a messaging span belong to it.
    kafka_margin_ns: int = 120 * SECOND_NS
    #: LLM events (rate-limit burst, quota) this close to an LLM span belong to it.
    llm_margin_ns: int = 60 * SECOND_NS
    #: A cause must happen at most this long before its effect.
    causal_window_ns: int = 15 * 60 * SECOND_NS
    #: A tool or consumer wait span lasting at least this long is an ``agent_timeout``.
    timeout_ns: int = 30 * SECOND_NS
    #: An open task whose pod went away this long ago without any later span is orphaned.
    orphan_timeout_ns: int = 5 * 60 * SECOND_NS
    #: Memory use over this fraction of the limit is ``memory_pressure``.
    memory_pressure_ratio: float = 0.9

    @property
    def margin_ns(self) -> int:
        """The widest margin: no event further than this from a span correlates with it."""
        return max(self.pod_margin_ns, self.kafka_margin_ns, self.llm_margin_ns)


def chain_config(settings: Settings) -> ChainConfig:
    """The correlation and causal-chain settings of ``settings`` (the rest as defaults)."""
    return ChainConfig(
        timeout_ns=int(settings.chains.timeout_seconds * 1e9),
        orphan_timeout_ns=int(settings.chains.orphan_timeout_seconds * 1e9),
    )


@dataclass(frozen=True, slots=True)
class Match:
    """One span ↔ event correlation and the key it went through."""

    span_id: str
    event_id: str
    via: Via


@dataclass(slots=True)
class SpanIndex:
    """Spans by id with their tree (parents, children) and the task's open/closed state."""

    spans: dict[str, Span]
    children: dict[str, list[str]]
    #: Spans whose parent is ``""`` and that start first: the task's root, if it arrived.
    root: Span | None

    @classmethod
    def build(cls, spans: Sequence[Span]) -> SpanIndex:
        """Index ``spans`` (one trace or one task)."""
        by_id = {span.span_id: span for span in spans}
        children: dict[str, list[str]] = defaultdict(list)
        for span in spans:
            if span.parent_span_id:
                children[span.parent_span_id].append(span.span_id)
        # At the same start, a parentless span is first (a root and its first child often
        # start in the same microsecond).
        first = min(
            spans, key=lambda s: (s.start_time_ns, bool(s.parent_span_id), s.span_id), default=None
        )
        root = first if first is not None and not first.parent_span_id else None
        return cls(by_id, dict(children), root)

    @property
    def is_open(self) -> bool:
        """Whether the task's root span is missing (never ended, or not exported)."""
        return bool(self.spans) and self.root is None

    def descendants(self, span_ids: Iterable[str]) -> set[str]:
        """``span_ids`` and every span under them."""
        found: set[str] = set()
        todo = [s for s in span_ids if s in self.spans]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found.add(current)
            todo.extend(self.children.get(current, ()))
        return found

    def ancestors(self, span_id: str) -> list[str]:
        """The ids of the spans above ``span_id`` that are present, nearest first."""
        found: list[str] = []
        span = self.spans.get(span_id)
        while span is not None and span.parent_span_id in self.spans:
            if span.parent_span_id in found:
                break
            found.append(span.parent_span_id)
            span = self.spans[span.parent_span_id]
        return found


@dataclass(slots=True)
class Correlation:
    """The events that correlate with the spans, and through which key."""

    index: SpanIndex
    events: dict[str, InfraEvent] = field(default_factory=dict)
    by_span: dict[str, list[Match]] = field(default_factory=lambda: defaultdict(list))
    by_event: dict[str, list[Match]] = field(default_factory=lambda: defaultdict(list))
    #: Pod events that left a consumer group without consumers: event id -> the group.
    starved: dict[str, str] = field(default_factory=dict)

    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, span: Span, event: InfraEvent, via: Via) -> None:
        """Record that ``event`` correlates with ``span`` through ``via``."""
        key = (span.span_id, event.event_id, via)
        if key in self._seen:
            return
        self._seen.add(key)
        match = Match(span.span_id, event.event_id, via)
        self.events[event.event_id] = event
        self.by_span[span.span_id].append(match)
        self.by_event[event.event_id].append(match)


def attr(span: Span, key: str) -> AttributeValue:
    """A span attribute, falling back to the resource attribute of the same name."""
    value = span.attributes.get(key)
    return span.resource.get(key) if value is None else value


def text(value: AttributeValue) -> str:
    """An attribute value as a string (``""`` when absent)."""
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class PodRef:
    """How a span or event names its pod."""

    uid: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def entity(self) -> str:
        """``pod/<namespace>/<name>`` (or ``""`` when the name is unknown)."""
        return f"pod/{self.namespace}/{self.name}" if self.name else ""


def span_pod(span: Span) -> tuple[PodRef, str]:
    """The span's pod and its host name."""
    uid = text(attr(span, "k8s.pod.uid"))
    name = text(attr(span, "k8s.pod.name")) or (span.pod_name or "")
    namespace = text(attr(span, "k8s.namespace.name")) or (span.namespace or "")
    return PodRef(uid, namespace, name), text(attr(span, "host.name"))


def event_pods(event: InfraEvent) -> list[PodRef]:
    """The pods an event is about: its own and, for ``pod_rescheduled``, the one replaced."""
    if not event.entity.startswith("pod/"):
        return []
    a = event.attributes
    _, namespace, name = [*event.entity.split("/", 2), "", ""][:3]
    namespace = text(a.get("k8s.namespace.name")) or namespace
    pods = [PodRef(text(a.get("k8s.pod.uid")), namespace, text(a.get("k8s.pod.name")) or name)]
    replaced = text(a.get("oracle.k8s.replaced_pod.name"))
    if replaced:
        pods.append(PodRef(text(a.get("oracle.k8s.replaced_pod.uid")), namespace, replaced))
    return pods


def kafka_keys(span: Span) -> tuple[str, str, str] | None:
    """(topic, partition, consumer group) of a messaging span, or ``None``."""
    topic = text(attr(span, "messaging.destination.name"))
    if not topic:
        return None
    partition = text(attr(span, "messaging.destination.partition.id"))
    group = text(attr(span, "messaging.kafka.consumer.group")) or text(
        attr(span, "messaging.consumer.group.name")
    )
    return topic, partition, group


def dlq_base(topic: str) -> str:
    """The topic whose dead letters ``topic`` holds, or ``""`` when it is no DLQ."""
    lowered = topic.lower()
    for suffix in DLQ_SUFFIXES:
        if lowered.endswith(suffix):
            return topic[: -len(suffix)]
    return ""


def correlate(
    spans: Sequence[Span],
    events: Sequence[InfraEvent],
    *,
    now_ns: int,
    config: ChainConfig,
    consumers: Sequence[Span] = (),
) -> Correlation:
    """Match ``events`` to ``spans`` by pod, Kafka entity and LLM model (module docstring).

    ``consumers`` are CONSUMER spans of other traces, read only to learn which pods run a
    consumer group (`oracle_monitor.aggregator.runners`)."""
    index = SpanIndex.build(spans)
    result = Correlation(index)
    by_uid: dict[str, list[InfraEvent]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[InfraEvent]] = defaultdict(list)
    uidless: dict[tuple[str, str], list[InfraEvent]] = defaultdict(list)
    by_host: dict[str, list[InfraEvent]] = defaultdict(list)
    by_entity: dict[str, list[InfraEvent]] = defaultdict(list)
    for event in events:
        pods = event_pods(event)
        if event.kind == "pod_rescheduled":
            # About the pod it replaced: the new pod's work all comes after it, so it is never
            # the cause of that work (a replacement running before a task began is no cause).
            pods = pods[1:]
        for pod in pods:
            if pod.uid:
                by_uid[pod.uid].append(event)
            by_name[(pod.namespace, pod.name)].append(event)
            by_host[pod.name].append(event)
            if not any(p.uid for p in pods):
                uidless[(pod.namespace, pod.name)].append(event)
        if not event.entity.startswith("pod/"):
            by_entity[event.entity].append(event)
    open_until = now_ns if index.is_open else 0
    kafka = _kafka_index(events)
    outages = broker_outages(events, now_ns)
    for span in spans:
        _pod_matches(result, span, (by_uid, by_name, uidless, by_host), open_until, config)
        _node_matches(result, span, by_entity, open_until, config)
        _kafka_matches(result, span, kafka, config)
        _broker_matches(result, span, outages, config)
        _llm_matches(result, span, by_entity, config)
    _named_span_matches(result, events)
    _starved_matches(result, [*spans, *consumers], events, config)
    return result


def lagging_group_events(events: Iterable[InfraEvent]) -> list[InfraEvent]:
    """The events of a consumer group that lagged (``lag_spike``) or stalled (its status
    went to STALL, STOP or ERR): what a group starved of consumers shows."""
    return [
        e
        for e in events
        if group_of(e.attributes)
        and (
            e.kind == "lag_spike"
            or text(e.attributes.get("oracle.kafka.status")) in ("STALL", "STOP", "ERR")
        )
    ]


def _starved_matches(
    result: Correlation, spans: Sequence[Span], events: Sequence[InfraEvent], config: ChainConfig
) -> None:
    """A pod event that left a consumer group without consumers (`runners.starves`) in the
    ``causal_window`` before one of the group's correlated lag or status events matches the
    spans that event matched, through ``kafka``."""
    lagging = lagging_group_events(result.events.values())
    candidates = [e for e in events if e.kind in STARVING]
    if not lagging or not candidates:
        return
    for group in sorted({group_of(e.attributes) for e in lagging}):
        runners = runners_of(group, events, spans)
        if not runners.pods and not runners.workloads:
            continue
        for lag in (e for e in lagging if group_of(e.attributes) == group):
            for pod_event in candidates:
                early = lag.time_ns - config.causal_window_ns <= pod_event.time_ns <= lag.time_ns
                if not early or not starves(pod_event, runners):
                    continue
                result.starved[pod_event.event_id] = group
                for match in list(result.by_event[lag.event_id]):
                    result.add(result.index.spans[match.span_id], pod_event, "kafka")


def broker_outages(events: Iterable[InfraEvent], now_ns: int) -> list[tuple[InfraEvent, int]]:
    """Each ``broker_unreachable`` event with the end of its outage: the next
    ``broker_recovered`` of the same broker, else ``now_ns`` (it is still going on)."""
    by_broker: dict[str, list[InfraEvent]] = defaultdict(list)
    for event in events:
        if event.kind in ("broker_unreachable", "broker_recovered"):
            by_broker[event.entity].append(event)
    outages = []
    for seen in by_broker.values():
        seen.sort(key=lambda e: e.time_ns)
        for position, event in enumerate(seen):
            if event.kind == "broker_unreachable":
                end = next(
                    (e.time_ns for e in seen[position + 1 :] if e.kind == "broker_recovered"),
                    now_ns,
                )
                outages.append((event, end))
    return outages


def _broker_matches(
    result: Correlation, span: Span, outages: list[tuple[InfraEvent, int]], config: ChainConfig
) -> None:
    """A Kafka messaging span that ran while its broker was unreachable (any broker when the
    span names none: ``server.address``)."""
    if not outages or kafka_keys(span) is None:
        return
    system = text(attr(span, "messaging.system"))
    if system and system != "kafka":
        return
    address = text(attr(span, "server.address"))
    margin = config.kafka_margin_ns
    for event, end_ns in outages:
        brokers = text(event.attributes.get("server.address"))
        named = not address or not brokers or address in brokers
        if named and span.start_time_ns <= end_ns + margin and span.end_time_ns >= event.time_ns:
            result.add(span, event, "kafka")


def _within(event: InfraEvent, span: Span, before: int, after: int) -> bool:
    return span.start_time_ns - before <= event.time_ns <= span.end_time_ns + after


def _pod_matches(
    result: Correlation,
    span: Span,
    indexes: tuple[
        dict[str, list[InfraEvent]],
        dict[tuple[str, str], list[InfraEvent]],
        dict[tuple[str, str], list[InfraEvent]],
        dict[str, list[InfraEvent]],
    ],
    open_until: int,
    config: ChainConfig,
) -> None:
    by_uid, by_name, uidless, by_host = indexes
    pod, host = span_pod(span)
    candidates: list[InfraEvent] = []
    if pod.uid:
        # Events without uids (core/v1 Events) still name the pod.
        candidates = by_uid.get(pod.uid, []) + uidless.get((pod.namespace, pod.name), [])
    elif pod.name and pod.namespace:
        candidates = by_name.get((pod.namespace, pod.name), [])
    elif host:
        candidates = by_host.get(host, [])
    margin = config.pod_margin_ns
    after = max(margin, open_until - span.end_time_ns)
    for event in candidates:
        if _within(event, span, margin, after):
            result.add(span, event, "pod")


def _node_matches(
    result: Correlation,
    span: Span,
    by_entity: dict[str, list[InfraEvent]],
    open_until: int,
    config: ChainConfig,
) -> None:
    """Events of the node the span ran on (``k8s.node.name``), as pod events are matched."""
    node = text(attr(span, "k8s.node.name"))
    if not node:
        return
    margin = config.pod_margin_ns
    after = max(margin, open_until - span.end_time_ns)
    for event in by_entity.get(f"node/{node}", []):
        if _within(event, span, margin, after):
            result.add(span, event, "pod")


def _kafka_index(events: Iterable[InfraEvent]) -> dict[str, list[InfraEvent]]:
    """Kafka events under ``p:<topic>``, ``g:<group>`` and ``t:<topic>`` (DLQs: their base)."""
    found: dict[str, list[InfraEvent]] = defaultdict(list)
    for event in events:
        kind, _, key = event.entity.partition("/")
        if kind == "partition":
            found["p:" + key.rpartition("/")[0]].append(event)
        elif kind == "consumer_group":
            found["g:" + key].append(event)
        elif kind == "topic":
            found["t:" + key].append(event)
            if dlq_base(key):
                found["t:" + dlq_base(key)].append(event)
    return found


def _kafka_matches(
    result: Correlation, span: Span, kafka: dict[str, list[InfraEvent]], config: ChainConfig
) -> None:
    keys = kafka_keys(span)
    if keys is None:
        return
    topic, partition, group = keys
    margin = config.kafka_margin_ns
    candidates = [
        e
        for e in kafka.get("p:" + topic, [])
        if (not partition or e.entity.rpartition("/")[2] == partition)
        and (not group or text(e.attributes.get("messaging.kafka.consumer.group")) in ("", group))
    ]
    if group:
        candidates += kafka.get("g:" + group, [])
    candidates += kafka.get("t:" + topic, [])
    for event in candidates:
        if _within(event, span, margin, margin):
            result.add(span, event, "kafka")


def _llm_matches(
    result: Correlation, span: Span, by_entity: dict[str, list[InfraEvent]], config: ChainConfig
) -> None:
    if not span.provider and not span.model:
        return
    entity = f"model/{span.provider or 'unknown'}/{span.model or 'unknown'}"
    margin = config.llm_margin_ns
    for event in by_entity.get(entity, []):
        agent = text(event.attributes.get("gen_ai.agent.name"))
        if agent and span.agent_name and agent != span.agent_name:
            continue
        if _within(event, span, margin, margin):
            result.add(span, event, "llm")


def _named_span_matches(result: Correlation, events: Sequence[InfraEvent]) -> None:
    for event in events:
        span = result.index.spans.get(text(event.attributes.get("span_id")))
        if span is not None and event.entity.startswith("model/"):
            result.add(span, event, "llm")


#: Most stored events read to correlate with one trace or task.
MAX_EVENTS = 20_000


def event_window(spans: Sequence[Span], *, now_ns: int, config: ChainConfig) -> tuple[int, int]:
    """[start, end] of the events that can correlate with ``spans`` as known at ``now_ns``:
    the spans' time within the widest margin, on to ``now_ns`` while the task is open."""
    start = min(span.start_time_ns for span in spans) - config.margin_ns
    if SpanIndex.build(spans).is_open:
        return start, now_ns
    return start, min(max(span.end_time_ns for span in spans) + config.margin_ns, now_ns)


def stored_events(
    reader: EventReader, spans: Sequence[Span], *, now_ns: int, config: ChainConfig
) -> list[InfraEvent]:
    """The stored events in ``spans``' `event_window` (at most `MAX_EVENTS`)."""
    if not spans:
        return []
    start, end = event_window(spans, now_ns=now_ns, config=config)
    return reader.find_events(EventQuery(start_ns=start, end_ns=end, limit=MAX_EVENTS))


class EvidenceReader(EventReader, SpanReader, Protocol):
    """A store's events and spans: what correlation reads."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the store holds that can correlate with a trace or task: the events near it
    and, when a consumer group it sent to lagged, CONSUMER spans of that group from other
    traces (which pods run it: `oracle_monitor.aggregator.runners`)."""

    events: list[InfraEvent]
    consumers: list[Span] = field(default_factory=list)


#: Traces read per lagging consumer group to learn which pods run it.
RUNNER_TRACES = 3


def stored_evidence(
    reader: EvidenceReader, spans: Sequence[Span], *, now_ns: int, config: ChainConfig
) -> Evidence:
    """The stored `Evidence` for ``spans``: the events of their `event_window`; when the
    spans use Kafka and a consumer group lagged or stalled in that window, also the pod
    events that could have starved it (back to ``causal_window_ns`` before) and a few recent
    CONSUMER spans of the group."""
    events = stored_events(reader, spans, now_ns=now_ns, config=config)
    lagging = lagging_group_events(events)
    if not lagging or not any(kafka_keys(span) is not None for span in spans):
        return Evidence(events)
    start = min(e.time_ns for e in lagging) - config.causal_window_ns
    end = max(e.time_ns for e in lagging)
    known = {e.event_id for e in events}
    for kind in sorted(STARVING):
        query = EventQuery(kind=kind, entity="pod/*", start_ns=start, end_ns=end, limit=1000)
        events += [e for e in reader.find_events(query) if e.event_id not in known]
    # Which pods run a group: its members, when the broker reports them, else its consumers'
    # spans. Those are searched only among the traces of the services whose CONSUMER
    # operations name a topic the task or the lag is about, so the search stays within the
    # traces of the group's consumers, not all of them.
    with_members = {
        group_of(e.attributes) for e in lagging if e.attributes.get("oracle.kafka.consumer.members")
    }
    unknown = {group_of(e.attributes) for e in lagging} - with_members
    topics = {keys[0] for span in spans if (keys := kafka_keys(span)) is not None}
    topics |= {text(e.attributes.get("messaging.destination.name")) for e in lagging} - {""}
    consumers = _runner_spans(reader, unknown, topics, (start, end), {s.trace_id for s in spans})
    return Evidence(events, consumers)


def _runner_spans(
    reader: EvidenceReader,
    groups: set[str],
    topics: set[str],
    window: tuple[int, int],
    known_traces: set[str],
) -> list[Span]:
    """CONSUMER spans of ``groups`` in the traces (at most `RUNNER_TRACES` per group and
    operation) of the services whose CONSUMER operations are about one of ``topics``."""
    if not groups or not topics:
        return []
    operations = [
        (service, operation.name)
        for service in reader.services()
        for operation in reader.operations(service, SpanKind.CONSUMER)
        if not topics.isdisjoint(operation.name.split())  # "process plans", "plans receive"
    ]
    found: list[Span] = []
    seen = set(known_traces)
    for group in sorted(groups):
        for (service, name), key in itertools.product(operations, GROUP_KEYS):
            query = TraceQuery(
                service=service, operation=name, tags=((key, group),), start_ns=window[0],
                end_ns=window[1], limit=RUNNER_TRACES,
            )  # fmt: skip
            for summary in reader.find_traces(query):
                if summary.trace_id not in seen:
                    seen.add(summary.trace_id)
                    found += [
                        s for s in reader.get_trace(summary.trace_id) if s.kind == SpanKind.CONSUMER
                    ]
    return found


def correlate_stored(
    reader: EvidenceReader, spans: Sequence[Span], *, now_ns: int, config: ChainConfig
) -> Correlation:
    """`correlate` ``spans`` with the stored `Evidence` that can match them."""
    evidence = stored_evidence(reader, spans, now_ns=now_ns, config=config)
    return correlate(
        spans, evidence.events, now_ns=now_ns, config=config, consumers=evidence.consumers
    )
