"""The conformance suite, continued: services, operations, dependencies and span-level search.

Same backends and fixtures as ``test_store_conformance.py`` (every test runs once per backend
there); these are the readers behind the Jaeger-compatible query API.
"""

from __future__ import annotations

from typing import Any

import pytest

from oracle_monitor.model import SpanKind, StatusCode
from oracle_monitor.store import Operation, ServiceDependency, Store, TraceQuery, open_store
from tests.integration.test_store_conformance import T0, make_span, store, store_url, tid

__all__ = ["store", "store_url"]  # the fixtures, imported to be used here

SERVER, CLIENT, CONSUMER = SpanKind.SERVER, SpanKind.CLIENT, SpanKind.CONSUMER


def test_services_and_operations_of_an_empty_store(store: Store) -> None:
    assert store.services() == []
    assert store.operations("svc-a") == []
    assert store.service_dependencies(0, 2**62) == []


@pytest.fixture
def shop(store: Store) -> Store:
    """Trace 1: gateway -> orders (two calls) -> db; trace 2 later: gateway -> orders."""
    store.write_spans(
        [
            make_span(1, 11, None, start=0, service="gateway", name="GET /buy", kind=SERVER),
            make_span(1, 12, 11, start=1, service="gateway", name="call orders", kind=CLIENT),
            make_span(1, 13, 12, start=2, service="orders", name="place", kind=SERVER),
            make_span(1, 14, 12, start=3, service="orders", name="place", kind=SERVER),
            make_span(1, 15, 13, start=4, service="orders", name="save", kind=CLIENT),
            make_span(1, 16, 15, start=5, service="db", name="INSERT", kind=SERVER),
        ]
    )
    store.write_spans(
        [
            make_span(2, 21, None, start=1000, service="gateway", name="GET /buy", kind=SERVER),
            make_span(2, 22, 21, start=1001, service="orders", name="place", kind=CONSUMER),
        ]
    )
    return store


def test_services_sorted_and_distinct(shop: Store) -> None:
    assert shop.services() == ["db", "gateway", "orders"]


def test_operations_by_name_then_kind(shop: Store) -> None:
    assert shop.operations("orders") == [
        Operation("place", SERVER),
        Operation("place", CONSUMER),
        Operation("save", CLIENT),
    ]
    assert shop.operations("orders", SERVER) == [Operation("place", SERVER)]
    assert shop.operations("orders", SpanKind.PRODUCER) == []
    assert shop.operations("nope") == []


def test_operations_survive_a_rewrite_and_reopen(shop: Store, store_url: str) -> None:
    shop.write_spans([make_span(1, 16, 15, start=5, service="db", name="INSERT", kind=SERVER)])
    assert shop.operations("db") == [Operation("INSERT", SERVER)]
    shop.close()
    reopened = open_store(store_url)
    try:
        assert reopened.services() == ["db", "gateway", "orders"]
        assert reopened.operations("gateway") == [
            Operation("GET /buy", SERVER),
            Operation("call orders", CLIENT),
        ]
    finally:
        reopened.close()


def test_service_dependencies_count_cross_service_parents(shop: Store) -> None:
    assert shop.service_dependencies(T0, T0 + 2000) == [
        ServiceDependency("gateway", "orders", 3),
        ServiceDependency("orders", "db", 1),
    ]
    assert shop.service_dependencies(T0 + 1, T0 + 1000) == [
        ServiceDependency("gateway", "orders", 1)
    ]
    assert shop.service_dependencies(T0 + 1001, T0 + 5000) == []


def found(store: Store, **query: Any) -> list[str]:
    return [s.trace_id for s in store.find_traces(TraceQuery(**query))]


@pytest.fixture
def tagged(store: Store) -> Store:
    """Three traces whose spans differ in name, duration, tags, status and resource."""
    error = StatusCode.ERROR
    store.write_spans(
        [
            make_span(1, 11, None, start=0, duration=500, service="api", name="root"),
            make_span(
                1, 12, 11, start=10, duration=50, service="worker", name="chat",
                kind=CLIENT, attributes={"http.status_code": 429, "retry": True},
            ),
            make_span(
                2, 21, None, start=100, duration=2000, service="api", name="root",
                attributes={"gen_ai.request.model": "gpt-4o", "temperature": 0.25},
                resource={"service.name": "api", "k8s.pod.name": "api-0"},
            ),
            make_span(
                3, 31, None, start=200, duration=20, service="api", name="chat",
                status_code=error, attributes={"http.status_code": 500, "retry": False},
            ),
        ]
    )  # fmt: skip
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"operation": "chat"}, [3, 1]),
        ({"operation": "chat", "service": "api"}, [3]),  # one span: this name *and* service
        ({"operation": "root", "service": "worker"}, []),
        ({"min_duration_ns": 500}, [2, 1]),
        ({"min_duration_ns": 501}, [2]),
        ({"max_duration_ns": 50}, [3, 1]),
        ({"min_duration_ns": 21, "max_duration_ns": 50}, [1]),
        ({"tags": (("http.status_code", "429"),)}, [1]),
        ({"tags": (("http.status_code", "500"),)}, [3]),
        ({"tags": (("retry", "true"),)}, [1]),
        ({"tags": (("retry", "false"),)}, [3]),
        ({"tags": (("temperature", "0.25"),)}, [2]),
        ({"tags": (("gen_ai.request.model", "gpt-4o"),)}, [2]),
        ({"tags": (("gen_ai.request.model", "gpt"),)}, []),  # whole values only
        ({"tags": (("k8s.pod.name", "api-0"),)}, [2]),  # resource attributes count
        ({"tags": (("error", "true"),)}, [3]),
        ({"tags": (("error", "false"), ("service.name", "api"))}, [2]),
        ({"tags": (("span.kind", "client"),)}, [1]),
        ({"tags": (("span.kind", "nonsense"),)}, []),
        ({"tags": (("otel.status_code", "ERROR"),)}, [3]),
        ({"tags": (("http.status_code", "429"), ("retry", "false"))}, []),  # not one span
        ({"tags": (("http.status_code", "429"),), "operation": "chat", "max_duration_ns": 50}, [1]),
        ({"operation": "chat", "limit": 1}, [3]),
        ({"operation": "chat", "start_ns": T0 + 1, "end_ns": T0 + 200}, [3]),
    ],
)
def test_find_traces_by_span_conditions(
    tagged: Store, query: dict[str, Any], expected: list[int]
) -> None:
    assert found(tagged, **query) == [tid(n) for n in expected]


def test_span_conditions_keep_the_trace_summary_whole(tagged: Store) -> None:
    (summary,) = tagged.find_traces(TraceQuery(operation="chat", service="worker"))
    assert (summary.trace_id, summary.span_count, summary.root_name) == (tid(1), 2, "root")
    assert summary.services == ("api", "worker")


def test_tags_match_attributes_that_hold_a_nul(store: Store) -> None:
    # PostgreSQL keeps such attributes as text (jsonb cannot hold \u0000): still searchable.
    store.write_spans(
        [
            make_span(1, 11, attributes={"note": "a\x00b", "code": 7}, resource={"r": "x\x00"}),
            make_span(2, 21, start=10, attributes={"code": 8}),
        ]
    )
    assert found(store, tags=(("code", "7"),)) == [tid(1)]
    assert found(store, tags=(("r", "y"),)) == []
    assert found(store, tags=(("code", "8"),), operation="span-21") == [tid(2)]
