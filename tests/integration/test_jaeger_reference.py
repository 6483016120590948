"""Our Jaeger API against Jaeger's own answer for the same OTLP span.

Jaeger's query service has a reference conversion in its tests: one OTLP/JSON span from
``telemetrygen`` (a SERVER span with two string attributes and a parent that was never sent)
and the ``/api/traces/{id}`` body Jaeger serves for it. Here the same span goes into a real
``oracle-monitor serve`` over OTLP/HTTP JSON, and the Jaeger-compatible answer must be that
body, key for key. One documented difference: for a parent that is not in the trace, our span
carries a ``warnings`` entry saying so, where Jaeger has ``null``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.oracle_server import OracleServer

pytestmark = pytest.mark.integration

TRACE_ID = "83a9efd15c1c98a977e0711cc93ee28b"
OTLP_JSON = {
    "resourceSpans": [
        {
            "resource": {
                "attributes": [{"key": "service.name", "value": {"stringValue": "telemetrygen"}}]
            },
            "scopeSpans": [
                {
                    "scope": {"name": "telemetrygen"},
                    "spans": [
                        {
                            "traceId": TRACE_ID,
                            "spanId": "e127af99e3b3e074",
                            "parentSpanId": "909541b92cf05311",
                            "name": "okey-dokey-0",
                            "kind": 2,
                            "startTimeUnixNano": "1706678909209712000",
                            "endTimeUnixNano": "1706678909209835000",
                            "attributes": [
                                {"key": "net.peer.ip", "value": {"stringValue": "1.2.3.4"}},
                                {
                                    "key": "peer.service",
                                    "value": {"stringValue": "telemetrygen-client"},
                                },
                            ],
                            "status": {},
                        }
                    ],
                }
            ],
            "schemaUrl": "https://opentelemetry.io/schemas/1.4.0",
        }
    ]
}


def jaeger_reference_body(span_warnings: Any) -> dict[str, Any]:
    """What Jaeger's query service answers for ``OTLP_JSON`` (its reference conversion)."""
    return {
        "data": [
            {
                "traceID": TRACE_ID,
                "spans": [
                    {
                        "traceID": TRACE_ID,
                        "spanID": "e127af99e3b3e074",
                        "operationName": "okey-dokey-0",
                        "references": [
                            {
                                "refType": "CHILD_OF",
                                "traceID": TRACE_ID,
                                "spanID": "909541b92cf05311",
                            }
                        ],
                        "startTime": 1706678909209712,
                        "duration": 123,
                        "tags": [
                            {"key": "otel.scope.name", "type": "string", "value": "telemetrygen"},
                            {"key": "net.peer.ip", "type": "string", "value": "1.2.3.4"},
                            {
                                "key": "peer.service",
                                "type": "string",
                                "value": "telemetrygen-client",
                            },
                            {"key": "span.kind", "type": "string", "value": "server"},
                        ],
                        "logs": [],
                        "processID": "p1",
                        "warnings": span_warnings,
                    }
                ],
                "processes": {"p1": {"serviceName": "telemetrygen", "tags": []}},
                "warnings": None,
            }
        ],
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": None,
    }


def test_a_telemetrygen_span_reads_as_jaeger_serves_it(server: OracleServer) -> None:
    sent = httpx.post(f"{server.otlp_http_url}/v1/traces", json=OTLP_JSON, timeout=10)
    assert sent.status_code == 200, sent.text
    server.wait_for_trace(TRACE_ID, spans=1)

    body = server.api(f"/jaeger/api/traces/{TRACE_ID}").json()

    warnings = body["data"][0]["spans"][0]["warnings"]
    assert warnings == ["parent span 909541b92cf05311 is not in this trace (not received)"]
    assert body == jaeger_reference_body(warnings)
