"""The Supabase store for a project reached by its API URL and key alone (PostgREST).

Where a user has only a Supabase project's ``SUPABASE_URL`` and a key (what a project's
``.env`` holds), ``serve`` stores through the official ``supabase`` client:

* ``infra_events``, ``system_snapshots`` and ``alerts`` go to the project's PostgreSQL through
  PostgREST, in the tables the migrations of `oracle_monitor.store.postgres` create (applied
  beforehand with ``supabase db push`` or ``oracle-monitor migrate``: PostgREST cannot create
  tables). Supabase Realtime and supabase-js see the snapshots as they arrive.
* spans stay in the embedded SQLite file of the data dir (``spans=`` of the URL): a span batch
  is one transaction, ``COPY`` and the trace-summary upsert in the PostgreSQL store, and
  PostgREST offers no ``COPY``, no transaction over several requests and no advisory locks.

The key must be the project's ``service_role`` (secret) key: it bypasses row-level security,
and every row is written with the URL's ``tenant`` (read back by it too). The ``anon``
(publishable) key is refused: it is public by design, so a table it could write would be
writable by anyone. The key travels only in the ``apikey``/``Authorization`` headers; it is
kept out of `repr`, error messages and the log.

Guarantees, per call as the `Store` protocol states them: each write is one HTTP request,
which PostgREST runs as one transaction, and returns once PostgREST answered success (so it
is committed); a write that raises `PostgRESTError` may be assumed not stored, and is safe
to repeat (events and snapshots are inserted ignoring duplicates, alerts are merged). Failed
requests are retried twice when the failure is transient (no answer, 502/503/504/520).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from oracle_monitor.model import Alert, InfraEvent, Span, SpanKind
from oracle_monitor.store.base import (
    AgentActivity,
    AgentSecondsRead,
    AlertQuery,
    CostGroup,
    CostGrouping,
    EventQuery,
    LLMProblem,
    Operation,
    SecondsCursor,
    ServiceDependency,
    Store,
    TraceQuery,
    TraceSummary,
)
from oracle_monitor.store.postgrest import events, timeline
from oracle_monitor.store.postgrest.rest import PostgRESTError, Rest
from oracle_monitor.store.postgrest.url import SupabaseURL, key_role, supabase_store_url

__all__ = ["PostgRESTError", "SupabaseStore", "SupabaseURL", "supabase_store_url"]

_NO_TABLES = (
    "the Supabase project has no Oracle Monitor tables{detail}: apply the migrations first,"
    " with `supabase db push` (files in deploy/supabase/migrations) or `oracle-monitor migrate"
    " --store postgresql://…` (the project's connection string); PostgREST cannot create tables"
)


def check_schema(rest: Rest) -> None:
    """Raise `PostgRESTError` unless the project's schema has every shipped migration."""
    from oracle_monitor.store.postgres.migrate import MIGRATIONS

    try:
        rows = rest.rows(
            "GET oracle_schema_migrations",
            lambda: rest.table("oracle_schema_migrations").select("version").order("version"),
            None,
        )
    except PostgRESTError as error:
        if error.code in ("42P01", "PGRST205"):  # PostgREST's "no such table" (old, new)
            raise PostgRESTError(
                "Supabase API", error.status, _NO_TABLES.format(detail=""), error.code
            ) from None
        raise
    done = {int(row["version"]) for row in rows}
    known = {m.version for m in MIGRATIONS}
    if done - known:
        raise RuntimeError(
            f"the database has schema version {max(done - known)}, newer than this Oracle Monitor"
        )
    missing = [m for m in MIGRATIONS if m.version not in done]
    if missing:
        detail = f" of {len(missing)} migration(s), {missing[0].filename} first"
        raise PostgRESTError("Supabase API", 200, _NO_TABLES.format(detail=detail))


class SupabaseStore:
    """A `Store`: spans in SQLite, events, snapshots and alerts through PostgREST.

    ``url`` is a ``supabase://`` URL (`SupabaseURL`); ``open_spans`` opens the span store its
    ``spans`` option names (`oracle_monitor.store.open_store`). Opening checks the key and the
    schema with one request, and raises `PostgRESTError` (the key refused, the tables missing, the
    project unreachable) or ValueError (a bad URL, the anon key) with a message saying what
    to do. ``migrate`` is accepted for `open_store`'s sake: the schema is never migrated
    from here, and one that is behind is always an error.
    """

    def __init__(
        self, url: str, *, open_spans: Callable[[str], Store], migrate: bool = True
    ) -> None:
        del migrate
        self.url = SupabaseURL.parse(url)
        if key_role(self.url.key) == "anon":
            raise ValueError(
                "the Supabase key is the project's anon (publishable) key, which row-level"
                " security keeps from writing and which anyone may hold: set"
                " SUPABASE_SERVICE_ROLE_KEY to the service_role (secret) key"
            )
        self.tenant = self.url.tenant
        self._rest = Rest(self.url)
        try:
            check_schema(self._rest)
            self._spans: Store = open_spans(self.url.spans)
        except BaseException:
            self._rest.close()
            raise

    def __repr__(self) -> str:
        return f"SupabaseStore({self.url.api_url!r}, spans={self.url.spans!r})"

    # -- spans: the embedded SQLite store -----------------------------------------------

    def write_spans(self, spans: Sequence[Span]) -> None:
        """Store ``spans`` in one SQLite transaction; idempotent on ``(trace_id, span_id)``."""
        self._spans.write_spans(spans)

    def get_trace(self, trace_id: str) -> list[Span]:
        """All spans of the trace, ordered by start time then span id; ``[]`` if unknown."""
        return self._spans.get_trace(trace_id)

    def get_task(self, task_id: str) -> list[Span]:
        """All spans of the traces that carry ``task_id``, by start time then span id."""
        return self._spans.get_task(task_id)

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Summaries of matching traces, newest start first, at most ``query.limit``."""
        return self._spans.find_traces(query)

    def count_spans(self) -> int:
        """How many spans are stored."""
        return self._spans.count_spans()

    def services(self) -> list[str]:
        """Every service name of a stored span, sorted."""
        return self._spans.services()

    def operations(self, service: str, kind: SpanKind | None = None) -> list[Operation]:
        """``service``'s (span name, kind) pairs, by name then kind."""
        return self._spans.operations(service, kind)

    def service_dependencies(self, start_ns: int, end_ns: int) -> list[ServiceDependency]:
        """Parent -> child service calls in the traces starting in [start, end]."""
        return self._spans.service_dependencies(start_ns, end_ns)

    def llm_costs(
        self, group_by: CostGrouping, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[CostGroup]:
        """LLM usage and cost per agent, model or provider; costliest group first."""
        return self._spans.llm_costs(group_by, start_ns, end_ns)

    def llm_problems(self, start_ns: int, end_ns: int) -> list[LLMProblem]:
        """Rate-limited or failed LLM calls in [start, end], oldest first."""
        return self._spans.llm_problems(start_ns, end_ns)

    def recent_agent_spans(self, since_ns: int, limit: int = 10000) -> list[Span]:
        """Agents' spans started at or after ``since_ns``, newest first, at most ``limit``."""
        return self._spans.recent_agent_spans(since_ns, limit)

    def recent_agent_activity(self, since_ns: int, limit: int = 10000) -> list[AgentActivity]:
        """Agents' spans started at or after ``since_ns`` as lean rows, newest first."""
        return self._spans.recent_agent_activity(since_ns, limit)

    def agent_seconds(self, since_ns: int, cursor: SecondsCursor | None = None) -> AgentSecondsRead:
        """The agent seconds from ``since_ns`` on changed after ``cursor`` (the span store's)."""
        return self._spans.agent_seconds(since_ns, cursor)

    # -- events, snapshots, alerts: PostgREST --------------------------------------------

    def write_events(self, events_: Sequence[InfraEvent]) -> None:
        """Store ``events`` in one request (one transaction); idempotent on ``event_id``."""
        if events_:
            events.write_events(self._rest, self.tenant, events_)

    def find_events(self, query: EventQuery) -> list[InfraEvent]:
        """Events matching ``query``, newest first, at most ``query.limit``."""
        return events.find_events(self._rest, self.tenant, query)

    def write_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        """Store ``snapshot`` at ``timestamp_ns`` in one request; idempotent on the time."""
        timeline.write_snapshot(self._rest, self.tenant, timestamp_ns, snapshot)

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot, or ``None``."""
        return timeline.latest_snapshot(self._rest, self.tenant)

    def snapshot_at(self, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
        """The last snapshot at or before ``timestamp_ns``, or ``None``."""
        return timeline.snapshot_at(self._rest, self.tenant, timestamp_ns)

    def snapshot_series(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """The last snapshot of each ``step_ns`` bucket of [start, end], oldest first."""
        rows = self.snapshot_series_text(start_ns, end_ns, step_ns)
        return [(ts, orjson.loads(text)) for ts, text in rows]

    def snapshot_series_text(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, str]]:
        """`snapshot_series`, each snapshot as JSON text."""
        return timeline.snapshot_series_text(self._rest, self.tenant, start_ns, end_ns, step_ns)

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert or update ``alerts`` by id; the merged rows in one request."""
        if alerts:
            timeline.write_alerts(self._rest, self.tenant, alerts)

    def find_alerts(self, query: AlertQuery) -> list[Alert]:
        """Alerts matching ``query``, newest ``last_at`` first."""
        return timeline.find_alerts(self._rest, self.tenant, query)

    def thin_snapshots(self, start_ns: int, end_ns: int, step_ns: int) -> int:
        """Keep only the last snapshot of each ``step_ns`` bucket of [start, end)."""
        return timeline.thin_snapshots(self._rest, self.tenant, start_ns, end_ns, step_ns)

    def delete_snapshots_before(self, timestamp_ns: int) -> int:
        """Delete the snapshots taken before ``timestamp_ns``."""
        return timeline.delete_before(
            self._rest, self.tenant, "system_snapshots", "timestamp_ns", timestamp_ns
        )

    def delete_alerts_before(self, timestamp_ns: int) -> int:
        """Delete the alerts that last happened before ``timestamp_ns``."""
        return timeline.delete_before(self._rest, self.tenant, "alerts", "last_at_ns", timestamp_ns)

    def close(self) -> None:
        """Close the span file and the HTTP connections; idempotent."""
        try:
            self._spans.close()
        finally:
            self._rest.close()
