"""Writing spans, events and snapshots into PostgreSQL (see `oracle_monitor.store.postgres`).

A span batch is one transaction: the summaries of its traces are upserted first, in trace id
order (which locks them, so concurrent writers of one trace take turns and cannot deadlock),
the spans already stored are left out, and the rest goes in with one binary ``COPY``. Last
come the agent seconds (`seconds`) and the sums of the LLM calls (`llm`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import time
from collections.abc import Collection, Sequence
from typing import Any, Final

import orjson
import psycopg

from oracle_monitor.model import InfraEvent, Span
from oracle_monitor.store import codec
from oracle_monitor.store.agent_seconds import Key, fold_settled, fold_spans, merge_seconds
from oracle_monitor.store.attribution import (
    Inherited,
    Pending,
    SpanKey,
    arrivals,
    attribute_batch,
    attributed,
    settle,
)
from oracle_monitor.store.base import AgentSecond
from oracle_monitor.store.llm_calls import LLMKey, Sums, add_sums, fold_calls
from oracle_monitor.store.postgres import llm, seconds
from oracle_monitor.store.postgres.partitions import DAY_NS
from oracle_monitor.store.summaries import TraceAggregate, aggregate_spans, merge_aggregates

__all__ = [
    "SPAN_COLUMNS",
    "SpanBatchWriter",
    "insert_events",
    "insert_snapshot",
    "jsonb_or_text",
    "without_nul",
]

SPAN_COLUMNS: Final = (
    "tenant_id", "trace_id", "span_id", "parent_span_id", "resource_id", "start_time_ns",
    "end_time_ns", "name", "kind", "status_code", "status_message", "trace_state", "flags",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count", "scope_name",
    "scope_version", "service_name", "agent_name", "provider", "model", "input_tokens",
    "output_tokens", "cache_read_tokens", "cache_creation_tokens", "reasoning_tokens",
    "pod_name", "namespace", "task_id", "cost_usd", "rate_limited", "attributes",
    "attributes_text", "events", "links", "agent_from",
)  # fmt: skip
#: Binary COPY types; a jsonb value is sent as bytea holding jsonb's wire form (b"\x01" + text).
_COPY_TYPES: Final = (
    "text", "bytea", "bytea", "bytea", "int8", "int8", "int8", "text", "int2", "int2", "text",
    "text", "int8", "int8", "int8", "int8", "text", "text", "text", "text", "text", "text",
    "int8", "int8", "int8", "int8", "int8", "text", "text", "text", "float8", "bool", "bytea",
    "text", "text", "text", "text",
)  # fmt: skip
_COPY_SPANS: Final = f"COPY spans ({', '.join(SPAN_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_TRACE_VALUES: Final = (
    "trace_id", "start_time_ns", "end_time_ns", "root_name", "root_service", "root_seen",
    "root_start_ns", "span_count", "error_count", "input_tokens", "output_tokens",
)  # fmt: skip
_STAGE_TYPES: Final = ("bytea", "int8", "int8", "text", "text", "bool", "int8", "int8", "int8",
                       "int8", "int8", "text", "text")  # fmt: skip
_SEP: Final = "\x1f"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: The batch's trace aggregates are staged with a binary COPY into a temporary table of the
#: session (array parameters are dumped element by element in Python: several times slower).
_CREATE_STAGE: Final = """
    CREATE TEMP TABLE IF NOT EXISTS oracle_trace_batch (
        c1 bytea, c2 int8, c3 int8, c4 text, c5 text, c6 bool, c7 int8, c8 int8, c9 int8,
        c10 int8, c11 int8, c12 text, c13 text) ON COMMIT DELETE ROWS
"""
_COPY_STAGE: Final = "COPY oracle_trace_batch FROM STDIN (FORMAT BINARY)"
#: Lock (or create) the summaries of the batch's traces, in trace id order. The no-op update
#: takes the row lock and returns the stored row; ``xmax = 0`` marks the rows just inserted.
_UPSERT_TRACES: Final = f"""
    INSERT INTO traces AS t (tenant_id, {", ".join(_TRACE_VALUES)}, services, agents)
    SELECT %s, u.c1, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7, u.c8, u.c9, u.c10, u.c11,
        coalesce(string_to_array(u.c12, E'\\x1f'), ARRAY[]::text[]),
        coalesce(string_to_array(u.c13, E'\\x1f'), ARRAY[]::text[])
    FROM oracle_trace_batch AS u
    ORDER BY u.c1
    ON CONFLICT (trace_id) DO UPDATE SET span_count = t.span_count
    RETURNING t.xmax = 0, {", ".join(f"t.{c}" for c in _TRACE_VALUES)}, t.services, t.agents
"""
_UPDATE_TRACES: Final = """
    UPDATE traces AS t SET start_time_ns = u.c2, end_time_ns = u.c3, root_name = u.c4,
        root_service = u.c5, root_seen = u.c6, root_start_ns = u.c7, span_count = u.c8,
        error_count = u.c9, input_tokens = u.c10, output_tokens = u.c11,
        services = coalesce(string_to_array(u.c12, E'\\x1f'), ARRAY[]::text[]),
        agents = coalesce(string_to_array(u.c13, E'\\x1f'), ARRAY[]::text[])
    FROM oracle_trace_batch AS u
    WHERE t.trace_id = u.c1
"""
_STORED_SPANS: Final = """
    SELECT s.trace_id, s.span_id FROM unnest(%s::bytea[], %s::bytea[]) AS b(trace_id, span_id)
    JOIN spans AS s ON s.trace_id = b.trace_id AND s.span_id = b.span_id
"""
#: Hierarchy attribution (`oracle_monitor.store.attribution`): what stored spans pass down.
_SELECT_ATTRIBUTION: Final = """
    SELECT s.trace_id, s.span_id, s.agent_name, s.agent_from, s.task_id,
        (SELECT p.missing_span_id FROM attribution_pending AS p
         WHERE p.trace_id = s.trace_id AND p.span_id = s.span_id LIMIT 1)
    FROM unnest(%s::bytea[], %s::bytea[]) AS b(trace_id, span_id)
    JOIN spans AS s ON s.trace_id = b.trace_id AND s.span_id = b.span_id
"""
#: The stored spans waiting on some of the batch's spans, each with what the agent seconds
#: need of it (`agent_seconds.STORED_COLUMNS`, attributes as JSON text), then what the sums of
#: an LLM call need (`llm.SETTLED_COLUMNS`); NULLs for a span not stored.
_PENDING_ON: Final = f"""
    SELECT p.trace_id, p.missing_span_id, p.span_id, s.agent_name, s.start_time_ns,
        s.end_time_ns, s.status_code, s.task_id, s.pod_name, s.input_tokens, s.output_tokens,
        s.cost_usd, s.agent_from,
        CASE WHEN s.attributes ?| ARRAY['gen_ai.agent.id', 'oracle.agent.reasoning']
                OR s.attributes->>'gen_ai.operation.name' = 'invoke_agent'
             THEN s.attributes::text
             WHEN s.attributes_text IS NOT NULL THEN s.attributes_text END,
        {llm.SETTLED_COLUMNS}
    FROM unnest(%s::bytea[], %s::bytea[]) AS b(trace_id, span_id)
    JOIN attribution_pending AS p ON p.trace_id = b.trace_id AND p.missing_span_id = b.span_id
    LEFT JOIN spans AS s ON s.trace_id = p.trace_id AND s.span_id = p.span_id
"""
_INSERT_PENDING: Final = (
    "INSERT INTO attribution_pending (tenant_id, trace_id, missing_span_id, span_id)"
    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
#: Fill what a waiting span does not know yet (every SET sees the old row).
_SETTLE_SPAN: Final = (
    "UPDATE spans SET agent_from = CASE WHEN agent_name IS NULL THEN %s ELSE agent_from END,"
    " agent_name = coalesce(agent_name, %s), task_id = coalesce(task_id, %s)"
    " WHERE trace_id = %s AND span_id = %s"
)
_REPENDING: Final = (
    "INSERT INTO attribution_pending (tenant_id, trace_id, missing_span_id, span_id)"
    " SELECT tenant_id, trace_id, %s, span_id FROM spans"
    " WHERE trace_id = %s AND span_id = %s AND (agent_name IS NULL OR task_id IS NULL)"
    " ON CONFLICT DO NOTHING"
)
_DELETE_PENDING: Final = (
    "DELETE FROM attribution_pending WHERE trace_id = %s AND missing_span_id = %s AND span_id = %s"
)
_INSERT_OPERATION: Final = (
    "INSERT INTO operations (tenant_id, service_name, name, kind) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT DO NOTHING"
)
#: A JSON ``\u0000`` escape, not preceded by an escaped backslash (``\\u0000`` is text).
_PRUNE_EVERY_SPANS: Final = 20_000  # agent seconds are pruned as often
_NUL_ESCAPE: Final = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def jsonb_or_text(text: str) -> tuple[bytes | None, str | None]:
    """``(jsonb wire bytes, None)``, or ``(None, text)`` when the JSON holds a ``\\u0000``,
    which jsonb cannot store (such values go to the ``*_text`` column instead)."""
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        return None, text
    return b"\x01" + text.encode(), None


def _stage(cur: psycopg.Cursor[Any], aggregates: Sequence[TraceAggregate]) -> None:
    """Put ``aggregates`` (alone) into the session's ``oracle_trace_batch``."""
    cur.execute(_CREATE_STAGE)
    cur.execute("DELETE FROM oracle_trace_batch")
    with cur.copy(_COPY_STAGE) as copy:
        copy.set_types(_STAGE_TYPES)
        for agg in aggregates:
            copy.write_row(
                (bytes.fromhex(agg.trace_id), agg.start_time_ns, agg.end_time_ns,
                 agg.root_name, agg.root_service, agg.root_seen, agg.root_start_ns,
                 agg.span_count, agg.error_count, agg.input_tokens, agg.output_tokens,
                 _SEP.join(sorted(n.replace(_SEP, " ") for n in agg.services)) or None,
                 _SEP.join(sorted(n.replace(_SEP, " ") for n in agg.agents)) or None)
            )  # fmt: skip


def _aggregate_from_row(row: Sequence[Any]) -> TraceAggregate:
    return TraceAggregate(
        row[1].hex(), row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        row[10], row[11], set(row[12]), set(row[13]),
    )  # fmt: skip


class SpanBatchWriter:
    """Turns span batches into rows and writes them; keeps a cache of resource ids."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self._resource_ids: dict[str, int] = {}  # sorted resource JSON -> resources.id
        self._operations: set[tuple[str, str, int]] = set()  # (service, name, kind) stored
        self._unpruned = 0  # spans written since agent seconds were last pruned

    def resource_ids(self, conn: psycopg.Connection[Any], spans: Sequence[Span]) -> dict[int, int]:
        """``id(span.resource)`` -> resources.id for the batch; new resources are committed
        at once in their own transaction (they are shared and never deleted)."""
        texts: dict[int, str] = {}  # id(resource dict) -> its sorted JSON
        for span in spans:
            if id(span.resource) not in texts:
                texts[id(span.resource)] = codec.encode_attributes(span.resource, sort_keys=True)
        known = self._resource_ids
        found = {text: known[text] for text in set(texts.values()) if text in known}
        missing = set(texts.values()) - found.keys()
        if missing:
            with conn.transaction():
                for text in missing:
                    found[text] = self._insert_resource(conn, text)
            if len(known) > 10000:
                known.clear()
            known.update((text, found[text]) for text in missing)
        return {key: found[text] for key, text in texts.items()}

    def _insert_resource(self, conn: psycopg.Connection[Any], text: str) -> int:
        fingerprint = hashlib.blake2b(text.encode(), digest_size=16).digest()
        raw = jsonb_or_text(text)[1]
        row = conn.execute(
            "INSERT INTO resources (tenant_id, fingerprint, attributes, attributes_text)"
            " VALUES (%s, %s, %s::jsonb, %s) ON CONFLICT DO NOTHING RETURNING id",
            (self.tenant, fingerprint, None if raw is not None else text, raw),
        ).fetchone()
        if row is None:  # stored before, maybe by a writer that just committed: a new
            # statement sees it (ON CONFLICT waited for that commit)
            row = conn.execute(
                "SELECT id FROM resources WHERE tenant_id = %s AND fingerprint = %s",
                (self.tenant, fingerprint),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def span_rows(self, spans: Sequence[Span], resources: dict[int, int]) -> list[tuple[Any, ...]]:
        """The COPY rows of ``spans``; raises TypeError for an unsupported attribute value."""
        tenant, fromhex = self.tenant, bytes.fromhex
        encode, encode_events, encode_links = (
            codec.encode_attributes, codec.encode_events, codec.encode_links,
        )  # fmt: skip
        rows = []
        for s in spans:
            jsonb, raw = jsonb_or_text(encode(s.attributes)) if s.attributes else (None, None)
            rows.append(
                (tenant, fromhex(s.trace_id), fromhex(s.span_id),
                 fromhex(s.parent_span_id) if s.parent_span_id else None,
                 resources[id(s.resource)], s.start_time_ns, s.end_time_ns, s.name,
                 int(s.kind), int(s.status_code), s.status_message, s.trace_state, s.flags,
                 s.dropped_attributes_count, s.dropped_events_count, s.dropped_links_count,
                 s.scope_name, s.scope_version, s.service_name, s.agent_name, s.provider,
                 s.model, s.input_tokens, s.output_tokens, s.cache_read_tokens,
                 s.cache_creation_tokens, s.reasoning_tokens, s.pod_name, s.namespace,
                 s.task_id, s.cost_usd, s.rate_limited, jsonb, raw,
                 encode_events(s.events) if s.events else None,
                 encode_links(s.links) if s.links else None, s.agent_from)
            )  # fmt: skip
        return rows

    def write(self, conn: psycopg.Connection[Any], spans: Sequence[Span]) -> None:
        """Write ``spans`` (no two with the same ids) in one transaction on ``conn``.

        The summaries of the batch's traces are locked (or created) first, so the stored
        spans that attribution by hierarchy reads cannot change under it.
        """
        resources = self.resource_ids(conn, spans)
        created = aggregate_spans(spans)  # agents named by the spans themselves
        # Spans that need no attribution have their agent seconds worked out before.
        early = fold_spans(spans) if attributed(spans) else None
        with conn.transaction(), conn.cursor() as cur:
            _stage(cur, list(created.values()))
            cur.execute(_UPSERT_TRACES, (self.tenant,))
            stored = {
                row[1].hex(): _aggregate_from_row(row) for row in cur.fetchall() if not row[0]
            }
            keep = self._unstored(cur, spans, stored) if stored else [True] * len(spans)
            pending = attribute_batch(
                spans, lambda wanted: self._stored_attribution(cur, stored, wanted)
            )
            named, settled, moved = (
                self._settle(cur, stored, spans, pending) if stored else ({}, {}, {})
            )
            fresh = [s for s, k in zip(spans, keep, strict=True) if k]
            rows = self.span_rows(fresh, resources)
            batch = aggregate_spans(fresh)
            changed = [
                agg
                for trace_id, agg in batch.items()
                if trace_id not in stored and agg.agents != created[trace_id].agents
            ]
            for trace_id, names in named.items():
                stored[trace_id].agents |= names
                batch.setdefault(trace_id, TraceAggregate.empty(trace_id))
            changed += merge_aggregates(stored, {t: agg for t, agg in batch.items() if t in stored})
            if changed:
                _stage(cur, changed)
                cur.execute(_UPDATE_TRACES)
            if pending:
                cur.executemany(
                    _INSERT_PENDING,
                    [(self.tenant, bytes.fromhex(p.trace_id), bytes.fromhex(p.missing_span_id),
                      bytes.fromhex(p.span_id)) for p in pending],
                )  # fmt: skip
            if rows:
                with cur.copy(_COPY_SPANS) as copy:
                    copy.set_types(_COPY_TYPES)
                    for row in rows:
                        copy.write_row(row)
            operations = {(s.service_name, s.name, int(s.kind)) for s in spans}
            operations -= self._operations
            if operations:
                # Sorted: writers inserting the same new triples wait in one order, not deadlock.
                cur.executemany(
                    _INSERT_OPERATION, [(self.tenant, *op) for op in sorted(operations)]
                )
            if early is None or len(fresh) != len(spans):
                early = fold_spans(fresh)
            seconds.write_seconds(cur, self.tenant, merge_seconds(early, settled))
            llm.write_problems(cur, self.tenant, fresh)
            # Last: other writers of these seconds wait for their rows only until the commit.
            sums = {self.tenant: fold_calls(fresh)}
            for tenant, changes in moved.items():
                add_sums(sums.setdefault(tenant, {}), changes)
            llm.write_calls(cur, sums)
        self._unpruned += len(spans)
        if self._unpruned >= _PRUNE_EVERY_SPANS:
            self._unpruned = 0
            seconds.prune(conn, time.time_ns())
        if operations:
            if len(self._operations) > 100_000:
                self._operations.clear()
            self._operations |= operations

    @staticmethod
    def _stored_attribution(
        cur: psycopg.Cursor[Any], stored: dict[str, TraceAggregate], wanted: Collection[SpanKey]
    ) -> dict[SpanKey, Inherited]:
        """What the stored spans among ``wanted`` pass down (`attribution.Lookup`)."""
        keys = [key for key in wanted if key[0] in stored]
        if not keys:
            return {}
        cur.execute(
            _SELECT_ATTRIBUTION,
            ([bytes.fromhex(t) for t, _ in keys], [bytes.fromhex(s) for _, s in keys]),
        )
        return {
            (trace_id.hex(), span_id.hex()): Inherited.of_stored(
                span_id.hex(), agent, agent_from, task, waiting and waiting.hex()
            )
            for trace_id, span_id, agent, agent_from, task, waiting in cur.fetchall()
        }

    @staticmethod
    def _settle(
        cur: psycopg.Cursor[Any],
        stored: dict[str, TraceAggregate],
        spans: Sequence[Span],
        pending: Sequence[Pending],
    ) -> tuple[dict[str, set[str]], dict[Key, AgentSecond], dict[str, dict[LLMKey, Sums]]]:
        """Attribute the stored spans that waited for spans of this (attributed) batch, whose
        own waiting rows are ``pending``; returns the agent names they got, per trace, their
        agent seconds (`agent_seconds.fold_settled`), and the moves of the sums of those that
        are LLM calls and got their agent, per tenant (`llm.settled_moves`)."""
        candidates = [s for s in spans if s.trace_id in stored]
        cur.execute(
            _PENDING_ON,
            (
                [bytes.fromhex(s.trace_id) for s in candidates],
                [bytes.fromhex(s.span_id) for s in candidates],
            ),
        )
        found = cur.fetchall()
        rows = [Pending(r[0].hex(), r[1].hex(), r[2].hex()) for r in found]
        before = {(r[0].hex(), r[2].hex()): r[3:] for r in found if r[4] is not None}
        if not rows:
            return {}, {}, {}
        named: dict[str, set[str]] = {}
        settled = settle(rows, arrivals(spans, pending, {r.trace_id for r in rows}))
        cur.executemany(
            _SETTLE_SPAN,
            [(d.agent_from, d.agent_name, d.task_id, bytes.fromhex(d.trace_id),
              bytes.fromhex(d.span_id)) for d in settled],
        )  # fmt: skip
        cur.executemany(
            _DELETE_PENDING,
            [(bytes.fromhex(r.trace_id), bytes.fromhex(r.missing_span_id),
              bytes.fromhex(r.span_id)) for r in rows],
        )  # fmt: skip
        again = [d for d in settled if d.pending_on is not None]
        if again:
            cur.executemany(
                _REPENDING,
                [(bytes.fromhex(d.pending_on or ""), bytes.fromhex(d.trace_id),
                  bytes.fromhex(d.span_id)) for d in again],
            )  # fmt: skip
        for done in settled:
            if done.agent_name is not None:
                named.setdefault(done.trace_id, set()).add(done.agent_name)
        return named, fold_settled(before, settled), llm.settled_moves(before, settled)

    @staticmethod
    def _unstored(
        cur: psycopg.Cursor[Any], spans: Sequence[Span], stored: dict[str, TraceAggregate]
    ) -> list[bool]:
        """For each span, whether it is not stored yet (only traces in ``stored`` can be)."""
        candidates = [s for s in spans if s.trace_id in stored]
        cur.execute(
            _STORED_SPANS,
            (
                [bytes.fromhex(s.trace_id) for s in candidates],
                [bytes.fromhex(s.span_id) for s in candidates],
            ),
        )
        present = {(t.hex(), s.hex()) for t, s in cur.fetchall()}
        return [(s.trace_id, s.span_id) not in present for s in spans]


_TEXT_FIELDS: Final = (
    "name", "status_message", "trace_state", "scope_name", "scope_version", "service_name",
    "agent_name", "provider", "model", "pod_name", "namespace", "task_id", "agent_from",
)  # fmt: skip


def without_nul(span: Span) -> Span:
    """``span`` with every NUL of its text columns replaced by U+FFFD (PostgreSQL text
    cannot hold one); the span itself when it has none."""
    changes: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(span, name)
        if isinstance(value, str) and "\x00" in value:
            changes[name] = value.replace("\x00", "\ufffd")
    return dataclasses.replace(span, **changes) if changes else span


def text_without_nul(value: str) -> str:
    """``value`` with NUL characters as U+FFFD (PostgreSQL text cannot hold them)."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def json_without_nul(text: str) -> str:
    """JSON ``text`` with its ``\\u0000`` escapes as ``\\ufffd`` (jsonb cannot hold them)."""
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def timestamptz(timestamp_ns: int) -> dt.datetime:
    """``timestamp_ns`` as the UTC datetime of a ``timestamptz`` column (microseconds)."""
    return _EPOCH + dt.timedelta(microseconds=timestamp_ns // 1000)


def span_days(spans: Sequence[Span]) -> set[int]:
    """The UTC days (since the epoch) the spans start in."""
    return {s.start_time_ns // DAY_NS for s in spans}


def insert_events(conn: psycopg.Connection[Any], tenant: str, events: Sequence[InfraEvent]) -> None:
    """Insert ``events`` in one transaction; idempotent on ``event_id``. A NUL in a text
    field is stored as U+FFFD (attributes keep theirs, as JSON)."""
    rows = []
    for e in events:
        jsonb, raw = (
            jsonb_or_text(codec.encode_attributes(e.attributes)) if e.attributes else (None, None)
        )
        rows.append(
            (text_without_nul(e.event_id), tenant, e.time_ns, text_without_nul(e.source),
             text_without_nul(e.kind), text_without_nul(e.entity), str(e.severity),
             text_without_nul(e.summary), None if jsonb is None else jsonb[1:].decode(), raw)
        )  # fmt: skip
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO infra_events (event_id, tenant_id, time_ns, source, kind, entity,"
            " severity, summary, attributes, attributes_text)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
            " ON CONFLICT (event_id) DO NOTHING",
            rows,
        )


def insert_snapshot(
    conn: psycopg.Connection[Any], tenant: str, timestamp_ns: int, snapshot: dict[str, Any]
) -> None:
    """Insert one snapshot (its ``\\u0000`` escapes replaced: jsonb cannot hold them)."""
    text = json_without_nul(orjson.dumps(snapshot).decode())
    at = timestamptz(timestamp_ns)
    with conn.transaction():
        conn.execute(
            'INSERT INTO system_snapshots (tenant_id, timestamp_ns, "timestamp", snapshot)'
            " VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (timestamp_ns) DO NOTHING",
            (tenant, timestamp_ns, at, text),
        )
