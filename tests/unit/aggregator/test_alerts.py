"""Alert rules, deduplication and the alert's JSON shape (checked against the schema)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from oracle_monitor.aggregator.alerts import (
    AlertBook,
    Signal,
    alert_json,
    alert_link,
    signal_from_event,
)
from oracle_monitor.aggregator.snapshot import load_schema
from oracle_monitor.model import Alert, Attributes, InfraEvent

S = 1_000_000_000
T0 = 1_795_764_000 * S


def event(kind: str, entity: str, at_s: float = 0.0, **attributes: str) -> InfraEvent:
    attrs: Attributes = {key.replace("__", "."): value for key, value in attributes.items()}
    return InfraEvent(
        T0 + round(at_s * S), "test", kind, entity, summary=f"{kind}!", attributes=attrs
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (event("oom_killed", "pod/agents/r-0"), ("oom_killed", "critical", "pod/agents/r-0")),
        (event("crash_loop", "pod/agents/r-0"), ("crash_loop", "critical", "pod/agents/r-0")),
        (event("pod_evicted", "pod/agents/r-0"), ("pod_evicted", "warning", "pod/agents/r-0")),
        (
            event("lag_spike", "partition/tool-responses/3",
                  messaging__kafka__consumer__group="research-agents",
                  messaging__destination__name="tool-responses"),
            ("lag_spike", "warning", "group/research-agents/topic/tool-responses"),
        ),
        (event("lag_spike", "partition/t/1"), ("lag_spike", "warning", "partition/t/1")),
        (
            event("consumer_status_changed", "consumer_group/g", oracle__kafka__status="STALL"),
            ("consumer_stalled", "warning", "consumer_group/g"),
        ),
        (
            event("consumer_status_changed", "consumer_group/g", oracle__kafka__status="STOP"),
            ("consumer_stalled", "critical", "consumer_group/g"),
        ),
        (event("dlq_growth", "topic/tasks.dlq"), ("dlq_growth", "warning", "topic/tasks.dlq")),
        (event("rate_limit_burst", "model/openai/gpt-4o"),
         ("rate_limit_burst", "warning", "model/openai/gpt-4o")),
        (event("quota_exhausted", "model/openai/gpt-4o"),
         ("quota_exhausted", "critical", "model/openai/gpt-4o")),
        (event("cost_over_budget", "llm/budget"), ("cost_over_budget", "warning", "llm/budget")),
    ],
)  # fmt: skip
def test_events_that_raise_alerts(source: InfraEvent, expected: tuple[str, str, str]) -> None:
    signal = signal_from_event(source)
    assert signal is not None
    assert (signal.kind, signal.severity, signal.entity) == expected
    assert signal.at_ns == source.time_ns and signal.summary == source.summary


@pytest.mark.parametrize(
    "source",
    [
        event("pod_ready", "pod/agents/r-0"),
        event("pod_rescheduled", "pod/agents/r-1"),
        event("consumer_status_changed", "consumer_group/g", oracle__kafka__status="OK"),
        event("consumer_status_changed", "consumer_group/g", oracle__kafka__status="WARN"),
        event("broker_recovered", "broker/x"),
    ],
)
def test_events_that_raise_nothing(source: InfraEvent) -> None:
    assert signal_from_event(source) is None


def test_a_trace_id_in_the_event_links_the_alert_to_the_trace() -> None:
    burst = event("rate_limit_burst", "model/openai/gpt-4o", trace_id="ab" * 16, span_id="1" * 16)
    signal = signal_from_event(burst)
    assert signal is not None and signal.trace_id == "ab" * 16
    bogus = signal_from_event(event("rate_limit_burst", "model/x/y", trace_id="nope"))
    assert bogus is not None and bogus.trace_id is None


def sig(kind: str, entity: str, at_s: float, severity: str = "warning", src: str = "") -> Signal:
    return Signal(kind, severity, T0 + round(at_s * S), entity, f"{kind} at {at_s}", source_id=src)


def test_repeats_within_the_window_are_one_alert() -> None:
    book = AlertBook(dedupe_ns=600 * S, active_ns=300 * S)
    first = book.add(sig("oom_killed", "pod/a/p", 0, src="e1"))
    assert first is not None
    again = book.add(sig("oom_killed", "pod/a/p", 500, "critical", src="e2"))
    assert again is first
    assert (again.count, again.last_at_ns, again.severity) == (2, T0 + 500 * S, "critical")
    assert again.summary == "oom_killed at 500"
    assert book.add(sig("oom_killed", "pod/a/p", 500, src="e2")) is None  # same event again
    assert again.count == 2
    other_entity = book.add(sig("oom_killed", "pod/a/q", 10))
    later = book.add(sig("oom_killed", "pod/a/p", 1101))  # 601 s after the last one
    assert other_entity is not None and later is not None
    assert len({first.alert_id, other_entity.alert_id, later.alert_id}) == 3
    assert later.count == 1 and later.first_at_ns == T0 + 1101 * S


def test_an_older_repeat_widens_the_alert_but_keeps_its_id_and_summary() -> None:
    book = AlertBook()
    alert = book.add(sig("lag_spike", "group/g/topic/t", 100))
    assert alert is not None
    alert_id = alert.alert_id
    book.add(sig("lag_spike", "group/g/topic/t", 40))
    assert (alert.first_at_ns, alert.last_at_ns, alert.count) == (T0 + 40 * S, T0 + 100 * S, 2)
    assert alert.alert_id == alert_id and alert.summary == "lag_spike at 100"


def test_active_alerts_at_chosen_instants() -> None:
    book = AlertBook(dedupe_ns=600 * S, active_ns=300 * S)
    book.add(sig("oom_killed", "pod/a/p", 0))
    book.add(sig("lag_spike", "group/g/topic/t", 200))
    book.add(sig("lag_spike", "group/g/topic/t", 400))

    def active(at_s: float) -> list[tuple[str, int]]:
        return [(a.kind, a.count) for a in book.active(T0 + round(at_s * S))]

    assert active(-1) == []
    assert active(100) == [("oom_killed", 1)]
    assert active(250) == [("lag_spike", 2), ("oom_killed", 1)]  # opened at 200, newest first
    assert active(301) == [("lag_spike", 2)]
    assert active(700) == [("lag_spike", 2)]
    assert active(701) == []
    book.prune(T0 + 1001 * S)
    assert book.add(sig("lag_spike", "group/g/topic/t", 1002)).count == 1  # type: ignore[union-attr]


def test_links_and_json_match_the_schema() -> None:
    schema = load_schema()
    validator = Draft202012Validator({**schema["$defs"]["alert"], "$defs": schema["$defs"]})
    alert = Alert("f" * 32, "oom_killed", "critical", T0, T0 + S, "pod/agents/r 0", "OOM", 2)
    assert alert_link(alert) == "/infra?entity=pod/agents/r%200"
    alert.trace_id = "ab" * 16
    assert alert_link(alert) == f"/traces/{'ab' * 16}"
    alert.task_id = "task/42"
    assert alert_link(alert) == "/tasks/task%2F42"
    body = alert_json(alert)
    assert body == {
        "id": "f" * 32, "kind": "oom_killed", "severity": "critical",
        "first_at": "2026-11-27T07:20:00.000000000Z", "last_at": "2026-11-27T07:20:01.000000000Z",
        "count": 2, "entity": "pod/agents/r 0", "summary": "OOM", "trace_id": "ab" * 16,
        "task_id": "task/42", "link": "/tasks/task%2F42",
    }  # fmt: skip
    assert list(validator.iter_errors(body)) == []
    assert list(validator.iter_errors({**body, "severity": "error"})) != []
