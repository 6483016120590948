"""Infrastructure events in ``infra_events`` through PostgREST (the PostgreSQL store's table
and columns, see migration 20261202000001)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
from postgrest.types import ReturnMethod

from oracle_monitor.model import InfraEvent, Severity
from oracle_monitor.store import codec
from oracle_monitor.store.base import EventQuery
from oracle_monitor.store.postgres.writer import jsonb_or_text, text_without_nul
from oracle_monitor.store.postgrest.rest import Rest

__all__ = ["find_events", "write_events"]

_COLUMNS: Final = "event_id,time_ns,source,kind,entity,severity,summary,attributes,attributes_text"


def _row(tenant: str, event: InfraEvent) -> dict[str, Any]:
    attributes: Any = None
    raw: str | None = None
    if event.attributes:
        encoded = codec.encode_attributes(event.attributes)
        jsonb, raw = jsonb_or_text(encoded)  # jsonb cannot hold a \u0000: kept as text then
        attributes = orjson.loads(encoded) if jsonb is not None else None
    return {
        "event_id": text_without_nul(event.event_id), "tenant_id": tenant,
        "time_ns": event.time_ns, "source": text_without_nul(event.source),
        "kind": text_without_nul(event.kind), "entity": text_without_nul(event.entity),
        "severity": str(event.severity), "summary": text_without_nul(event.summary),
        "attributes": attributes, "attributes_text": raw,
    }  # fmt: skip


def write_events(rest: Rest, tenant: str, events: Sequence[InfraEvent]) -> None:
    """Insert ``events`` in one request (one transaction); a stored ``event_id`` is kept."""
    rows = list({row["event_id"]: row for row in reversed([_row(tenant, e) for e in events])}
                .values())[::-1]  # fmt: skip
    rest.run(
        "POST infra_events",
        lambda: rest.table("infra_events").upsert(
            rows, on_conflict="event_id", ignore_duplicates=True, returning=ReturnMethod.minimal
        ),
    )


def _event(row: dict[str, Any]) -> InfraEvent:
    attributes = row["attributes_text"]
    if attributes is None and row["attributes"] is not None:
        attributes = orjson.dumps(row["attributes"]).decode()
    return InfraEvent(
        event_id=row["event_id"], time_ns=int(row["time_ns"]), source=row["source"],
        kind=row["kind"], entity=row["entity"], severity=Severity(row["severity"]),
        summary=row["summary"], attributes=codec.decode_attributes(attributes),
    )  # fmt: skip


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern (PostgREST's ``*`` wildcard) of the values starting with ``prefix``."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "*"


def find_events(rest: Rest, tenant: str, query: EventQuery) -> list[InfraEvent]:
    """Events matching ``query``, newest first (then by id), at most ``query.limit``."""
    if query.limit <= 0:
        return []

    def select() -> Any:
        request = rest.table("infra_events").select(_COLUMNS).eq("tenant_id", tenant)
        for column, value in (("source", query.source), ("kind", query.kind)):
            if value is not None:
                request = request.eq(column, value)
        if query.entity is not None:
            if query.entity.endswith("*"):
                request = request.like("entity", _like_prefix(query.entity[:-1]))
            else:
                request = request.eq("entity", query.entity)
        if query.start_ns is not None:
            request = request.gte("time_ns", query.start_ns)
        if query.end_ns is not None:
            request = request.lte("time_ns", query.end_ns)
        return request.order("time_ns", desc=True).order("event_id")

    rows = rest.rows("GET infra_events", select, query.limit)
    seen: set[str] = set()  # a page boundary that moved under a concurrent insert repeats one
    events = []
    for row in rows:
        if row["event_id"] not in seen:
            seen.add(row["event_id"])
            events.append(_event(row))
    return events
