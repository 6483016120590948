"""The causal chain of one trace or task: which problem led to which. Pure: no I/O, no clock.

`build_causal_chain` correlates the events with the spans (`correlate`), finds the problems
(`links`), orders them by time and gives each link at most one cause: the *latest* earlier
link, within ``causal_window_ns`` before it (happens-before, ties allowed), that one of the
rules below connects to it. The rule's name is kept on the arrow. A link that no rule
connects has no cause; the earliest such link is the root cause. No problem, no chain.
Repeats are then folded into one step each, with a count, and the summary told in plain words
(`oracle_monitor.aggregator.story`).

The *scope* of a link is its evidence spans and every span under them. Rules, in the order
they are tried for a pair (cause A, effect B):

* ``replaced_pod`` — B is the ``pod_rescheduled`` of A's pod (``oracle.k8s.replaced_pod.*``).
* ``starved_consumer_group`` — A is a pod that could not run (`runners.STARVING`) of a
  workload that runs the consumer group whose lag or stall is B (a bad rollout, a crash loop:
  `oracle_monitor.aggregator.runners`). Such a pod problem B has a cause only in an earlier one
  of its own pod (``same_entity``) or of the same group (``same_consumer_group``): the task's
  own trouble does not make a pod of another workload fail.
* ``retry_after_error`` — B is a retry, and a span of A's scope is, or is under, an earlier
  sibling of B's span (same parent) that ended before B started.
* ``child_of`` — a span of B is under a span of A (the problem happened inside A's work).
* ``error_propagated`` — a span of B is above a span of A (A's failure surfaced in B).
* ``same_entity`` — A and B happened to the same entity (pod, partition, model, agent…).
* ``kafka_entity_of_span`` — an event of A is on the topic/partition/consumer group of a
  messaging span in B's scope (the consumer span of the lagging partition…).
* ``model_of_span`` — an event of A is about the provider/model of an LLM span in B's scope.
* ``pod_of_span`` — an event of A happened to the pod a span in B's scope ran on.
* ``span_on_kafka_entity`` / ``span_on_model`` / ``span_on_pod`` — the other way round: an
  event of B is on the messaging entity, model or pod of a span in A's scope.
* ``shared_span`` — an event of A and an event of B correlate with the same span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oracle_monitor.aggregator.correlate import ChainConfig, Correlation, correlate, event_pods
from oracle_monitor.aggregator.links import Link, detect_links
from oracle_monitor.aggregator.runners import group_of
from oracle_monitor.aggregator.story import fold, summary
from oracle_monitor.model import InfraEvent, Span
from oracle_monitor.timestamps import rfc3339

RULES = (
    "replaced_pod",
    "starved_consumer_group",
    "same_consumer_group",
    "retry_after_error",
    "child_of",
    "error_propagated",
    "same_entity",
    "kafka_entity_of_span",
    "model_of_span",
    "pod_of_span",
    "span_on_kafka_entity",
    "span_on_model",
    "span_on_pod",
    "shared_span",
)
_FORWARD = {"kafka": "kafka_entity_of_span", "llm": "model_of_span", "pod": "pod_of_span"}
_BACKWARD = {"kafka": "span_on_kafka_entity", "llm": "span_on_model", "pod": "span_on_pod"}


@dataclass(slots=True)
class ChainLink(Link):
    """One problem in the chain, its evidence, and the link (by index) it follows."""

    caused_by: int | None = None
    rule: str | None = None
    count: int = 1
    last_at_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The link as the API serves it."""
        return {
            "kind": self.kind,
            "at": rfc3339(self.at_ns),
            "last_at": rfc3339(self.last_at_ns if self.last_at_ns is not None else self.at_ns),
            "count": self.count,
            "entity": self.entity,
            "summary": self.summary,
            "evidence": {
                "span_ids": list(self.span_ids),
                "event_ids": list(self.event_ids),
                "metrics": dict(self.metrics),
            },
            "caused_by": self.caused_by,
            "rule": self.rule,
        }


@dataclass(slots=True)
class CausalChain:
    """The problems of a trace or task in time order, with the root cause and a summary."""

    root_cause: ChainLink | None
    chain: list[ChainLink]
    summary: str

    def to_json(self) -> dict[str, Any]:
        """``{"root_cause": {...} | None, "chain": [...], "summary": "..."}``."""
        return {
            "root_cause": self.root_cause.to_json() if self.root_cause else None,
            "chain": [link.to_json() for link in self.chain],
            "summary": self.summary,
        }


class _Context:
    """What the rules look at: scopes, event matches, pods of links."""

    def __init__(self, correlation: Correlation, links: Sequence[Link]) -> None:
        self.correlation = correlation
        index = correlation.index
        self.scopes = [index.descendants(link.span_ids) for link in links]
        self.ancestors = [{a for s in link.span_ids for a in index.ancestors(s)} for link in links]

    def matched(self, link: Link) -> list[tuple[str, str]]:
        """(span id, via) of each correlation of the link's events."""
        by_event = self.correlation.by_event
        return [(m.span_id, m.via) for e in link.event_ids for m in by_event.get(e, [])]


def _replaced_pod(cause: Link, effect: Link, ctx: _Context) -> bool:
    if effect.kind != "pod_rescheduled" or not cause.entity.startswith("pod/"):
        return False
    events = ctx.correlation.events
    return any(
        pod.entity == cause.entity for e in effect.event_ids for pod in event_pods(events[e])[1:]
    )


def _starved_rule(cause: Link, effect: Link, ctx: _Context) -> str | None:
    """``starved_consumer_group``/``same_consumer_group`` when they apply; ``""`` when
    ``effect`` starved a group and nothing of its own group or pod came before it (its cause
    is no work of the task's); ``None`` when the other rules decide."""
    starved, events = ctx.correlation.starved, ctx.correlation.events
    groups = {starved[e] for e in cause.event_ids if e in starved}
    if effect.event_ids and all(e in starved for e in effect.event_ids):
        if cause.entity == effect.entity:
            return "same_entity"
        return "same_consumer_group" if groups & {starved[e] for e in effect.event_ids} else ""
    if groups and any(
        e not in starved and group_of(events[e].attributes) in groups for e in effect.event_ids
    ):
        return "starved_consumer_group"
    return None


def _retry_after_error(i: int, cause: Link, effect: Link, ctx: _Context) -> bool:
    if effect.kind != "retry":
        return False
    index = ctx.correlation.index
    for span_id in effect.span_ids:
        retry = index.spans[span_id]
        for sibling_id in index.children.get(retry.parent_span_id, []):
            sibling = index.spans[sibling_id]
            if sibling_id == span_id or sibling.end_time_ns > retry.start_time_ns:
                continue
            if sibling_id in ctx.scopes[i] or not ctx.scopes[i].isdisjoint(
                index.descendants([sibling_id])
            ):
                return True
    return False


def _rule(i: int, j: int, links: Sequence[Link], ctx: _Context) -> str | None:
    """The first rule (module docstring) that makes links[i] a cause of links[j]."""
    cause, effect = links[i], links[j]
    if _replaced_pod(cause, effect, ctx):
        return "replaced_pod"
    starved = _starved_rule(cause, effect, ctx)
    if starved is not None:
        return starved or None
    if _retry_after_error(i, cause, effect, ctx):
        return "retry_after_error"
    if not ctx.ancestors[j].isdisjoint(cause.span_ids):
        return "child_of"
    if not ctx.ancestors[i].isdisjoint(effect.span_ids):
        return "error_propagated"
    if cause.entity == effect.entity:
        return "same_entity"
    forward = {via for span, via in ctx.matched(cause) if span in ctx.scopes[j]}
    backward = {via for span, via in ctx.matched(effect) if span in ctx.scopes[i]}
    for via in ("kafka", "llm", "pod"):
        if via in forward:
            return _FORWARD[via]
    for via in ("kafka", "llm", "pod"):
        if via in backward:
            return _BACKWARD[via]
    if {s for s, _ in ctx.matched(cause)} & {s for s, _ in ctx.matched(effect)}:
        return "shared_span"
    return None


def build_causal_chain(
    spans: Sequence[Span],
    events: Sequence[InfraEvent],
    *,
    now_ns: int,
    config: ChainConfig = ChainConfig(),  # noqa: B008 - frozen, shared safely
    consumers: Sequence[Span] = (),
) -> CausalChain:
    """The causal chain of ``spans`` (one trace or task) and the ``events`` that correlate.

    ``now_ns`` is the time of the question (for orphaned tasks); ``events`` may hold more than
    correlates — the rest is ignored. ``consumers``: CONSUMER spans of other traces, read to
    learn which pods run a consumer group (`correlate`).
    """
    correlation = correlate(spans, events, now_ns=now_ns, config=config, consumers=consumers)
    links = detect_links(correlation, now_ns=now_ns, config=config)
    ctx = _Context(correlation, links)
    chain: list[ChainLink] = []
    for j, link in enumerate(links):
        caused_by: int | None = None
        rule: str | None = None
        for i in range(j - 1, -1, -1):
            if link.at_ns - links[i].at_ns > config.causal_window_ns:
                break
            rule = _rule(i, j, links, ctx)
            if rule is not None:
                caused_by = i
                break
        chain.append(
            ChainLink(
                link.kind, link.at_ns, link.entity, link.summary, link.span_ids,
                link.event_ids, link.metrics, caused_by, rule,
            )
        )  # fmt: skip
    steps = fold(chain)
    told = [
        ChainLink(
            s.kind, s.at_ns, s.entity, s.summary, s.span_ids, s.event_ids, s.metrics,
            s.caused_by, s.rule, s.count, s.last_at_ns,
        )
        for s in steps
    ]  # fmt: skip
    root = next((link for link in told if link.caused_by is None), None)
    return CausalChain(root, told, summary(steps))
