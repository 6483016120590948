"""The PostgreSQL (and Supabase) span store.

URL: ``postgresql://user:password@host:5432/dbname?schema=oracle&tenant=acme`` (``postgres://``
too). Every libpq parameter works (``sslmode=require``, ``application_name``…); the store's
own options are taken out first:

* ``schema``: the schema of the tables (default: the first of the search path, ``public``);
  created by the migrations when missing.
* ``tenant``: the ``tenant_id`` written on every row and set as ``oracle.tenant_id`` on the
  store's sessions (default ``default``); see the row-level security of migration 2.
* ``pool_max``: most connections this process opens (default 4).
* ``retention_days``: when set, a background thread drops the day partitions of spans (and
  the trace summaries) older than that many days, once an hour.

Layout (``migrations/*.sql``, applied by `oracle_monitor.store.postgres.migrate`): ``spans``
partitioned by day on ``start_time_ns`` (`partitions`), attributes as JSONB, the derived
fields as columns; ``traces``, one summary row per trace; ``resources``; ``infra_events``;
``system_snapshots``; ``agent_seconds``, what the snapshot loop reads of the agents
(`seconds`); ``llm_seconds``, the LLM calls added up per second, provider, model and agent,
and ``llm_problem_calls``, the rate-limited or failed ones (`llm`). Writes are in `writer`,
queries in `reader`.

Guarantees: `PostgresStore.write_spans` is one transaction and returns after its commit (with
the server's default ``synchronous_commit = on`` the batch is on disk); it is idempotent on
``(trace_id, span_id)``. Readers run on their own pooled connections and see whole batches.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.types.string import BytesBinaryDumper
from psycopg_pool import ConnectionPool

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
    TraceQuery,
    TraceSummary,
)
from oracle_monitor.store.postgres import llm, reader, search, seconds, timeline
from oracle_monitor.store.postgres import migrate as migrations
from oracle_monitor.store.postgres.partitions import DAY_NS, drop_before, ensure_partitions
from oracle_monitor.store.postgres.writer import (
    SpanBatchWriter,
    insert_events,
    insert_snapshot,
    span_days,
    without_nul,
)

__all__ = ["PostgresStore", "StoreURL"]

_log = logging.getLogger(__name__)
_OPTIONS = ("schema", "tenant", "pool_max", "retention_days")
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_TENANT = re.compile(r"[A-Za-z0-9_.@:-]{1,200}")


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A ``postgresql://`` store URL taken apart (see the module docstring)."""

    conninfo: str  # the libpq URL, without the store's options
    schema: str | None = None
    tenant: str = "default"
    pool_max: int = 4
    retention_days: float | None = None

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        """Split ``url``; raises ValueError for a bad option value."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        options = {key: value for key, value in query if key in _OPTIONS}
        for key, pattern in (("schema", _SCHEMA), ("tenant", _TENANT)):
            if options.get(key) and not pattern.fullmatch(options[key]):
                raise ValueError(f"bad postgresql store URL option {key}={options[key]!r}")
        rest = urlencode([(key, value) for key, value in query if key not in _OPTIONS])
        try:
            return cls(
                conninfo=urlunsplit(parts._replace(scheme="postgresql", query=rest)),
                schema=options.get("schema") or None,
                tenant=options.get("tenant") or "default",
                pool_max=int(options.get("pool_max") or 4),
                retention_days=(
                    float(options["retention_days"]) if options.get("retention_days") else None
                ),
            )
        except ValueError as error:
            raise ValueError(f"bad postgresql store URL option: {error}") from None

    def connect_kwargs(self) -> dict[str, Any]:
        """psycopg.connect keyword arguments: autocommit, the schema and tenant settings."""
        settings = {"oracle.tenant_id": self.tenant}
        if self.schema is not None:
            settings["search_path"] = f'"{self.schema}"'
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        return {"options": options, "autocommit": True}

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection (outside any pool)."""
        conn = psycopg.connect(self.conninfo, **self.connect_kwargs())
        configure(conn)
        return conn


def configure(conn: psycopg.Connection[Any]) -> None:
    """Adapt a new connection: bytes go through psycopg's C dumper. (The one registered for
    bytea by default also accepts DB-API ``Binary`` wrappers, in Python: it measured as a
    quarter of the writer's time in a binary ``COPY``.)"""
    conn.adapters.register_dumper(bytes, BytesBinaryDumper)


class PostgresStore:
    """A `Store` in PostgreSQL; see the module docstring for the URL and the guarantees.

    ``migrate``: apply the shipped migrations first (``oracle-monitor migrate`` does it
    alone); when false, a schema that is not up to date is an error.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = StoreURL.parse(url)
        with self.url.connect() as conn:
            if migrate:
                migrations.migrate(conn, schema=self.url.schema)
            else:
                missing = migrations.pending(conn)
                if missing:
                    raise RuntimeError(
                        f"the database schema lacks {len(missing)} migration(s)"
                        f" ({missing[0].filename} first): run `oracle-monitor migrate`"
                    )
        self.tenant = self.url.tenant
        self.retention_days = self.url.retention_days
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url.conninfo,
            min_size=1,
            max_size=self.url.pool_max,
            kwargs=self.url.connect_kwargs(),
            configure=configure,
            open=True,
            name="oracle-store",
        )
        self._writer = SpanBatchWriter(self.tenant)
        self._days: set[int] = set()  # days known to have a partition
        self._closed = threading.Event()
        self._maintenance: threading.Thread | None = None
        if self.retention_days is not None:
            self._maintenance = threading.Thread(
                target=self._retention_loop, name="oracle-store retention", daemon=True
            )
            self._maintenance.start()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        if self._closed.is_set():
            raise psycopg.InterfaceError("the store is closed")
        with self._pool.connection() as conn:
            yield conn

    # -- writers --------------------------------------------------------------------------

    def write_spans(self, spans: Sequence[Span]) -> None:
        """Store ``spans`` in one transaction; idempotent on ``(trace_id, span_id)``."""
        if not spans:
            return
        unique = list({(s.trace_id, s.span_id): s for s in reversed(spans)}.values())
        unique.reverse()  # the first of each id wins, as a stored span would
        days = span_days(unique)
        with self._conn() as conn:
            if not days <= self._days:
                ensure_partitions(conn, days)
                self._days |= days
            try:
                self._writer.write(conn, unique)
            except psycopg.errors.CheckViolation as error:
                if "no partition" not in str(error):
                    raise
                # Retention (maybe in another process) dropped a day this batch writes to.
                self._days.clear()
                ensure_partitions(conn, days)
                self._days |= days
                self._writer.write(conn, unique)
            except psycopg.DataError as error:
                if "NUL" not in str(error) and "0x00" not in str(error):
                    raise
                # A NUL character in a text field, which PostgreSQL text cannot hold: written
                # as U+FFFD rather than losing the batch (attributes keep theirs, as JSON).
                self._writer.write(conn, [without_nul(span) for span in unique])

    def write_events(self, events: Sequence[InfraEvent]) -> None:
        """Store ``events`` in one transaction; idempotent on ``event_id``."""
        if events:
            with self._conn() as conn:
                insert_events(conn, self.tenant, events)

    def write_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        """Store ``snapshot`` at ``timestamp_ns``; idempotent on the timestamp."""
        with self._conn() as conn:
            insert_snapshot(conn, self.tenant, timestamp_ns, snapshot)

    def drop_expired(self, now_ns: int | None = None) -> list[str]:
        """Apply retention now: drop the day partitions older than ``retention_days``."""
        if self.retention_days is None:
            return []
        now_ns = time.time_ns() if now_ns is None else now_ns
        with self._conn() as conn:
            dropped = drop_before(conn, now_ns - int(self.retention_days * DAY_NS))
        self._days.clear()
        return dropped

    def _retention_loop(self) -> None:
        while not self._closed.is_set():
            try:
                dropped = self.drop_expired()
                if dropped:
                    _log.info("retention dropped %s", ", ".join(dropped))
            except psycopg.Error:
                _log.exception("retention failed; retrying in an hour")
            self._closed.wait(3600)

    # -- readers --------------------------------------------------------------------------

    def get_trace(self, trace_id: str) -> list[Span]:
        """All spans of the trace, ordered by start time then span id; ``[]`` if unknown."""
        with self._conn() as conn:
            return reader.get_trace(conn, trace_id)

    def get_task(self, task_id: str) -> list[Span]:
        """All spans of the traces that carry ``task_id``, by start time then span id."""
        with self._conn() as conn:
            return reader.get_task(conn, task_id)

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Summaries of matching traces, newest start first, at most ``query.limit``."""
        with self._conn() as conn:
            return reader.find_traces(conn, query)

    def count_spans(self) -> int:
        """How many spans are stored."""
        with self._conn() as conn:
            return reader.count_spans(conn)

    def services(self) -> list[str]:
        """Every service name of a stored span, sorted."""
        with self._conn() as conn:
            return search.services(conn)

    def operations(self, service: str, kind: SpanKind | None = None) -> list[Operation]:
        """``service``'s (span name, kind) pairs, by name then kind."""
        with self._conn() as conn:
            return search.operations(conn, service, kind)

    def service_dependencies(self, start_ns: int, end_ns: int) -> list[ServiceDependency]:
        """Parent -> child service calls in the traces starting in [start, end]."""
        with self._conn() as conn:
            return search.service_dependencies(conn, start_ns, end_ns)

    def llm_costs(
        self, group_by: CostGrouping, start_ns: int | None = None, end_ns: int | None = None
    ) -> list[CostGroup]:
        """LLM usage and cost per agent, model or provider; costliest group first."""
        with self._conn() as conn:
            return llm.llm_costs(conn, group_by, start_ns, end_ns)

    def llm_problems(self, start_ns: int, end_ns: int) -> list[LLMProblem]:
        """Rate-limited or failed LLM calls in [start, end], oldest first."""
        with self._conn() as conn:
            return llm.llm_problems(conn, start_ns, end_ns)

    def find_events(self, query: EventQuery) -> list[InfraEvent]:
        """Events matching ``query``, newest first, at most ``query.limit``."""
        with self._conn() as conn:
            return reader.find_events(conn, query)

    def recent_agent_activity(self, since_ns: int, limit: int = 10000) -> list[AgentActivity]:
        """Agents' spans started at or after ``since_ns`` as lean rows, newest first."""
        with self._conn() as conn:
            return timeline.recent_agent_activity(conn, since_ns, limit)

    def agent_seconds(self, since_ns: int, cursor: SecondsCursor | None = None) -> AgentSecondsRead:
        """The agent seconds from ``since_ns`` on written after ``cursor``."""
        with self._conn() as conn:
            return seconds.agent_seconds(conn, since_ns, cursor)

    def recent_agent_spans(self, since_ns: int, limit: int = 10000) -> list[Span]:
        """Agents' spans started at or after ``since_ns``, newest first, at most ``limit``."""
        with self._conn() as conn:
            return reader.recent_agent_spans(conn, since_ns, limit)

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert or update ``alerts`` by id, in one transaction."""
        if alerts:
            with self._conn() as conn:
                timeline.write_alerts(conn, self.tenant, alerts)

    def find_alerts(self, query: AlertQuery) -> list[Alert]:
        """Alerts matching ``query``, newest ``last_at`` first."""
        with self._conn() as conn:
            return timeline.find_alerts(conn, query)

    def thin_snapshots(self, start_ns: int, end_ns: int, step_ns: int) -> int:
        """Keep only the last snapshot of each ``step_ns`` bucket of [start, end)."""
        with self._conn() as conn:
            return timeline.thin_snapshots(conn, start_ns, end_ns, step_ns)

    def delete_snapshots_before(self, timestamp_ns: int) -> int:
        """Delete the snapshots taken before ``timestamp_ns``."""
        sql = "DELETE FROM system_snapshots WHERE timestamp_ns < %s"
        with self._conn() as conn:
            return timeline.delete(conn, sql, (timestamp_ns,))

    def delete_alerts_before(self, timestamp_ns: int) -> int:
        """Delete the alerts that last happened before ``timestamp_ns``."""
        with self._conn() as conn:
            return timeline.delete(
                conn, "DELETE FROM alerts WHERE last_at_ns < %s", (timestamp_ns,)
            )

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot, or ``None``."""
        with self._conn() as conn:
            return reader.latest_snapshot(conn)

    def snapshot_at(self, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
        """The last snapshot at or before ``timestamp_ns``, or ``None``."""
        with self._conn() as conn:
            return reader.snapshot_at(conn, timestamp_ns)

    def snapshot_series(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """The last snapshot of each ``step_ns`` bucket of [start, end], oldest first."""
        if step_ns <= 0:
            raise ValueError("step_ns must be positive")
        with self._conn() as conn:
            return reader.snapshot_series(conn, start_ns, end_ns, step_ns)

    def snapshot_series_text(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, str]]:
        """`snapshot_series`, each snapshot as JSON text."""
        if step_ns <= 0:
            raise ValueError("step_ns must be positive")
        with self._conn() as conn:
            return reader.snapshot_series_text(conn, start_ns, end_ns, step_ns)

    def close(self) -> None:
        """Stop the retention thread and close every connection; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._maintenance is not None:
            self._maintenance.join()
        self._pool.close()
