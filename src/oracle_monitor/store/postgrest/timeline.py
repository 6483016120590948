"""System snapshots (``system_snapshots``) and alerts (``alerts``) through PostgREST, with
the PostgreSQL store's tables, columns and semantics (migrations 20261202000001 and 3).

PostgREST has no GROUP BY (aggregates are off by default on Supabase) and no statement
spanning tables, so downsampling and thinning read the timestamps first (small), choose
in Python, then fetch or delete by timestamp; an alert upsert reads the stored rows of the
batch, merges as the PostgreSQL store's ``ON CONFLICT`` does, and writes the merged rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson
from postgrest.types import CountMethod, ReturnMethod

from oracle_monitor.model import Alert
from oracle_monitor.store.base import AlertQuery
from oracle_monitor.store.postgres.writer import json_without_nul, timestamptz
from oracle_monitor.store.postgrest.rest import PAGE_ROWS, Rest

#: Keys per ``in.(…)`` filter, so that a URL stays a few kilobytes long.
_CHUNK: Final = 100
_ALERT_COLUMNS: Final = (
    "alert_id", "kind", "severity", "first_at_ns", "last_at_ns", "entity", "summary", "count",
    "trace_id", "task_id",
)  # fmt: skip


def _chunks(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


# -- snapshots ----------------------------------------------------------------------------


def write_snapshot(rest: Rest, tenant: str, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
    """Insert one snapshot; a stored one at the same ``timestamp_ns`` stays (its
    ``\\u0000`` escapes are replaced: jsonb cannot hold them)."""
    text = orjson.dumps(snapshot).decode()
    if "\\u0000" in text:
        snapshot = orjson.loads(json_without_nul(text))
    at = timestamptz(timestamp_ns)
    row = {"tenant_id": tenant, "timestamp_ns": timestamp_ns, "timestamp": at.isoformat(),
           "snapshot": snapshot}  # fmt: skip
    rest.run(
        "POST system_snapshots",
        lambda: rest.table("system_snapshots").upsert(
            row, on_conflict="timestamp_ns", ignore_duplicates=True, returning=ReturnMethod.minimal
        ),
    )


def _one(rest: Rest, tenant: str, before_ns: int | None) -> tuple[int, dict[str, Any]] | None:
    def select() -> Any:
        request = rest.table("system_snapshots").select("timestamp_ns,snapshot")
        request = request.eq("tenant_id", tenant)
        if before_ns is not None:
            request = request.lte("timestamp_ns", before_ns)
        return request.order("timestamp_ns", desc=True).limit(1)

    rows = rest.fetch("GET system_snapshots", select)
    return (int(rows[0]["timestamp_ns"]), rows[0]["snapshot"]) if rows else None


def latest_snapshot(rest: Rest, tenant: str) -> tuple[int, dict[str, Any]] | None:
    """The newest snapshot, or None."""
    return _one(rest, tenant, None)


def snapshot_at(rest: Rest, tenant: str, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
    """The last snapshot at or before ``timestamp_ns``, or None."""
    return _one(rest, tenant, timestamp_ns)


def timestamps(rest: Rest, tenant: str, start_ns: int, end_ns: int, *, end_open: bool) -> list[int]:
    """The snapshot times in [start, end] (or [start, end) when ``end_open``), oldest first.

    The first page asks for the exact count (``Prefer: count=exact``; the range is indexed),
    then pages follow by key (after the last time seen) until that many were read: max-rows
    cannot cut it short, and no extra request is needed to find the end.
    """
    found: list[int] = []
    total: int | None = None
    while total is None or len(found) < total:
        low = found[-1] if found else None

        def select(low: int | None = low, count: bool = total is None) -> Any:
            request = rest.table("system_snapshots").select(
                "timestamp_ns", count=CountMethod.exact if count else None
            )
            request = request.eq("tenant_id", tenant)
            request = (
                request.gte("timestamp_ns", start_ns)
                if low is None
                else request.gt("timestamp_ns", low)
            )
            request = (
                request.lt("timestamp_ns", end_ns)
                if end_open
                else request.lte("timestamp_ns", end_ns)
            )
            return request.order("timestamp_ns").limit(PAGE_ROWS)

        response = rest.run("GET system_snapshots", select)
        if total is None:
            total = int(response.count or 0)
        rows: list[dict[str, Any]] = response.data  # type: ignore[assignment]
        page = [int(row["timestamp_ns"]) for row in rows]
        if not page:  # rows deleted meanwhile
            break
        found += page
    return found


def _last_of_each_step(times: list[int], step_ns: int) -> list[int]:
    last: dict[int, int] = {}
    for ts in times:  # oldest first: the last one of a bucket wins
        last[ts // step_ns] = ts
    return sorted(last.values())


def snapshot_series_text(
    rest: Rest, tenant: str, start_ns: int, end_ns: int, step_ns: int
) -> list[tuple[int, str]]:
    """The last snapshot of each ``step_ns`` bucket of [start, end], oldest first, as JSON."""
    if step_ns <= 0:
        raise ValueError("step_ns must be positive")
    chosen = _last_of_each_step(timestamps(rest, tenant, start_ns, end_ns, end_open=False), step_ns)
    series: list[tuple[int, str]] = []
    for part in _chunks(chosen):

        def select(part: Sequence[int] = part) -> Any:
            return (
                rest.table("system_snapshots")
                .select("timestamp_ns,snapshot")
                .eq("tenant_id", tenant)
                .in_("timestamp_ns", part)
                .order("timestamp_ns")
            )

        rows = rest.rows("GET system_snapshots", select, None)
        series += [(int(r["timestamp_ns"]), orjson.dumps(r["snapshot"]).decode()) for r in rows]
    return series


def _delete(rest: Rest, table: str, request: Any) -> int:
    response = rest.run(f"DELETE {table}", request)
    return int(response.count or 0)


def thin_snapshots(rest: Rest, tenant: str, start_ns: int, end_ns: int, step_ns: int) -> int:
    """Keep only the last snapshot of each ``step_ns`` bucket of [start, end)."""
    if step_ns <= 0:
        raise ValueError("step_ns must be positive")
    times = timestamps(rest, tenant, start_ns, end_ns, end_open=True)
    keep = set(_last_of_each_step(times, step_ns))
    doomed = [ts for ts in times if ts not in keep]
    deleted = 0
    for part in _chunks(doomed):

        def delete(part: Sequence[int] = part) -> Any:
            request = _deleter(rest, "system_snapshots").eq("tenant_id", tenant)
            return request.in_("timestamp_ns", part)

        deleted += _delete(rest, "system_snapshots", delete)
    return deleted


def _deleter(rest: Rest, table: str) -> Any:
    return rest.table(table).delete(count=CountMethod.exact, returning=ReturnMethod.minimal)


def delete_before(rest: Rest, tenant: str, table: str, column: str, before_ns: int) -> int:
    """Delete the rows of ``table`` whose ``column`` is before ``before_ns``; how many."""
    return _delete(
        rest, table, lambda: _deleter(rest, table).eq("tenant_id", tenant).lt(column, before_ns)
    )


# -- alerts -------------------------------------------------------------------------------


def _merge(stored: Alert, new: Alert) -> Alert:
    """What the PostgreSQL store's ``ON CONFLICT (alert_id) DO UPDATE`` makes of a repeat."""
    return Alert(
        alert_id=stored.alert_id,
        kind=stored.kind,
        severity=new.severity
        if new.severity == "critical" or stored.severity == "info"
        else stored.severity,
        first_at_ns=min(stored.first_at_ns, new.first_at_ns),
        last_at_ns=max(stored.last_at_ns, new.last_at_ns),
        entity=stored.entity,
        summary=new.summary if new.last_at_ns >= stored.last_at_ns else stored.summary,
        count=max(stored.count, new.count),
        trace_id=stored.trace_id if stored.trace_id is not None else new.trace_id,
        task_id=stored.task_id if stored.task_id is not None else new.task_id,
    )


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(**{column: row[column] for column in _ALERT_COLUMNS})


def write_alerts(rest: Rest, tenant: str, alerts: Sequence[Alert]) -> None:
    """Insert or update ``alerts`` by id; the merged rows go in one request (one transaction).

    Read, merge, write: two writers updating one alert at the same moment could lose one
    repeat's widening (only the snapshot leader, one process, writes alerts).
    """
    merged: dict[str, Alert] = {}
    for alert in alerts:  # repeats within the batch, in order, as one statement each would
        merged[alert.alert_id] = (
            _merge(merged[alert.alert_id], alert) if alert.alert_id in merged else alert
        )
    ids = list(merged)
    for part in _chunks(ids):

        def select(part: Sequence[str] = part) -> Any:
            return (
                rest.table("alerts")
                .select(",".join(_ALERT_COLUMNS))
                .eq("tenant_id", tenant)
                .in_("alert_id", part)
            )

        rows = rest.rows("GET alerts", select, None)
        for row in rows:
            stored = _alert(row)
            merged[stored.alert_id] = _merge(stored, merged[stored.alert_id])
    body = [
        {"tenant_id": tenant, **{column: getattr(a, column) for column in _ALERT_COLUMNS}}
        for a in merged.values()
    ]
    rest.run(
        "POST alerts",
        lambda: rest.table("alerts").upsert(
            body, on_conflict="alert_id", returning=ReturnMethod.minimal
        ),
    )


def find_alerts(rest: Rest, tenant: str, query: AlertQuery) -> list[Alert]:
    """Alerts overlapping [start, end] of the given severities, newest ``last_at`` first."""
    if query.limit <= 0:
        return []

    def select() -> Any:
        request = rest.table("alerts").select(",".join(_ALERT_COLUMNS)).eq("tenant_id", tenant)
        if query.start_ns is not None:
            request = request.gte("last_at_ns", query.start_ns)
        if query.end_ns is not None:
            request = request.lte("first_at_ns", query.end_ns)
        if query.severities is not None:
            request = request.in_("severity", query.severities)
        return request.order("last_at_ns", desc=True).order("alert_id")

    seen: set[str] = set()
    found = []
    for row in rest.rows("GET alerts", select, query.limit):
        if row["alert_id"] not in seen:
            seen.add(row["alert_id"])
            found.append(_alert(row))
    return found
