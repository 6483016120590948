"""Migration 20261202000007 on the real PostgreSQL: a Data API (PostgREST) session without a
``tenant_id`` claim sees no tenant, span partitions named directly show their rows to the
owner alone, and Supabase's ``anon`` role keeps no privilege on Oracle Monitor's tables.

The last test needs a role named ``anon``, as every Supabase database has; it creates one in
the test cluster when missing and leaves it (roles belong to the cluster, not the schema)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from oracle_monitor.model import InfraEvent
from oracle_monitor.store import open_store
from oracle_monitor.store.postgres import StoreURL
from oracle_monitor.store.postgres.migrate import MIGRATIONS, migrate
from oracle_monitor.store.postgres.partitions import span_partitions
from tests.integration.postgres import admin_connection
from tests.integration.test_postgres_store import _as_role, query, schema_of, tenant_role, url
from tests.integration.test_store_conformance import make_span

__all__ = ["tenant_role", "url"]  # the fixtures, imported to be used here

pytestmark = pytest.mark.integration
COUNTS = (
    "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM traces),"
    " (SELECT count(*) FROM infra_events), (SELECT count(*) FROM system_snapshots)"
)


def test_an_api_session_without_a_tenant_claim_sees_no_tenant(url: str, tenant_role: str) -> None:
    store = open_store(url)  # the 'default' tenant
    try:
        store.write_spans([make_span(1, 1)])
        store.write_events([InfraEvent(1, "k8s", "oom_killed", "pod/x")])
        store.write_snapshot(1, {"n": 1})
    finally:
        store.close()
    with _as_role(url, tenant_role) as conn:  # no JWT claims: a psql session, 'default'
        assert conn.execute(COUNTS).fetchall() == [(1, 1, 1, 1)]
    for claims in ('{"role": "anon"}', '{"role": "authenticated", "sub": "someone"}'):
        with _as_role(url, tenant_role, **{"request.jwt.claims": claims}) as conn:
            assert conn.execute(COUNTS).fetchall() == [(0, 0, 0, 0)], claims
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                conn.execute(
                    "INSERT INTO infra_events (event_id, tenant_id, time_ns, source, kind,"
                    " entity, severity, summary) VALUES ('x', 'default', 1, 'k', 'k', 'e',"
                    " 'info', '')"
                )
    for claims in ('{"role": "authenticated", "tenant_id": "default"}', '{"role": "service_role"}'):
        with _as_role(url, tenant_role, **{"request.jwt.claims": claims}) as conn:
            assert conn.execute(COUNTS).fetchall() == [(1, 1, 1, 1)], claims


def test_a_partition_named_directly_shows_nothing_but_to_the_owner(
    url: str, tenant_role: str
) -> None:
    store = open_store(url)
    try:
        store.write_spans([make_span(1, 1), make_span(2, 1)])
    finally:
        store.close()
    with StoreURL.parse(url).connect() as conn:
        [partition] = span_partitions(conn).values()
    with admin_connection() as conn:
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.Identifier(schema_of(url), partition), sql.Identifier(tenant_role)
            )
        )
    assert query(url, f"SELECT count(*) FROM {partition}") == [(2,)]
    with _as_role(url, tenant_role, **{"oracle.tenant_id": "default"}) as conn:
        assert conn.execute(f"SELECT count(*) FROM {partition}").fetchall() == [(0,)]
        assert conn.execute("SELECT count(*) FROM spans").fetchall() == [(2,)]  # the parent's


def test_the_anon_role_keeps_no_privilege(url: str) -> None:
    with admin_connection() as conn:
        conn.execute(
            "DO $$ BEGIN CREATE ROLE anon NOLOGIN;"
            " EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    schema = schema_of(url)
    roles = next(n for n, m in enumerate(MIGRATIONS) if m.name == "api_roles")
    before = MIGRATIONS[roles - 1].version
    with StoreURL.parse(url).connect() as conn:
        migrate(conn, schema=schema, target=before)
    with admin_connection() as conn:  # what Supabase's default privileges give every table
        conn.execute(
            sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO anon").format(sql.Identifier(schema))
        )
        conn.execute(  # and every table the later migrations create
            sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT ALL ON TABLES TO anon").format(
                sql.Identifier(schema)
            )
        )
    with StoreURL.parse(url).connect() as conn:
        migrate(conn, schema=schema)
    tables = ("oracle_schema_migrations", "resources", "traces", "spans", "infra_events",
              "system_snapshots", "alerts", "operations", "attribution_pending",
              "agent_seconds", "llm_seconds", "llm_problem_calls")  # fmt: skip
    for table in tables:
        granted = query(
            url, "SELECT has_table_privilege('anon', %s, 'SELECT, INSERT, UPDATE, DELETE')",
            f'"{schema}".{table}',
        )  # fmt: skip
        assert granted == [(False,)], table
