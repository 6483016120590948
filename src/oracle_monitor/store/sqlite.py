"""The embedded span store: one SQLite file in WAL mode.

Layout. ``traces`` holds one summary row per trace; its integer key ``trace_key`` is handed out
in arrival order and the random 16-byte ``trace_id`` has a unique index. ``spans`` is a rowid
table with the fields of `Span` as columns (span ids as BLOBs, times as integer nanoseconds)
and attributes, events and links as JSON text (`oracle_monitor.store.codec`); it refers to its
trace by ``trace_key`` and is unique on ``(trace_key, span_id)``. Resources are stored once in
``resources``, keyed by a fingerprint of their attributes. Keying spans by ``trace_key`` rather
than ``trace_id`` keeps all but one B-tree insert near the end of its tree, so the pages a
batch dirties (and the WAL and checkpoint traffic) stay flat as the file grows.
The schema, its migrations and the SQL text are in `oracle_monitor.store.sqlite_schema`.
Each batch also updates what the snapshot loop reads of the agents, per agent and second
(`oracle_monitor.store.sqlite_seconds`).

Durability: every `SQLiteStore.write_spans` is one transaction. With WAL and the default
``synchronous="NORMAL"`` a returned write survives the process being killed (``kill -9``), but
the last transactions may be lost if the machine loses power or the OS crashes; pass
``synchronous="FULL"`` to be safe against that too, at the cost of an fsync per write.

Threads: one writer connection, used under a lock; each reading thread gets its own
connection, so readers run while a write is in progress and see only committed batches. A
background thread checkpoints the WAL into the database file (SQLite's automatic checkpoint
would do it inside a commit; that measured 10-30% slower writes at 1M spans); should
it fall behind, the writer checkpoints itself once the WAL passes `schema.WAL_LIMIT_BYTES`.

Processes: several processes may write one file (the server's ingest workers do); a file lock
beside the database hands the write transaction from one to the next without polling.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import sqlite3
import threading
import time

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy waiting serialises the writers
    fcntl = None  # type: ignore[assignment]
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from oracle_monitor.model import Attributes, InfraEvent, Severity, Span, SpanKind, StatusCode
from oracle_monitor.store import codec
from oracle_monitor.store import sqlite_schema as schema
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
from oracle_monitor.store.base import (
    AgentSecond,
    EventQuery,
    Operation,
    ServiceDependency,
    TraceQuery,
    TraceSummary,
)
from oracle_monitor.store.llm_calls import LLMKey, Sums, add_sums, fold_calls
from oracle_monitor.store.sqlite_llm import LLMCallsMixin, problem_rows, settled_moves, write_calls
from oracle_monitor.store.sqlite_search import span_conditions
from oracle_monitor.store.sqlite_seconds import SecondsFeedMixin, backfill, prune, write_seconds
from oracle_monitor.store.sqlite_timeline import TimelineMixin
from oracle_monitor.store.summaries import TraceAggregate, aggregate_spans, merge_aggregates

__all__ = ["SQLiteStore"]

_log = logging.getLogger(__name__)

_SEP: Final = "\x1f"  # delimits the names in traces.services / traces.agents
_CHUNK: Final = 500  # keys per "IN (...)" query
_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
#: sqlite3 binds None, bytes and int subclasses through a slow adapter lookup (~0.6 us each),
#: exact float/int/str/bytearray directly; so rows carry NaN for NULL (SQLite stores a NaN as
#: NULL), bytearray ids and int() enums.
NULL: Final = math.nan


@functools.cache
def _values_sql(statement: tuple[str, str], width: int, rows: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return f"{statement[0]} VALUES {','.join([row] * rows)} {statement[1]}"


def _insert(
    conn: sqlite3.Connection, statement: tuple[str, str], width: int, values: list[Any]
) -> int:
    """Insert rows given as one flat list (``width`` values each); returns the rows changed.

    Many rows per statement rather than ``executemany``: sqlite3 releases and retakes the GIL
    around every statement step, and with a busy decoder thread each retake can wait for the
    GIL switch interval; ``executemany`` measured several times slower under such load.
    """
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    changed = start = 0
    for rows in schema.ROWS_PER_INSERT:
        step = rows * width
        while step <= limit and len(values) - start >= step:
            sql = _values_sql(statement, width, rows)
            changed += conn.execute(sql, values[start : start + step]).rowcount
            start += step
    return changed


def _in_chunks(keys: Sequence[Any]) -> Iterable[tuple[str, Sequence[Any]]]:
    for i in range(0, len(keys), _CHUNK):
        part = keys[i : i + _CHUNK]
        yield "(" + ",".join("?" * len(part)) + ")", part


def _names(text: str) -> tuple[str, ...]:
    return tuple(text[1:-1].split(_SEP)) if text else ()


def _name_set(names: Iterable[str]) -> str:
    cleaned = sorted(name.replace(_SEP, " ") for name in names)
    return f"{_SEP}{_SEP.join(cleaned)}{_SEP}" if cleaned else ""


def _summary_values(agg: TraceAggregate, trace_key: int) -> tuple[Any, ...]:
    return (
        trace_key, bytearray.fromhex(agg.trace_id), agg.start_time_ns, agg.end_time_ns,
        agg.root_name, agg.root_service, int(agg.root_seen), agg.root_start_ns,
        agg.span_count, agg.error_count, agg.input_tokens, agg.output_tokens,
        _name_set(agg.services), _name_set(agg.agents),
    )  # fmt: skip


def _span_from_row(trace_id: str, row: Sequence[Any]) -> Span:
    fields = dict(zip(schema.SPAN_COLUMNS[7:], row[6:], strict=True))
    fields["kind"] = SpanKind(fields["kind"])
    fields["status_code"] = StatusCode(fields["status_code"])
    fields["rate_limited"] = bool(fields["rate_limited"])
    return Span(
        trace_id=trace_id,
        span_id=row[0].hex(),
        parent_span_id=row[1].hex() if row[1] else "",
        resource=codec.decode_attributes(row[2]),
        attributes=codec.decode_attributes(row[3]),
        events=codec.decode_events(row[4]),
        links=codec.decode_links(row[5]),
        **fields,
    )


class _WriterFileLock:
    """An exclusive lock between the processes writing one database (the ingest workers).

    SQLite serialises writers itself, but a writer that finds the database locked sleeps and
    polls (1 ms, then 2, 5, … up to 100 ms), which leaves cores idle; ``flock`` wakes the next
    writer the moment the lock is free. The kernel releases it when a process dies.
    """

    def __init__(self, path: Path) -> None:
        self._file = path.open("a") if fcntl is not None else None

    def __enter__(self) -> None:
        if self._file is not None and fcntl is not None:
            fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._file is not None and fcntl is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class SQLiteStore(TimelineMixin, SecondsFeedMixin, LLMCallsMixin):
    """A `Store` in one SQLite file (WAL mode); see the module docstring for the guarantees.

    ``path``: the database file; missing parent directories are created. ``synchronous``: the
    SQLite ``synchronous`` pragma, ``"NORMAL"`` (survives process crashes) or ``"FULL"``
    (survives power loss too).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous.upper()
        self._write_lock = threading.Lock()
        self._process_lock = _WriterFileLock(Path(f"{self.path}-writer.lock"))
        self._readers_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._resource_ids: dict[str, int] = {}  # sorted resource JSON -> resources.id
        self._operations: set[tuple[str, str, int]] = set()  # known to be in `operations`
        self._closed = False
        self._writer = self._connect(schema.WRITER_CACHE_KIB, schema.WRITER_PRAGMAS)
        try:
            self._migrate()
        except BaseException:
            self._writer.close()
            raise
        self._unchecked_spans = 0  # written since the last checkpoint request
        self._checkpoint_due = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name=f"checkpoint {self.path.name}", daemon=True
        )
        self._checkpointer.start()

    def _connect(self, cache_kib: int, pragmas: Iterable[str]) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "busy_timeout = 10000",
            f"synchronous = {self._synchronous}",
            f"cache_size = -{cache_kib}",
            "temp_store = MEMORY",
            f"mmap_size = {schema.MMAP_BYTES}",
            *pragmas,
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    def _migrate(self) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(schema.MIGRATIONS):
                raise RuntimeError(f"{self.path}: schema version {version} is newer than this")
            for number, script in enumerate(schema.MIGRATIONS[version:], start=version + 1):
                for statement in schema.statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            if version < schema.AGENT_SECONDS_VERSION <= len(schema.MIGRATIONS):
                backfill(conn, time.time_ns() - schema.AGENT_SECONDS_BACKFILL_NS)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_open(self) -> None:
        if self._closed:
            raise sqlite3.ProgrammingError("the store is closed")

    def write_spans(self, spans: Sequence[Span]) -> None:
        """Store ``spans`` in one transaction; idempotent on ``(trace_id, span_id)``."""
        if not spans:
            return
        # Spans that need no attribution have their agent seconds worked out before the lock.
        early = fold_spans(spans) if attributed(spans) else None
        with self._write_lock, self._process_lock:
            self._check_open()
            conn = self._writer
            new_resources: dict[str, int] = {}
            conn.execute("BEGIN IMMEDIATE")
            try:
                stored, keys = self._load(conn, list(dict.fromkeys(s.trace_id for s in spans)))
                last_row = conn.execute("SELECT max(id) FROM spans").fetchone()[0] or 0
                known = dict(keys)  # the traces stored before this batch
                pending = attribute_batch(
                    spans, lambda wanted: self._stored_attribution(conn, known, wanted)
                )
                batch = aggregate_spans(spans)
                next_key = conn.execute("SELECT max(trace_key) FROM traces").fetchone()[0] or 0
                for trace_id in batch:
                    if trace_id not in keys:
                        next_key += 1
                        keys[trace_id] = next_key
                values = self._span_values(conn, spans, keys, new_resources)
                inserted = _insert(conn, schema.INSERT_SPAN, len(schema.SPAN_COLUMNS), values)
                # A settled span inherits its task from a span of its trace, of this batch or
                # stored before: the (task, trace) pairs are those the spans carry.
                tasks = {(s.task_id, keys[s.trace_id]) for s in spans if s.task_id is not None}
                _insert(conn, schema.INSERT_TRACE_TASK, 2, [v for pair in tasks for v in pair])
                named, settled, moved = self._settle(conn, known, spans, pending)
                _insert(conn, schema.INSERT_PENDING, 3, [
                    v for p in pending
                    for v in (keys[p.trace_id], bytearray.fromhex(p.missing_span_id),
                              bytearray.fromhex(p.span_id))
                ])  # fmt: skip
                if inserted == len(spans):
                    merged = merge_aggregates(stored, batch)
                    for agg in merged:
                        agg.agents |= named.get(agg.trace_id, set())
                else:  # duplicates: count the spans actually stored
                    merged = self._recompute(conn, keys) if inserted or named else []
                rows = [v for agg in merged for v in _summary_values(agg, keys[agg.trace_id])]
                _insert(conn, schema.UPSERT_TRACE, len(schema.TRACE_COLUMNS), rows)
                # A SpanKind equals and hashes as its number: int() only for the new ones.
                seen = {(s.service_name, s.name, s.kind) for s in spans}
                seen -= self._operations
                operations = {(service, name, int(kind)) for service, name, kind in seen}
                flat = [value for operation in operations for value in operation]
                _insert(conn, schema.INSERT_OPERATION, 3, flat)
                fresh = (
                    spans
                    if inserted == len(spans)
                    else self._stored_now(conn, keys, spans, last_row)
                )
                if early is None or fresh is not spans:
                    early = fold_spans(fresh)
                write_seconds(conn, merge_seconds(early, settled))
                write_calls(conn, add_sums(fold_calls(fresh), moved))
                _insert(conn, schema.INSERT_LLM_PROBLEM, 3, problem_rows(fresh, keys))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if len(self._resource_ids) > 10000:
                self._resource_ids.clear()
            self._resource_ids.update(new_resources)
            if len(self._operations) > 10000:
                self._operations.clear()
            self._operations |= operations
            self._unchecked_spans += len(spans)
            if self._unchecked_spans >= schema.CHECKPOINT_EVERY_SPANS:
                self._unchecked_spans = 0
                self._checkpoint_due.set()
                try:  # the batch is committed: a failed pruning waits for the next one
                    prune(conn, time.time_ns())
                except sqlite3.Error:
                    _log.exception("pruning the agent seconds of %s failed", self.path)
                with contextlib.suppress(OSError):
                    if os.stat(f"{self.path}-wal").st_size > schema.WAL_LIMIT_BYTES:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @staticmethod
    def _stored_attribution(
        conn: sqlite3.Connection, keys: dict[str, int], wanted: Collection[SpanKey]
    ) -> dict[SpanKey, Inherited]:
        """What the stored spans among ``wanted`` pass down (`attribution.Lookup`)."""
        by_trace: dict[str, list[bytearray]] = {}
        for trace_id, span_id in wanted:
            if trace_id in keys:
                by_trace.setdefault(trace_id, []).append(bytearray.fromhex(span_id))
        found: dict[SpanKey, Inherited] = {}
        for trace_id, span_ids in by_trace.items():
            key = keys[trace_id]
            for marks, part in _in_chunks(span_ids):
                for stored_id, agent, agent_from, task, waiting in conn.execute(
                    schema.SELECT_ATTRIBUTION + marks, (key, key, *part)
                ):  # stored_id: the span id's bytes (span_id above is hex text)
                    found[(trace_id, stored_id.hex())] = Inherited.of_stored(
                        stored_id.hex(), agent, agent_from, task, waiting and waiting.hex()
                    )
        return found

    @staticmethod
    def _settle(
        conn: sqlite3.Connection,
        keys: dict[str, int],
        spans: Sequence[Span],
        pending: Sequence[Pending],
    ) -> tuple[dict[str, set[str]], dict[Key, AgentSecond], dict[LLMKey, Sums]]:
        """Attribute the stored spans that waited for spans of this (attributed) batch, whose
        own waiting rows are ``pending``; returns the agent names they got, per trace, their
        agent seconds (`agent_seconds.fold_settled`), and the moves of the sums of those that
        are LLM calls and got their agent (`sqlite_llm.settled_moves`)."""
        ids: dict[str, list[bytearray]] = {}
        for span in spans:
            if span.trace_id in keys:
                ids.setdefault(span.trace_id, []).append(bytearray.fromhex(span.span_id))
        if not ids:
            return {}, {}, {}
        trace_of = {keys[trace_id]: trace_id for trace_id in ids}
        waiting_traces = [
            key
            for marks, part in _in_chunks(list(trace_of))
            for (key,) in conn.execute(schema.PENDING_TRACES + marks, part)
        ]
        rows: list[Pending] = []
        before: dict[tuple[str, str], Sequence[Any]] = {}  # the waiting spans as they are
        for key in waiting_traces:
            trace_id = trace_of[key]
            for marks, part in _in_chunks(ids[trace_id]):
                for row in conn.execute(schema.PENDING_ON + marks, (key, *part)):
                    span = row[1].hex()
                    rows.append(Pending(trace_id, row[0].hex(), span))
                    if row[3] is not None:  # stored
                        before[(trace_id, span)] = row[2:]
        named: dict[str, set[str]] = {}
        given: dict[str, dict[bytes, str]] = {}  # trace -> span id -> the agent it was given
        settlements = settle(rows, arrivals(spans, pending, {r.trace_id for r in rows}))
        for done in settlements:
            key, span_id = keys[done.trace_id], bytearray.fromhex(done.span_id)
            conn.execute(
                schema.SETTLE_SPAN, (done.agent_from, done.agent_name, done.task_id, key, span_id)
            )
            if done.pending_on is not None:
                conn.execute(
                    schema.REPENDING,
                    (bytearray.fromhex(done.pending_on), key, span_id),
                )
            if done.agent_name is not None:
                named.setdefault(done.trace_id, set()).add(done.agent_name)
                stored = before.get((done.trace_id, done.span_id))
                if stored is not None and stored[0] is None:  # it had no agent: now it has
                    given.setdefault(done.trace_id, {})[bytes(span_id)] = done.agent_name
        for row in rows:
            conn.execute(
                schema.DELETE_PENDING,
                (keys[row.trace_id], bytearray.fromhex(row.missing_span_id),
                 bytearray.fromhex(row.span_id)),
            )  # fmt: skip
        activity = fold_settled(before, settlements)
        moved: dict[LLMKey, Sums] = {}
        for trace_id, agents in given.items():
            add_sums(moved, settled_moves(conn, keys[trace_id], trace_id, agents))
        return named, activity, moved

    @staticmethod
    def _stored_now(
        conn: sqlite3.Connection, keys: dict[str, int], spans: Sequence[Span], last_row: int
    ) -> list[Span]:
        """The spans of a batch that held duplicates which this batch stored (their rows
        come after ``last_row``), each once."""
        by_key = {(s.trace_id, s.span_id): s for s in reversed(spans)}  # the first one wins
        by_trace: dict[str, list[bytearray]] = {}
        for trace_id, span_id in by_key:
            by_trace.setdefault(trace_id, []).append(bytearray.fromhex(span_id))
        fresh: list[Span] = []
        for trace_id, span_ids in by_trace.items():
            for marks, part in _in_chunks(span_ids):
                params = (keys[trace_id], last_row, *part)
                for (stored_id,) in conn.execute(schema.STORED_AFTER + marks, params):
                    fresh.append(by_key[(trace_id, stored_id.hex())])
        return fresh

    def _checkpoint_loop(self) -> None:
        conn = self._connect(2048, ())
        try:
            while True:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                if self._closed:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    _log.exception("checkpointing %s failed", self.path)
        finally:
            conn.close()

    def _span_values(
        self,
        conn: sqlite3.Connection,
        spans: Sequence[Span],
        keys: dict[str, int],
        new_resources: dict[str, int],
    ) -> list[Any]:
        """The column values of ``spans``, row after row in one flat list."""
        by_object: dict[int, int] = {}  # id(resource dict) -> resources.id, for this batch
        encode, fromhex = codec.encode_attributes, bytearray.fromhex
        encode_events, encode_links, plain = (
            codec.encode_events,
            codec.encode_links,
            schema.plain_values,
        )
        values: list[Any] = []
        extend = values.extend
        for s in spans:
            resource_id = by_object.get(id(s.resource))
            if resource_id is None:
                resource_id = self._resource_id(conn, s.resource, new_resources)
                by_object[id(s.resource)] = resource_id
            extend(
                (keys[s.trace_id], fromhex(s.span_id),
                 fromhex(s.parent_span_id) if s.parent_span_id else NULL, resource_id,
                 encode(s.attributes) if s.attributes else NULL,
                 encode_events(s.events) if s.events else NULL,
                 encode_links(s.links) if s.links else NULL, int(s.kind), int(s.status_code),
                 *plain(s),
                 NULL if (v := s.agent_name) is None else v,
                 NULL if (v := s.provider) is None else v,
                 NULL if (v := s.model) is None else v,
                 NULL if (i := s.input_tokens) is None else i,
                 NULL if (i := s.output_tokens) is None else i,
                 NULL if (i := s.cache_read_tokens) is None else i,
                 NULL if (i := s.cache_creation_tokens) is None else i,
                 NULL if (i := s.reasoning_tokens) is None else i,
                 NULL if (v := s.pod_name) is None else v,
                 NULL if (v := s.namespace) is None else v,
                 NULL if (v := s.task_id) is None else v,
                 NULL if (v := s.agent_from) is None else v,
                 NULL if (c := s.cost_usd) is None else c,
                 1 if s.rate_limited else 0)
            )  # fmt: skip
        return values

    def _resource_id(
        self, conn: sqlite3.Connection, resource: Attributes, new_resources: dict[str, int]
    ) -> int:
        text = codec.encode_attributes(resource, sort_keys=True)
        resource_id = self._resource_ids.get(text) or new_resources.get(text)
        if resource_id is None:
            fingerprint = hashlib.blake2b(text.encode(), digest_size=16).digest()
            sql = "SELECT id FROM resources WHERE fingerprint = ?"
            found = conn.execute(sql, (fingerprint,)).fetchone()
            if found is None:
                sql = "INSERT INTO resources (fingerprint, attributes) VALUES (?, ?) RETURNING id"
                found = conn.execute(sql, (fingerprint, text)).fetchall()[0]
            resource_id = new_resources[text] = int(found[0])
        return resource_id

    @staticmethod
    def _load(
        conn: sqlite3.Connection, trace_ids: list[str]
    ) -> tuple[dict[str, TraceAggregate], dict[str, int]]:
        """The stored aggregates and keys of those of ``trace_ids`` that are stored."""
        stored: dict[str, TraceAggregate] = {}
        keys: dict[str, int] = {}
        for marks, ids in _in_chunks([bytearray.fromhex(t) for t in trace_ids]):
            columns = ", ".join(schema.TRACE_COLUMNS)
            for row in conn.execute(f"SELECT {columns} FROM traces WHERE trace_id IN {marks}", ids):
                trace_id = row[1].hex()
                keys[trace_id] = row[0]
                stored[trace_id] = TraceAggregate(
                    trace_id=trace_id, start_time_ns=row[2], end_time_ns=row[3],
                    root_name=row[4], root_service=row[5], root_seen=bool(row[6]),
                    root_start_ns=row[7], span_count=row[8], error_count=row[9],
                    input_tokens=row[10], output_tokens=row[11],
                    services=set(_names(row[12])), agents=set(_names(row[13])),
                )  # fmt: skip
        return stored, keys

    @staticmethod
    def _recompute(conn: sqlite3.Connection, keys: dict[str, int]) -> list[TraceAggregate]:
        """Aggregates of the traces in ``keys`` (trace id -> key), from their stored spans."""
        result = {key: TraceAggregate.empty(trace_id) for trace_id, key in keys.items()}
        for marks, part in _in_chunks(list(result)):
            for key, root, name, svc, agent, start, end, status, tin, tout in conn.execute(
                schema.RECOMPUTE + marks, part
            ):
                result[key].add(
                    is_root=bool(root), name=name, service=svc, agent=agent,
                    start_time_ns=start, end_time_ns=end,
                    is_error=status == StatusCode.ERROR, input_tokens=tin, output_tokens=tout,
                )  # fmt: skip
        return [agg for agg in result.values() if agg.span_count]

    def _reader(self) -> sqlite3.Connection:
        self._check_open()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(schema.READER_CACHE_KIB, ("query_only = 1",))
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def get_trace(self, trace_id: str) -> list[Span]:
        """All spans of the trace, ordered by start time then span id; ``[]`` if unknown."""
        try:
            key = bytes.fromhex(trace_id)
        except ValueError:
            return []
        rows = self._reader().execute(schema.SELECT_SPANS, (key,)).fetchall()
        return [_span_from_row(key.hex(), row) for row in rows]

    def get_task(self, task_id: str) -> list[Span]:
        """All spans of the traces that carry ``task_id``, by start time then span id."""
        traces = self._reader().execute(schema.SELECT_TASK_TRACES, (task_id,)).fetchall()
        spans = [span for (trace_id,) in traces for span in self.get_trace(trace_id.hex())]
        return sorted(spans, key=lambda span: (span.start_time_ns, span.span_id))

    def find_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Summaries of matching traces, newest start first, at most ``query.limit``."""
        if query.limit <= 0:
            return []
        where: list[str] = ["1"]
        params: list[Any] = []
        for column, name in (("services", query.service), ("agents", query.agent)):
            if name is not None:
                where.append(f"instr({column}, ?) > 0")
                params.append(_name_set([name]))
        if query.status is not None:
            where.append("error_count > 0" if query.status == "error" else "error_count = 0")
        for bound, op in ((query.start_ns, ">="), (query.end_ns, "<=")):
            if bound is not None:
                where.append(f"start_time_ns {op} ?")
                params.append(bound)
        condition, condition_params = span_conditions(query)
        where.append(condition)
        params += condition_params
        sql = (
            f"SELECT {', '.join(schema.TRACE_COLUMNS[1:])} FROM traces WHERE {' AND '.join(where)}"
            " ORDER BY start_time_ns DESC, trace_key DESC LIMIT ?"
        )
        return [
            TraceSummary(
                trace_id=r[0].hex(), start_time_ns=r[1], end_time_ns=r[2], root_name=r[3],
                root_service=r[4], span_count=r[7], error_count=r[8], input_tokens=r[9],
                output_tokens=r[10], services=_names(r[11]), agents=_names(r[12]),
            )
            for r in self._reader().execute(sql, [*params, query.limit]).fetchall()
        ]  # fmt: skip

    def services(self) -> list[str]:
        """Every service name of a stored span, sorted."""
        return [row[0] for row in self._reader().execute(schema.SELECT_SERVICES).fetchall()]

    def operations(self, service: str, kind: SpanKind | None = None) -> list[Operation]:
        """``service``'s (span name, kind) pairs, by name then kind."""
        value = None if kind is None else int(kind)
        rows = self._reader().execute(schema.SELECT_OPERATIONS, (service, value, value))
        return [Operation(name, SpanKind(number)) for name, number in rows.fetchall()]

    def service_dependencies(self, start_ns: int, end_ns: int) -> list[ServiceDependency]:
        """Parent -> child service calls in the traces starting in [start, end]."""
        rows = self._reader().execute(schema.SELECT_DEPENDENCIES, (start_ns, end_ns))
        return [ServiceDependency(*row) for row in rows.fetchall()]

    def write_events(self, events: Sequence[InfraEvent]) -> None:
        """Store ``events`` in one transaction; idempotent on ``event_id``."""
        if not events:
            return
        rows = [
            (e.event_id, e.time_ns, e.source, e.kind, e.entity, str(e.severity), e.summary,
             codec.encode_attributes(e.attributes) if e.attributes else None)
            for e in events
        ]  # fmt: skip
        with self._write_lock, self._process_lock:
            self._check_open()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(schema.INSERT_EVENT, rows)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def find_events(self, query: EventQuery) -> list[InfraEvent]:
        """Events matching ``query``, newest first, at most ``query.limit``."""
        if query.limit <= 0:
            return []
        where: list[str] = ["1"]
        params: list[Any] = []
        for column, value in (("source", query.source), ("kind", query.kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.entity is not None:
            if query.entity.endswith("*"):
                where.append("entity >= ? AND entity < ?")
                prefix = query.entity[:-1]
                params += [prefix, prefix + "\U0010ffff"]
            else:
                where.append("entity = ?")
                params.append(query.entity)
        for bound, op in ((query.start_ns, ">="), (query.end_ns, "<=")):
            if bound is not None:
                where.append(f"time_ns {op} ?")
                params.append(bound)
        sql = (
            f"SELECT {', '.join(schema.EVENT_COLUMNS)} FROM infra_events"
            f" WHERE {' AND '.join(where)} ORDER BY time_ns DESC, event_id LIMIT ?"
        )
        return [
            InfraEvent(
                event_id=row[0], time_ns=row[1], source=row[2], kind=row[3], entity=row[4],
                severity=Severity(row[5]), summary=row[6],
                attributes=codec.decode_attributes(row[7]),
            )
            for row in self._reader().execute(sql, [*params, query.limit]).fetchall()
        ]  # fmt: skip

    def recent_agent_spans(self, since_ns: int, limit: int = 10000) -> list[Span]:
        """Agents' spans started at or after ``since_ns``, newest first, at most ``limit``."""
        if limit <= 0:
            return []
        rows = self._reader().execute(schema.SELECT_AGENT_SPANS, (since_ns, limit)).fetchall()
        return [_span_from_row(row[0].hex(), row[1:]) for row in rows]

    def count_spans(self) -> int:
        """How many spans are stored."""
        count: int = self._reader().execute("SELECT count(*) FROM spans").fetchone()[0]
        return count

    def close(self) -> None:
        """Close the writer and every reader connection; idempotent."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            self._checkpoint_due.set()
            self._checkpointer.join()
            try:
                # optimize may analyse (a write): other processes' writers wait on the file
                # lock, else a read snapshot they outdate fails at once ("database is locked").
                with self._process_lock:
                    self._writer.execute("PRAGMA optimize")
            finally:
                self._writer.close()
                self._process_lock.close()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
