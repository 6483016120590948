"""The SQLite store's schema, tuning and SQL text (`oracle_monitor.store.sqlite` uses them).

``PRAGMA user_version`` is the schema version; `MIGRATIONS` has one script per version, applied
in order by `SQLiteStore` when it opens a file. Add a version by appending a script, never by
editing one that has shipped.
"""

from __future__ import annotations

import sqlite3
from operator import attrgetter
from typing import Final

from oracle_monitor.store.agent_seconds import ATTRIBUTE_MARKS, STORED_COLUMNS
from oracle_monitor.store.llm_calls import FIELDS as LLM_FIELDS

PLAIN: Final = (  # `Span` fields never None, in columns of the same name
    "name", "start_time_ns", "end_time_ns", "status_message", "trace_state", "flags",
    "dropped_attributes_count", "dropped_events_count", "dropped_links_count", "scope_name",
    "scope_version", "service_name",
)  # fmt: skip
plain_values: Final = attrgetter(*PLAIN)
OPTIONAL: Final = (  # `Span` fields that may be None, in columns of the same name
    "agent_name", "provider", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_creation_tokens", "reasoning_tokens", "pod_name", "namespace", "task_id",
    "agent_from",
)  # fmt: skip
SPAN_COLUMNS: Final = ("trace_key", "span_id", "parent_span_id", "resource_id", "attributes",
                        "events", "links", "kind", "status_code", *PLAIN, *OPTIONAL,
                        "cost_usd", "rate_limited")  # fmt: skip
TRACE_COLUMNS: Final = (
    "trace_key", "trace_id", "start_time_ns", "end_time_ns", "root_name", "root_service",
    "root_seen", "root_start_ns", "span_count", "error_count", "input_tokens", "output_tokens",
    "services", "agents",
)  # fmt: skip
#: Said by a client's span of an attempt whose LLM proxy's span records it (usage, 429, error).
_NOT_PROXIED: Final = """json_extract(attributes, '$."oracle.llm.usage_reported_by"')
    IS NOT 'proxy'"""
#: An LLM call (`oracle_monitor.store.llm_calls.is_llm_call`): a span naming its provider with
#: token counts, a rate limit or an error (not the client's span of an attempt the proxy's
#: span records). ``provider IS NOT NULL`` lets SQLite use the partial index
#: ``spans_llm_start``.
LLM_CALL: Final = f"""provider IS NOT NULL AND (input_tokens IS NOT NULL
    OR output_tokens IS NOT NULL OR ((rate_limited OR status_code = 2) AND {_NOT_PROXIED}))"""
#: A rate-limited or failed LLM call (`oracle_monitor.store.llm_calls.is_problem`).
LLM_PROBLEM: Final = f"""provider IS NOT NULL
    AND (rate_limited OR json_extract(attributes, '$."error.type"') IS NOT NULL)
    AND {_NOT_PROXIED}"""
#: What `oracle_monitor.store.llm_calls.FIELDS` adds up, from the calls themselves.
LLM_SUMS: Final = """count(*), sum(rate_limited), sum(status_code = 2),
    sum(coalesce(input_tokens, 0)), sum(coalesce(output_tokens, 0)),
    sum(coalesce(cache_read_tokens, 0)), sum(coalesce(cache_creation_tokens, 0)),
    sum(coalesce(reasoning_tokens, 0)), total(cost_usd),
    sum(cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL))"""
MIGRATIONS: Final = (
    """
    CREATE TABLE resources (
        id INTEGER PRIMARY KEY, fingerprint BLOB NOT NULL UNIQUE, attributes TEXT NOT NULL);
    CREATE TABLE traces (
        trace_key INTEGER PRIMARY KEY, trace_id BLOB NOT NULL UNIQUE,
        start_time_ns INTEGER NOT NULL, end_time_ns INTEGER NOT NULL, root_name TEXT NOT NULL,
        root_service TEXT NOT NULL, root_seen INTEGER NOT NULL, root_start_ns INTEGER NOT NULL,
        span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        services TEXT NOT NULL, agents TEXT NOT NULL);
    CREATE INDEX traces_start ON traces (start_time_ns);
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY, trace_key INTEGER NOT NULL,
        span_id BLOB NOT NULL, parent_span_id BLOB,
        resource_id INTEGER NOT NULL REFERENCES resources (id),
        attributes TEXT, events TEXT, links TEXT, kind INTEGER NOT NULL,
        status_code INTEGER NOT NULL, name TEXT NOT NULL, start_time_ns INTEGER NOT NULL,
        end_time_ns INTEGER NOT NULL, status_message TEXT NOT NULL, trace_state TEXT NOT NULL,
        flags INTEGER NOT NULL, dropped_attributes_count INTEGER NOT NULL,
        dropped_events_count INTEGER NOT NULL, dropped_links_count INTEGER NOT NULL,
        scope_name TEXT NOT NULL, scope_version TEXT NOT NULL, service_name TEXT NOT NULL,
        agent_name TEXT, provider TEXT, model TEXT, input_tokens INTEGER,
        output_tokens INTEGER, cache_read_tokens INTEGER, cache_creation_tokens INTEGER,
        reasoning_tokens INTEGER, pod_name TEXT, namespace TEXT, task_id TEXT);
    CREATE UNIQUE INDEX spans_trace_span ON spans (trace_key, span_id);
    """,
    # 2: what LLM calls cost, and which were rate limited; an index of LLM calls by time.
    """
    ALTER TABLE spans ADD COLUMN cost_usd REAL;
    ALTER TABLE spans ADD COLUMN rate_limited INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX spans_llm_start ON spans (start_time_ns) WHERE provider IS NOT NULL;
    """,
    # 3: what the collectors saw.
    """
    CREATE TABLE infra_events (
        event_id TEXT PRIMARY KEY, time_ns INTEGER NOT NULL, source TEXT NOT NULL,
        kind TEXT NOT NULL, entity TEXT NOT NULL, severity TEXT NOT NULL,
        summary TEXT NOT NULL, attributes TEXT) WITHOUT ROWID;
    CREATE INDEX infra_events_time ON infra_events (time_ns);
    CREATE INDEX infra_events_entity ON infra_events (entity, time_ns);
    """,
    # 4: spans by task, for a task's causal chain.
    """
    CREATE INDEX spans_task ON spans (task_id) WHERE task_id IS NOT NULL;
    """,
    # 5: agents' recent spans by time; system snapshots (orjson text) for time travel.
    """
    CREATE INDEX spans_agent_start ON spans (start_time_ns, agent_name)
        WHERE agent_name IS NOT NULL;
    CREATE TABLE system_snapshots (
        id INTEGER PRIMARY KEY, timestamp_ns INTEGER NOT NULL UNIQUE, snapshot TEXT NOT NULL);
    """,
    # 6: the (service, span name, kind) triples seen, for the Jaeger API's services and
    # operations lists (a few rows, written once each, instead of a scan of every span).
    """
    CREATE TABLE operations (
        service_name TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
        PRIMARY KEY (service_name, name, kind)) WITHOUT ROWID;
    INSERT OR IGNORE INTO operations SELECT DISTINCT service_name, name, kind FROM spans;
    """,
    # 7: alerts, deduplicated (one row per alert, updated as it repeats).
    """
    CREATE TABLE alerts (
        alert_id TEXT PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL,
        first_at_ns INTEGER NOT NULL, last_at_ns INTEGER NOT NULL, entity TEXT NOT NULL,
        summary TEXT NOT NULL, count INTEGER NOT NULL, trace_id TEXT, task_id TEXT
    ) WITHOUT ROWID;
    CREATE INDEX alerts_last ON alerts (last_at_ns);
    """,
    # 8: agents and tasks by trace hierarchy (`oracle_monitor.store.attribution`): the span an
    # inherited agent name comes from, and the spans waiting for a missing ancestor.
    """
    ALTER TABLE spans ADD COLUMN agent_from TEXT;
    CREATE TABLE attribution_pending (
        trace_key INTEGER NOT NULL, missing_span_id BLOB NOT NULL, span_id BLOB NOT NULL,
        PRIMARY KEY (trace_key, missing_span_id, span_id)) WITHOUT ROWID;
    CREATE INDEX attribution_pending_span ON attribution_pending (trace_key, span_id);
    """,
    # 9: per agent and second of start time, what the agents' views need of their spans
    # (`oracle_monitor.store.agent_seconds`), kept by the writer; ``seq`` is the value of the
    # sequence of the batch that last changed it, for the snapshot loop's reads.
    """
    CREATE TABLE agent_seconds (
        second INTEGER NOT NULL, agent_name TEXT NOT NULL, seq INTEGER NOT NULL,
        spans INTEGER NOT NULL, latest_start INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, errors INTEGER NOT NULL,
        latest TEXT NOT NULL, PRIMARY KEY (second, agent_name)) WITHOUT ROWID;
    CREATE INDEX agent_seconds_seq ON agent_seconds (seq);
    CREATE TABLE agent_seconds_sequence (value INTEGER NOT NULL);
    INSERT INTO agent_seconds_sequence (value) VALUES (0);
    """,
    # 10: fewer index entries written per span. A task's traces are found through
    # ``trace_tasks`` (a row per task and trace) rather than an index entry per span; the
    # agents' recent spans are no longer read by time (the agent seconds answer the snapshot
    # loop), so their index goes.
    """
    CREATE TABLE trace_tasks (
        task_id TEXT NOT NULL, trace_key INTEGER NOT NULL,
        PRIMARY KEY (task_id, trace_key)) WITHOUT ROWID;
    INSERT OR IGNORE INTO trace_tasks
        SELECT task_id, trace_key FROM spans WHERE task_id IS NOT NULL;
    DROP INDEX IF EXISTS spans_task;
    DROP INDEX IF EXISTS spans_agent_start;
    """,
    # 11: LLM calls added up per second, provider, model and agent
    # (`oracle_monitor.store.llm_calls`; "" for no model or agent), and the problem calls.
    f"""
    CREATE TABLE llm_seconds (
        second INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL,
        agent_name TEXT NOT NULL, requests INTEGER NOT NULL, rate_limited INTEGER NOT NULL,
        errors INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL, cache_creation_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
        unpriced_requests INTEGER NOT NULL,
        PRIMARY KEY (second, provider, model, agent_name)) WITHOUT ROWID;
    INSERT INTO llm_seconds
        SELECT start_time_ns / 1000000000, provider, coalesce(model, ''),
            coalesce(agent_name, ''), {LLM_SUMS} FROM spans WHERE {LLM_CALL}
        GROUP BY 1, 2, 3, 4;
    CREATE TABLE llm_problem_calls (
        start_time_ns INTEGER NOT NULL, trace_key INTEGER NOT NULL, span_id BLOB NOT NULL,
        PRIMARY KEY (start_time_ns, trace_key, span_id)) WITHOUT ROWID;
    INSERT INTO llm_problem_calls
        SELECT start_time_ns, trace_key, span_id FROM spans WHERE {LLM_PROBLEM};
    """,
)
#: The schema version from which the writer keeps agent seconds: a file migrated to it gets
#: those of the spans stored in the last `AGENT_SECONDS_BACKFILL_NS`.
AGENT_SECONDS_VERSION: Final = 9
AGENT_SECONDS_BACKFILL_NS: Final = 600_000_000_000


def statements(script: str) -> list[str]:
    """The SQL statements of a migration script, in order (a trigger keeps its body)."""
    found: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    return found


#: Tuning, from measurements. page_size only applies when the file is created: 8 KiB pages
#: halve the WAL's frames (and the write calls) per stored span, which cost a writer 3.6-4.0
#: µs of system time per span with 4 KiB pages and 2.1-2.5 µs with 8 KiB (SQLite's own work
#: barely changes).
WRITER_PRAGMAS = (
    "page_size = 8192",
    "journal_mode = WAL",
    "wal_autocheckpoint = 0",  # the checkpoint thread does it
    "journal_size_limit = 67108864",
)
CHECKPOINT_EVERY_SPANS = 20000  # ~15-25 MiB of WAL for agent spans
WAL_LIMIT_BYTES = 268435456
WRITER_CACHE_KIB = 65536
READER_CACHE_KIB = 4096  # per reading thread; the OS page cache does the rest
MMAP_BYTES = 0  # mapped pages count in the server's RSS and measured no faster
#: Agent seconds are kept this long after their second (pruned at each checkpoint request):
#: the snapshot loop reads the last five minutes.
AGENT_SECONDS_KEPT_NS = 3_600_000_000_000
INSERT_SPAN: Final = (
    f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)})",
    "ON CONFLICT (trace_key, span_id) DO NOTHING",
)
UPSERT_TRACE: Final = (
    f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)})",
    "ON CONFLICT (trace_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in TRACE_COLUMNS[2:]),
)
ROWS_PER_INSERT: Final = (1000, 100, 10, 1)  # largest first, within the variables limit
SELECT_TASK_TRACES: Final = (
    "SELECT t.trace_id FROM trace_tasks AS k"
    " JOIN traces AS t ON t.trace_key = k.trace_key WHERE k.task_id = ?"
)
INSERT_TRACE_TASK: Final = (
    "INSERT INTO trace_tasks (task_id, trace_key)",
    "ON CONFLICT DO NOTHING",
)
SELECT_SPANS: Final = (
    "SELECT s.span_id, s.parent_span_id, r.attributes, s.attributes, s.events, s.links, "
    + ", ".join(f"s.{c}" for c in SPAN_COLUMNS[7:])
    + " FROM spans AS s JOIN resources AS r ON r.id = s.resource_id"
    " WHERE s.trace_key = (SELECT trace_key FROM traces WHERE trace_id = ?)"
    " ORDER BY s.start_time_ns, s.span_id"
)
RECOMPUTE: Final = (
    "SELECT trace_key, parent_span_id IS NULL, name, service_name, agent_name, start_time_ns, "
    "end_time_ns, status_code, input_tokens, output_tokens FROM spans WHERE trace_key IN "
)

EVENT_COLUMNS: Final = (
    "event_id", "time_ns", "source", "kind", "entity", "severity", "summary", "attributes",
)  # fmt: skip
INSERT_EVENT: Final = (
    f"INSERT INTO infra_events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * 8)})"
    " ON CONFLICT (event_id) DO NOTHING"
)

#: Agents' spans since a time, newest first (a scan of the spans: for tests and tools, not
#: the server, which reads the agent seconds).
SELECT_AGENT_SPANS: Final = (
    "SELECT t.trace_id, s.span_id, s.parent_span_id, r.attributes, s.attributes, s.events,"
    " s.links, "
    + ", ".join(f"s.{c}" for c in SPAN_COLUMNS[7:])
    + " FROM spans AS s JOIN resources AS r ON r.id = s.resource_id"
    " JOIN traces AS t ON t.trace_key = s.trace_key"
    " WHERE s.agent_name IS NOT NULL AND s.start_time_ns >= ?"
    " ORDER BY s.start_time_ns DESC, s.span_id DESC LIMIT ?"
)
INSERT_SNAPSHOT: Final = (
    "INSERT INTO system_snapshots (timestamp_ns, snapshot) VALUES (?, ?)"
    " ON CONFLICT (timestamp_ns) DO NOTHING"
)
LATEST_SNAPSHOT: Final = (
    "SELECT timestamp_ns, snapshot FROM system_snapshots ORDER BY timestamp_ns DESC LIMIT 1"
)
SNAPSHOT_AT: Final = (
    "SELECT timestamp_ns, snapshot FROM system_snapshots WHERE timestamp_ns <= ?"
    " ORDER BY timestamp_ns DESC LIMIT 1"
)
#: The last snapshot of each ``step``-long bucket (buckets aligned on the unix epoch):
#: parameters start, end, step.
SNAPSHOT_SERIES: Final = """
    SELECT s.timestamp_ns, s.snapshot FROM system_snapshots AS s
    JOIN (SELECT max(timestamp_ns) AS last FROM system_snapshots
          WHERE timestamp_ns >= ? AND timestamp_ns <= ? GROUP BY timestamp_ns / ?) AS b
        ON s.timestamp_ns = b.last
    ORDER BY s.timestamp_ns
"""
INSERT_OPERATION: Final = (
    "INSERT INTO operations (service_name, name, kind)",
    "ON CONFLICT (service_name, name, kind) DO NOTHING",
)
SELECT_SERVICES: Final = "SELECT DISTINCT service_name FROM operations ORDER BY service_name"
SELECT_OPERATIONS: Final = (
    "SELECT name, kind FROM operations WHERE service_name = ? AND (? IS NULL OR kind = ?)"
    " ORDER BY name, kind"
)
#: Parent -> child service calls in the traces starting in [?, ?] (the ``traces_start`` index).
SELECT_DEPENDENCIES: Final = """
    SELECT p.service_name, c.service_name, count(*)
    FROM traces AS t
    JOIN spans AS c ON c.trace_key = t.trace_key
    JOIN spans AS p ON p.trace_key = c.trace_key AND p.span_id = c.parent_span_id
    WHERE t.start_time_ns >= ? AND t.start_time_ns <= ? AND p.service_name <> c.service_name
    GROUP BY p.service_name, c.service_name
    ORDER BY p.service_name, c.service_name
"""

ALERT_COLUMNS: Final = (
    "alert_id", "kind", "severity", "first_at_ns", "last_at_ns", "entity", "summary", "count",
    "trace_id", "task_id",
)  # fmt: skip
#: A repeat of a stored alert keeps the widest times, the highest count, the worse severity.
UPSERT_ALERT: Final = (
    f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) VALUES ({', '.join('?' * 10)})"
    " ON CONFLICT (alert_id) DO UPDATE SET"
    " first_at_ns = min(first_at_ns, excluded.first_at_ns),"
    " summary = CASE WHEN excluded.last_at_ns >= last_at_ns THEN excluded.summary ELSE summary END,"
    " last_at_ns = max(last_at_ns, excluded.last_at_ns), count = max(count, excluded.count),"
    " severity = CASE WHEN excluded.severity = 'critical' OR severity = 'info'"
    " THEN excluded.severity ELSE severity END,"
    " trace_id = coalesce(trace_id, excluded.trace_id),"
    " task_id = coalesce(task_id, excluded.task_id)"
)
#: Of the snapshots in [start, end), all but the last of each ``step`` bucket: parameters
#: start, end, start, end, step.
THIN_SNAPSHOTS: Final = """
    DELETE FROM system_snapshots WHERE timestamp_ns >= ? AND timestamp_ns < ?
    AND timestamp_ns NOT IN (
        SELECT max(timestamp_ns) FROM system_snapshots
        WHERE timestamp_ns >= ? AND timestamp_ns < ? GROUP BY timestamp_ns / ?)
"""

#: `AgentActivity` columns of a ``spans`` row, four attributes pulled out by SQLite's JSON
#: functions (`codec.activity_row` reads them).
_ATTR: Final = "CAST(json_extract(attributes, '$.\"{}\"') AS TEXT)"
_ACTIVITY: Final = (
    "agent_name, lower(hex(span_id)), start_time_ns, end_time_ns, status_code = 2, task_id,"
    " pod_name, input_tokens, output_tokens, cost_usd, "
    + ", ".join(
        _ATTR.format(key)
        for key in ("gen_ai.operation.name", "gen_ai.agent.id", "oracle.agent.reasoning")
    )
    + ", CASE WHEN json_type(attributes, '$.\"oracle.agent.tools_planned\"') = 'array'"
    " THEN json_extract(attributes, '$.\"oracle.agent.tools_planned\"') END,"
    " agent_from IS NOT NULL,"
    " (SELECT lower(hex(t.trace_id)) FROM traces AS t WHERE t.trace_key = spans.trace_key)"
)
#: Agents' spans since a time, newest first (a scan, as `SELECT_AGENT_SPANS`).
SELECT_AGENT_ACTIVITY: Final = (
    f"SELECT {_ACTIVITY} FROM spans WHERE agent_name IS NOT NULL AND start_time_ns >= ?"
    " ORDER BY start_time_ns DESC, span_id DESC LIMIT ?"
)
#: Agent seconds (`oracle_monitor.store.sqlite_seconds`).
SECONDS_COLUMNS: Final = (
    "second", "agent_name", "seq", "spans", "latest_start", "input_tokens", "output_tokens",
    "cost_usd", "errors", "latest",
)  # fmt: skip
_SECONDS_SELECT: Final = f"SELECT {', '.join(SECONDS_COLUMNS)} FROM agent_seconds"
SECONDS_SINCE: Final = f"{_SECONDS_SELECT} WHERE second >= ?"
#: Changed after a sequence value, since a second (the ``agent_seconds_seq`` index).
SECONDS_CHANGED: Final = f"{_SECONDS_SELECT} WHERE seq > ? AND +second >= ?"
SECONDS_AT: Final = f"{_SECONDS_SELECT} WHERE (second, agent_name) IN "
SECONDS_SEQUENCE: Final = "SELECT value FROM agent_seconds_sequence"
NEXT_SECONDS_SEQUENCE: Final = "UPDATE agent_seconds_sequence SET value = value + 1 RETURNING value"
UPSERT_SECONDS: Final = (
    f"INSERT INTO agent_seconds ({', '.join(SECONDS_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(SECONDS_COLUMNS))})"
    " ON CONFLICT (second, agent_name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SECONDS_COLUMNS[2:])
)
PRUNE_SECONDS: Final = "DELETE FROM agent_seconds WHERE second < ?"
#: Which of a trace's spans were stored after a row: parameters trace key, row, span ids.
STORED_AFTER: Final = "SELECT span_id FROM spans WHERE trace_key = ? AND id > ? AND span_id IN "
#: The agent spans since a time, as `AgentActivity` rows (a backfill of agent seconds).
ACTIVITY_SINCE: Final = (
    f"SELECT {_ACTIVITY} FROM spans WHERE agent_name IS NOT NULL AND start_time_ns >= ?"
)
#: Hierarchy attribution (`oracle_monitor.store.attribution`). What stored spans pass down:
#: parameters trace key (twice), then the span ids.
SELECT_ATTRIBUTION: Final = (
    "SELECT s.span_id, s.agent_name, s.agent_from, s.task_id,"
    " (SELECT p.missing_span_id FROM attribution_pending AS p"
    "  WHERE p.trace_key = ? AND p.span_id = s.span_id LIMIT 1)"
    " FROM spans AS s WHERE s.trace_key = ? AND s.span_id IN "
)
INSERT_PENDING: Final = (
    "INSERT INTO attribution_pending (trace_key, missing_span_id, span_id)",
    "ON CONFLICT DO NOTHING",
)
PENDING_TRACES: Final = "SELECT DISTINCT trace_key FROM attribution_pending WHERE trace_key IN "
#: The stored spans waiting on some of a trace's spans, each with what the agent seconds need
#: of it (`agent_seconds.STORED_COLUMNS`; NULLs for a span not stored).
PENDING_ON: Final = (
    "SELECT p.missing_span_id, p.span_id, "
    + ", ".join(f"s.{column}" for column in STORED_COLUMNS[:-1])
    + ", CASE WHEN "
    + " OR ".join(f"instr(s.attributes, '{mark}')" for mark in ATTRIBUTE_MARKS)
    + " THEN s.attributes END"
    " FROM attribution_pending AS p"
    " LEFT JOIN spans AS s ON s.trace_key = p.trace_key AND s.span_id = p.span_id"
    " WHERE p.trace_key = ? AND p.missing_span_id IN "
)
#: Fill what a waiting span does not know yet (SQLite evaluates every SET with the old row).
SETTLE_SPAN: Final = (
    "UPDATE spans SET agent_from = CASE WHEN agent_name IS NULL THEN ? ELSE agent_from END,"
    " agent_name = coalesce(agent_name, ?), task_id = coalesce(task_id, ?)"
    " WHERE trace_key = ? AND span_id = ?"
)
REPENDING: Final = (
    "INSERT INTO attribution_pending (trace_key, missing_span_id, span_id)"
    " SELECT trace_key, ?, span_id FROM spans"
    " WHERE trace_key = ? AND span_id = ? AND (agent_name IS NULL OR task_id IS NULL)"
    " ON CONFLICT DO NOTHING"
)
DELETE_PENDING: Final = (
    "DELETE FROM attribution_pending WHERE trace_key = ? AND missing_span_id = ? AND span_id = ?"
)

#: LLM calls (`oracle_monitor.store.sqlite_llm`). Cost groups column -> the calls' column, and
#: the same of the sums' rows ("" there for none).
COST_GROUP_COLUMNS: Final = {"agent": "agent_name", "model": "model", "provider": "provider"}
LLM_COSTS: Final = f"""
    SELECT {{column}}, {LLM_SUMS} FROM spans
    WHERE start_time_ns >= ? AND start_time_ns <= ? AND {LLM_CALL}
    GROUP BY {{column}}
"""
LLM_SECONDS_COSTS: Final = f"""
    SELECT nullif({{column}}, ''), {", ".join(f"sum({name})" for name in LLM_FIELDS[:-2])},
        total(cost_usd), sum(unpriced_requests)
    FROM llm_seconds WHERE second >= ? AND second <= ? GROUP BY {{column}}
"""
UPSERT_LLM_SECONDS: Final = (
    f"INSERT INTO llm_seconds (second, provider, model, agent_name, {', '.join(LLM_FIELDS)})",
    "ON CONFLICT (second, provider, model, agent_name) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in LLM_FIELDS),
)
INSERT_LLM_PROBLEM: Final = (
    "INSERT INTO llm_problem_calls (start_time_ns, trace_key, span_id)",
    "ON CONFLICT DO NOTHING",
)
LLM_PROBLEMS: Final = """
    SELECT s.start_time_ns, t.trace_id, s.span_id, s.provider, s.model, s.agent_name,
        s.rate_limited, json_extract(s.attributes, '$."error.type"')
    FROM llm_problem_calls AS p
    JOIN spans AS s ON s.trace_key = p.trace_key AND s.span_id = p.span_id
    JOIN traces AS t ON t.trace_key = p.trace_key
    WHERE p.start_time_ns >= ? AND p.start_time_ns <= ?
    ORDER BY p.start_time_ns
"""
#: What `oracle_monitor.store.llm_calls.contribution` reads of stored calls given an agent
#: later; parameters: the trace key, then span ids.
SETTLED_CALLS: Final = f"""
    SELECT span_id, start_time_ns, provider, model, rate_limited, status_code, input_tokens,
        output_tokens, cache_read_tokens, cache_creation_tokens, reasoning_tokens, cost_usd
    FROM spans WHERE {LLM_CALL} AND trace_key = ? AND span_id IN """
