"""The SQLite store's system snapshots, alerts and retention (`SQLiteStore` mixes this in).

Snapshots are orjson text keyed by their unique timestamp; alerts one row each, updated in
place as they repeat. Writes go through the store's writer connection under its locks, reads
through the calling thread's reader connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import orjson

from oracle_monitor.model import Alert
from oracle_monitor.store import sqlite_schema as schema
from oracle_monitor.store.base import AgentActivity, AlertQuery
from oracle_monitor.store.codec import activity_row

_MIN: int = -(2**63)
_MAX: int = 2**63 - 1


class TimelineMixin:
    """Snapshot, alert and retention methods over the store's connections."""

    _write_lock: threading.Lock
    _process_lock: Any  # a context manager (the file lock between writing processes)
    _writer: sqlite3.Connection

    def _check_open(self) -> None:
        raise NotImplementedError

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _write(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row in one transaction; the rows changed."""
        with self._write_lock, self._process_lock:
            self._check_open()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = conn.executemany(sql, rows).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return max(changed, 0)

    def write_snapshot(self, timestamp_ns: int, snapshot: dict[str, Any]) -> None:
        """Store ``snapshot`` at ``timestamp_ns``; idempotent on the timestamp."""
        text = orjson.dumps(snapshot).decode()
        with self._write_lock, self._process_lock:
            self._check_open()
            self._writer.execute(schema.INSERT_SNAPSHOT, (timestamp_ns, text))

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot, or ``None``."""
        row = self._reader().execute(schema.LATEST_SNAPSHOT).fetchone()
        return None if row is None else (row[0], orjson.loads(row[1]))

    def snapshot_at(self, timestamp_ns: int) -> tuple[int, dict[str, Any]] | None:
        """The last snapshot at or before ``timestamp_ns``, or ``None``."""
        row = self._reader().execute(schema.SNAPSHOT_AT, (timestamp_ns,)).fetchone()
        return None if row is None else (row[0], orjson.loads(row[1]))

    def snapshot_series(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """The last snapshot of each ``step_ns`` bucket of [start, end], oldest first."""
        return [
            (ts, orjson.loads(text))
            for ts, text in self.snapshot_series_text(start_ns, end_ns, step_ns)
        ]

    def snapshot_series_text(
        self, start_ns: int, end_ns: int, step_ns: int
    ) -> list[tuple[int, str]]:
        """`snapshot_series`, each snapshot as its stored JSON text."""
        if step_ns <= 0:
            raise ValueError("step_ns must be positive")
        params = (start_ns, end_ns, step_ns)
        return [(row[0], row[1]) for row in self._reader().execute(schema.SNAPSHOT_SERIES, params)]

    def recent_agent_activity(self, since_ns: int, limit: int = 10000) -> list[AgentActivity]:
        """Agents' spans started at or after ``since_ns`` as lean rows, newest first."""
        if limit <= 0:
            return []
        rows = self._reader().execute(schema.SELECT_AGENT_ACTIVITY, (since_ns, limit)).fetchall()
        return [activity_row(row) for row in rows]

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert or update ``alerts`` by id, in one transaction."""
        if alerts:
            rows = [
                (a.alert_id, a.kind, a.severity, a.first_at_ns, a.last_at_ns, a.entity,
                 a.summary, a.count, a.trace_id, a.task_id)
                for a in alerts
            ]  # fmt: skip
            self._write(schema.UPSERT_ALERT, rows)

    def find_alerts(self, query: AlertQuery) -> list[Alert]:
        """Alerts overlapping [start, end] of the given severities, newest last_at first."""
        if query.limit <= 0:
            return []
        where = "last_at_ns >= ? AND first_at_ns <= ?"
        params: list[Any] = [
            _MIN if query.start_ns is None else query.start_ns,
            _MAX if query.end_ns is None else query.end_ns,
        ]
        if query.severities is not None:
            where += f" AND severity IN ({', '.join('?' * len(query.severities))})"
            params.extend(query.severities)
        sql = (
            f"SELECT {', '.join(schema.ALERT_COLUMNS)} FROM alerts WHERE {where}"
            " ORDER BY last_at_ns DESC, alert_id LIMIT ?"
        )
        rows = self._reader().execute(sql, [*params, query.limit]).fetchall()
        return [
            Alert(alert_id=r[0], kind=r[1], severity=r[2], first_at_ns=r[3], last_at_ns=r[4],
                  entity=r[5], summary=r[6], count=r[7], trace_id=r[8], task_id=r[9])
            for r in rows
        ]  # fmt: skip

    def thin_snapshots(self, start_ns: int, end_ns: int, step_ns: int) -> int:
        """Keep only the last snapshot of each ``step_ns`` bucket of [start, end)."""
        if step_ns <= 0:
            raise ValueError("step_ns must be positive")
        return self._write(schema.THIN_SNAPSHOTS, [(start_ns, end_ns, start_ns, end_ns, step_ns)])

    def delete_snapshots_before(self, timestamp_ns: int) -> int:
        """Delete the snapshots taken before ``timestamp_ns``."""
        sql = "DELETE FROM system_snapshots WHERE timestamp_ns < ?"
        return self._write(sql, [(timestamp_ns,)])

    def delete_alerts_before(self, timestamp_ns: int) -> int:
        """Delete the alerts that last happened before ``timestamp_ns``."""
        return self._write("DELETE FROM alerts WHERE last_at_ns < ?", [(timestamp_ns,)])
