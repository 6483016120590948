"""What the PostgreSQL store does beyond the `Store` contract (the conformance suite covers
that): migrations, day partitions and retention, tenants under row-level security, the
Supabase migration files, concurrent writers, and `serve` on PostgreSQL surviving kill -9.
All against the real PostgreSQL (see tests/integration/postgres.py)."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export import SpanExportResult
from psycopg import sql

from oracle_monitor.cli import main
from oracle_monitor.model import InfraEvent
from oracle_monitor.store import Store, TraceQuery, open_store
from oracle_monitor.store.postgres import PostgresStore, StoreURL
from oracle_monitor.store.postgres.migrate import MIGRATIONS, applied_versions, migrate
from oracle_monitor.store.postgres.partitions import DAY_NS, partition_name, span_partitions
from tests.integration.conftest import StartServer
from tests.integration.postgres import admin_connection, fresh_store_url
from tests.integration.test_durability import (
    batches,
    expected_counts,
    grpc_exporter,
    make_spans,
    stored_span_counts,
)
from tests.integration.test_store_conformance import make_span, sid, tid

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def url() -> Iterator[str]:
    """The URL of a store in a fresh schema (dropped afterwards)."""
    yield from fresh_store_url()


def schema_of(url: str) -> str:
    name = StoreURL.parse(url).schema
    assert name is not None
    return name


def query(url: str, text: str, *params: object) -> list[tuple[object, ...]]:
    """Run one statement in the store's schema; its rows ([] for a statement without)."""
    with StoreURL.parse(url).connect() as conn:
        cursor = conn.execute(text.encode(), params or None)
        return cursor.fetchall() if cursor.description is not None else []


def test_migrations_apply_on_an_empty_database(url: str) -> None:
    result = CliRunner().invoke(main, ["migrate", "--store", url])
    assert result.exit_code == 0, result.output
    assert [line.removeprefix("applied ") for line in result.output.splitlines()[:-1]] == [
        m.filename for m in MIGRATIONS
    ]
    again = CliRunner().invoke(main, ["migrate", "--store", url])
    assert again.output.strip() == "schema already up to date"

    schema = schema_of(url)
    tables = {
        row[0]
        for row in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = %s", schema)
    }
    assert {"spans", "traces", "resources", "infra_events", "system_snapshots"} <= tables
    assert query(url, "SELECT relkind FROM pg_class WHERE oid = 'spans'::regclass") == [("p",)]
    # Realtime: replica identity full, published in supabase_realtime.
    assert query(
        url, "SELECT relreplident FROM pg_class WHERE oid = 'system_snapshots'::regclass"
    ) == [("f",)]
    published = query(
        url,
        "SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'"
        " AND schemaname = %s AND tablename = 'system_snapshots'",
        schema,
    )
    assert published == [(1,)]
    secured = query(
        url,
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = %s::regnamespace",
        schema,
    )
    assert {row[0] for row in secured} >= {"spans", "traces", "infra_events", "system_snapshots"}


def test_migrations_apply_on_the_previous_version(url: str) -> None:
    schema = schema_of(url)
    previous, latest = MIGRATIONS[-2], MIGRATIONS[-1]
    with StoreURL.parse(url).connect() as conn:
        migrate(conn, schema=schema, target=previous.version)
        assert max(applied_versions(conn)) == previous.version
        conn.execute(
            'INSERT INTO system_snapshots (timestamp_ns, "timestamp", snapshot)'
            " VALUES (5000, now(), '{\"old\": true}')"
        )
    with pytest.raises(RuntimeError, match="oracle-monitor migrate"):
        open_store(url, migrate=False)
    store = open_store(url)  # applies the rest
    try:
        assert store.latest_snapshot() == (5000, {"old": True})
        store.write_spans([make_span(1, 1)])
        assert len(store.get_trace(tid(1))) == 1
    finally:
        store.close()
    with StoreURL.parse(url).connect() as conn:
        assert max(applied_versions(conn)) == latest.version


def test_a_newer_schema_is_refused(url: str) -> None:
    open_store(url).close()
    query(url, "INSERT INTO oracle_schema_migrations (version, name) VALUES (99991231000000, 'x')")
    with pytest.raises(RuntimeError, match="newer than this"):
        open_store(url)


def test_supabase_migrations_are_the_shipped_ones() -> None:
    folder = ROOT / "deploy" / "supabase" / "migrations"
    exported = {path.name: path.read_text() for path in folder.glob("*.sql")}
    assert exported == {m.filename: m.sql for m in MIGRATIONS}


def test_spans_go_to_day_partitions_and_retention_drops_old_days(url: str) -> None:
    today = time.time_ns() // DAY_NS
    writer = open_store(url)
    try:
        for age, trace in ((0, 1), (1, 2), (3, 3), (4, 4)):
            start = (today - age) * DAY_NS + 3600 * 10**9
            writer.write_spans([make_span(trace, 1, start=start - 1_700_000_000_000_000_000)])
        with StoreURL.parse(url).connect() as conn:
            days = set(span_partitions(conn))
        assert days == {today, today - 1, today - 3, today - 4}
        assert query(url, f"SELECT count(*) FROM {partition_name(today - 3)}") == [(1,)]
    finally:
        writer.close()

    retained = PostgresStore(url + "&retention_days=2")  # its thread applies retention now
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with StoreURL.parse(url).connect() as conn:
                if len(span_partitions(conn)) == 2:
                    break
            time.sleep(0.05)
        with StoreURL.parse(url).connect() as conn:
            assert set(span_partitions(conn)) == {today, today - 1}
        assert retained.count_spans() == 2
        assert {s.trace_id for s in retained.find_traces(TraceQuery())} == {tid(1), tid(2)}
        assert retained.get_trace(tid(3)) == []
        # A late span of a dropped day is still accepted (and dropped again next time).
        retained.write_spans(
            [make_span(5, 1, start=(today - 4) * DAY_NS - 1_700_000_000_000_000_000)]
        )
        assert len(retained.get_trace(tid(5))) == 1
        assert retained.drop_expired() == [partition_name(today - 4)]
        # Its waiting row (its parent never came) went with it; today's stays.
        old_start = (today - 4) * DAY_NS - 1_700_000_000_000_000_000
        new_start = today * DAY_NS - 1_700_000_000_000_000_000
        retained.write_spans(
            [make_span(6, 2, 1, start=old_start), make_span(7, 2, 1, start=new_start)]
        )
        assert query(url, "SELECT count(*) FROM attribution_pending") == [(2,)]
        assert retained.drop_expired() == [partition_name(today - 4)]
        assert query(url, "SELECT encode(trace_id, 'hex') FROM attribution_pending") == [(tid(7),)]
    finally:
        retained.close()


@pytest.fixture
def tenant_role(url: str) -> Iterator[str]:
    """A role that is neither superuser nor owner, allowed to read and write the schema."""
    role = f"oracle_tenant_{uuid.uuid4().hex[:10]}"
    schema = sql.Identifier(schema_of(url))
    with admin_connection() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    try:
        open_store(url).close()
        with admin_connection() as conn:
            ident = sql.Identifier(role)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident))
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {} TO {}").format(
                    schema, ident
                )
            )
        yield role
    finally:
        with admin_connection() as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _as_role(url: str, role: str, **settings: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = StoreURL.parse(url).connect()
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    conn.execute("SET oracle.tenant_id = ''")  # the store's sessions set it; PostgREST's not
    for name, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    return conn


def test_row_level_security_hides_other_tenants(url: str, tenant_role: str) -> None:
    for tenant, trace in (("acme", 1), ("globex", 2)):
        store = open_store(f"{url}&tenant={tenant}")
        try:
            store.write_spans([make_span(trace, 1), make_span(trace, 2, 1)])
            store.write_events([InfraEvent(trace, "k8s", "oom_killed", f"pod/{tenant}")])
            store.write_snapshot(trace, {"tenant": tenant})
        finally:
            store.close()
    counts = "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM traces),"
    counts += " (SELECT count(*) FROM infra_events), (SELECT count(*) FROM system_snapshots),"
    counts += " (SELECT count(*) FROM resources), (SELECT count(*) FROM operations)"
    assert query(url, counts) == [(4, 2, 2, 2, 2, 4)]  # the owner sees every tenant

    with _as_role(url, tenant_role, **{"oracle.tenant_id": "acme"}) as conn:
        assert conn.execute(counts).fetchall() == [(2, 1, 1, 1, 1, 2)]
        assert conn.execute("SELECT DISTINCT trace_id FROM spans").fetchall() == [
            (bytes.fromhex(tid(1)),)
        ]
        assert conn.execute("SELECT entity FROM infra_events").fetchall() == [("pod/acme",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO infra_events (event_id, tenant_id, time_ns, source, kind, entity,"
                " severity, summary) VALUES ('x', 'globex', 1, 'k8s', 'k', 'e', 'info', '')"
            )
    # A Supabase (PostgREST) session: the tenant comes from the JWT's claims.
    claims = '{"role": "authenticated", "tenant_id": "globex"}'
    with _as_role(url, tenant_role, **{"request.jwt.claims": claims}) as conn:
        assert conn.execute("SELECT snapshot->>'tenant' FROM system_snapshots").fetchall() == [
            ("globex",)
        ]
        assert conn.execute(counts).fetchall() == [(2, 1, 1, 1, 1, 2)]
    # No tenant at all: the 'default' tenant, which has no rows here.
    with _as_role(url, tenant_role) as conn:
        assert conn.execute(counts).fetchall() == [(0, 0, 0, 0, 0, 0)]


def test_attributes_are_jsonb_and_the_derived_columns_are_filled(url: str) -> None:
    store = open_store(url)
    try:
        store.write_spans(
            [make_span(1, 1, agent_name="research", attributes={"gen_ai.request.model": "m"})]
        )
    finally:
        store.close()
    rows = query(
        url,
        "SELECT attributes->>'gen_ai.request.model', agent_name, tenant_id FROM spans"
        ' WHERE attributes @> \'{"gen_ai.request.model": "m"}\'',
    )
    assert rows == [("m", "research", "default")]


def test_a_nul_in_a_text_field_loses_nothing(url: str) -> None:
    store = open_store(url)
    try:
        bad = make_span(1, 2, 1, name="tool\x00call", service="svc\x00a", task_id="t\x00")
        store.write_spans([make_span(1, 1), bad, make_span(2, 1)])
        assert [s.name for s in store.get_trace(tid(1))] == ["span-1", "tool\ufffdcall"]
        assert store.get_trace(tid(1))[1].task_id == "t\ufffd"
        assert len(store.get_trace(tid(2))) == 1
        assert summary_services(store, 1) == ("svc-a", "svc\ufffda")
    finally:
        store.close()


def summary_services(store: Store, trace: int) -> tuple[str, ...]:
    (found,) = [s for s in store.find_traces(TraceQuery()) if s.trace_id == tid(trace)]
    return found.services


def test_concurrent_writers_of_overlapping_batches_store_each_span_once(url: str) -> None:
    open_store(url).close()
    spans = [
        make_span(t, s, None if s == 1 else 1, start=t) for t in range(1, 41) for s in (1, 2, 3)
    ]
    stores = [open_store(url, migrate=False) for _ in range(3)]
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            order = spans[number::3] + spans[::-1]  # every span, in different orders
            for batch in range(0, len(order), 25):
                stores[number].write_spans(order[batch : batch + 25])
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert stores[0].count_spans() == len(spans)
        summaries = stores[0].find_traces(TraceQuery(limit=100))
        assert len(summaries) == 40
        assert {s.span_count for s in summaries} == {3}
        assert [s.span_id for s in stores[1].get_trace(tid(7))] == [sid(1), sid(2), sid(3)]
    finally:
        for store in stores:
            store.close()


def test_store_url_options() -> None:
    parsed = StoreURL.parse(
        "postgres://u:p@db:5433/app?schema=om&tenant=acme&sslmode=require&pool_max=2"
    )
    assert parsed.conninfo == "postgresql://u:p@db:5433/app?sslmode=require"
    assert (parsed.schema, parsed.tenant, parsed.pool_max) == ("om", "acme", 2)
    with pytest.raises(ValueError, match="schema"):
        StoreURL.parse("postgresql://db/app?schema=a;drop")
    with pytest.raises(ValueError, match="option"):
        StoreURL.parse("postgresql://db/app?retention_days=soon")


def test_serve_on_postgresql_keeps_acknowledged_spans_after_kill_9(
    url: str, start_server: StartServer
) -> None:
    server = start_server(store=url)
    spans = make_spans(traces=30)
    exporter = grpc_exporter(server)
    for batch in batches(spans, 50):
        assert exporter.export(batch) == SpanExportResult.SUCCESS
    server.stop(signal.SIGKILL)
    exporter.shutdown()
    restarted = start_server(store=url, store_migrate="false")
    assert stored_span_counts(restarted) == expected_counts(spans)
