"""The Supabase store through a project's API: `serve` with only ``SUPABASE_URL`` and a key,
what a refused key or missing tables give at start-up, and PostgREST errors.

The project's API is the fake PostgREST of `tests.fakes.postgrest` on the real PostgreSQL
(the conformance suite runs the same store through every `Store` call).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from psycopg import sql

from oracle_monitor.cli import main
from oracle_monitor.model import Alert, InfraEvent, Severity
from oracle_monitor.store import AlertQuery, EventQuery, Store, open_store
from oracle_monitor.store.postgrest import PostgRESTError
from tests.fakes.postgrest import FakePostgREST
from tests.integration.oracle_server import OracleServer
from tests.integration.otlp_payloads import request, span
from tests.integration.postgres import SERVER_URL, admin_connection
from tests.integration.supabase_api import (
    ANON_KEY,
    MAX_ROWS,
    SERVICE_KEY,
    fake_postgrest,
    migrated_schema,
    store_url,
)

T0 = 1_700_000_000_000_000_000


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh schema migrated by the shipped migrations, dropped afterwards."""
    yield from migrated_schema()


@pytest.fixture
def fake() -> FakePostgREST:
    made = fake_postgrest()
    made.faults.clear()
    return made


@pytest.fixture
def store(fake: FakePostgREST, schema: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(store_url(fake.url, schema, tmp_path / "spans.db"))
    yield opened
    opened.close()


def count_rows(schema: str, table: str) -> int:
    with admin_connection() as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
        ).fetchone()
    return int(str(row[0])) if row else 0


def event(n: int) -> InfraEvent:
    return InfraEvent(
        event_id=f"e{n:03d}", time_ns=T0 + n, source="k8s", kind="pod_oom_killed",
        entity="pod/agents/research-0", severity=Severity.CRITICAL, summary=f"event {n}",
        attributes={"n": n},
    )  # fmt: skip


def serve_env(fake: FakePostgREST, schema: str, key: str = SERVICE_KEY) -> dict[str, str]:
    """What a Supabase project's ``.env`` gives (plus the test's schema and fast snapshots),
    over this process's environment without its ``ORACLE_*`` settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ORACLE_")}
    env.pop("SUPABASE_KEY", None)
    return {
        **env,
        "SUPABASE_URL": fake.url,
        "SUPABASE_SERVICE_ROLE_KEY": key,
        "ORACLE_SUPABASE_SCHEMA": schema,  # the test's own schema; `public` by default
        "ORACLE_SNAPSHOT_INTERVAL_SECONDS": "0.2",
        "ORACLE_INGEST_WORKERS": "1",
    }


def test_serve_with_only_the_api_url_and_key_stores_through_postgrest(
    fake: FakePostgREST, schema: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = OracleServer(data_dir=data_dir, env=serve_env(fake, schema))
    server.start()
    try:
        deadline = time.monotonic() + 20
        while count_rows(schema, "system_snapshots") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count_rows(schema, "system_snapshots") >= 3  # in PostgreSQL, via PostgREST
        latest = server.api("/api/v1/snapshots/latest")
        assert latest.status_code == 200, latest.text

        # PostgREST failing for a while: those snapshots fail and are counted, then more come.
        fake.fail("POST", "system_snapshots", 500, "XX000", "out of disk", times=3)
        deadline = time.monotonic() + 20
        while server.health()["snapshots"]["failed_snapshots"] < 3:
            assert time.monotonic() < deadline, server.health()["snapshots"]
            time.sleep(0.1)
        stored = count_rows(schema, "system_snapshots")
        while count_rows(schema, "system_snapshots") <= stored:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert server.health()["snapshots"]["failed_snapshots"] == 3
        assert "HTTP 500 XX000: out of disk" in server.log()

        # Spans go to the SQLite file of the data dir, and are read back from it.
        trace_id = "ab" * 16
        body = request(span(bytes.fromhex(trace_id), name="plan")).SerializeToString()
        sent = httpx.post(
            f"{server.otlp_http_url}/v1/traces",
            content=body,
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert sent.status_code == 200
        assert server.wait_for_trace(trace_id, 1)["spans"][0]["name"] == "plan"
        assert (data_dir / "oracle.db").exists()
        assert count_rows(schema, "spans") == 0
    finally:
        assert server.stop() == 0
    # The key is nowhere but in the requests' headers: not in the log, not in the data dir.
    log = server.log()
    assert "store: supabase+http://:***@" in log
    assert SERVICE_KEY not in log
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert SERVICE_KEY.encode() not in path.read_bytes(), path
    assert all(SERVICE_KEY not in str(r["query"]) for r in fake.requests)


def run_serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oracle_monitor", "serve", "--data-dir", str(tmp_path / "d"),
         "--otlp-grpc-port", "0", "--otlp-http-port", "0", "--api-port", "0"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_wrong_key_is_one_clear_error_at_start_up(
    fake: FakePostgREST, schema: str, tmp_path: Path
) -> None:
    wrong = SERVICE_KEY[:-4] + "nope"
    done = run_serve(serve_env(fake, schema, wrong), tmp_path)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "Invalid API key" in output and "SUPABASE_SERVICE_ROLE_KEY" in output
    assert "Traceback" not in output
    assert wrong not in output


def test_the_anon_key_is_refused_before_any_request(fake: FakePostgREST, schema: str,
                                                    tmp_path: Path) -> None:  # fmt: skip
    before = len(fake.requests)
    with pytest.raises(ValueError, match="service_role") as refused:
        open_store(store_url(fake.url, schema, tmp_path / "spans.db", key=ANON_KEY))
    assert ANON_KEY not in str(refused.value)
    assert len(fake.requests) == before


def test_missing_tables_say_how_to_apply_the_migrations(fake: FakePostgREST,
                                                        tmp_path: Path) -> None:  # fmt: skip
    admin_connection().close()
    url = store_url(fake.url, "oracle_test_never_migrated", tmp_path / "spans.db")
    with pytest.raises(PostgRESTError, match="supabase db push"):
        open_store(url)
    done = run_serve(serve_env(fake, "oracle_test_never_migrated"), tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "oracle-monitor migrate" in done.stderr


def test_an_unreachable_project_is_a_clear_error(schema: str, tmp_path: Path) -> None:
    url = store_url("http://127.0.0.1:9", schema, tmp_path / "spans.db")  # discard port
    with pytest.raises(PostgRESTError, match="no answer") as raised:
        open_store(url)
    assert SERVICE_KEY not in str(raised.value)


def test_a_failed_write_raises_and_stores_nothing_then_succeeds(
    fake: FakePostgREST, store: Store, schema: str
) -> None:
    fake.fail("POST", "infra_events", 500, "XX000", "disk on fire")
    with pytest.raises(PostgRESTError, match=r"HTTP 500 XX000: disk on fire") as raised:
        store.write_events([event(1)])
    assert SERVICE_KEY not in str(raised.value)
    assert count_rows(schema, "infra_events") == 0  # not stored, and the caller was told
    store.write_events([event(1)])  # what the event sink does with its next batch
    assert [e.event_id for e in store.find_events(EventQuery())] == ["e001"]


def test_client_errors_are_not_retried(fake: FakePostgREST, store: Store) -> None:
    fake.fail("POST", "system_snapshots", 400, "22P02", "invalid input syntax", times=3)
    before = len(fake.requests)
    with pytest.raises(PostgRESTError, match="HTTP 400 22P02"):
        store.write_snapshot(T0, {"n": 1})
    assert len(fake.requests) - before == 1
    fake.faults.clear()


def test_a_lost_answer_is_retried_and_stored_once(
    fake: FakePostgREST, store: Store, schema: str
) -> None:
    # PostgREST committed, then the gateway answered 503: the retry is a duplicate, ignored.
    fake.fail("POST", "system_snapshots", 503, None, "upstream reset", after_commit=True)
    store.write_snapshot(T0, {"n": 1})
    assert count_rows(schema, "system_snapshots") == 1
    assert store.latest_snapshot() == (T0, {"n": 1})
    fake.fail("POST", "alerts", 502, None, "bad gateway", after_commit=True)
    alert = Alert("a1", "pod_oom_killed", "critical", T0, T0 + 5, "pod/x", "OOM", 2)
    store.write_alerts([alert])
    store.write_alerts([alert])  # a repeat merges; nothing doubles
    [stored] = store.find_alerts(AlertQuery())
    assert (stored.count, stored.first_at_ns, stored.last_at_ns) == (2, T0, T0 + 5)


def test_a_server_that_keeps_failing_surfaces_after_the_retries(
    fake: FakePostgREST, store: Store, schema: str
) -> None:
    fake.fail("POST", "infra_events", 503, "PGRST000", "Could not connect", times=3)
    before = len(fake.requests)
    with pytest.raises(PostgRESTError, match="HTTP 503 PGRST000: Could not connect"):
        store.write_events([event(2)])
    assert len(fake.requests) - before == 3
    assert count_rows(schema, "infra_events") == 0


def test_a_real_postgrest_error_names_the_table(
    fake: FakePostgREST, store: Store, schema: str
) -> None:
    with admin_connection() as conn:
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "alerts")))
    with pytest.raises(PostgRESTError, match=r"alerts: HTTP 404 PGRST205: Could not find"):
        store.write_alerts([Alert("a", "k", "info", T0, T0, "e", "s")])


def test_lists_are_read_past_max_rows(fake: FakePostgREST, store: Store) -> None:
    store.write_events([event(n) for n in range(5 * MAX_ROWS + 3)])
    before = len(fake.requests)
    found = store.find_events(EventQuery(limit=1000))
    assert [e.event_id for e in found] == [f"e{n:03d}" for n in reversed(range(5 * MAX_ROWS + 3))]
    pages = [r for r in fake.requests[before:] if r["method"] == "GET"]
    assert len(pages) >= 6
    # Having seen the cap once, the store asks for pages of its size and stops at a short one.
    before = len(fake.requests)
    assert len(store.find_events(EventQuery(limit=3))) == 3
    assert len(fake.requests) - before == 1


def test_rows_carry_the_tenant_and_reads_keep_to_it(
    fake: FakePostgREST, schema: str, tmp_path: Path
) -> None:
    acme = open_store(store_url(fake.url, schema, tmp_path / "a.db", tenant="acme"))
    other = open_store(store_url(fake.url, schema, tmp_path / "b.db"))
    try:
        acme.write_events([event(1)])
        other.write_events([event(2)])
        assert [e.event_id for e in acme.find_events(EventQuery())] == ["e001"]
        assert [e.event_id for e in other.find_events(EventQuery())] == ["e002"]
        with admin_connection() as conn:
            rows = conn.execute(
                sql.SQL("SELECT event_id, tenant_id FROM {} ORDER BY 1").format(
                    sql.Identifier(schema, "infra_events")
                )
            ).fetchall()
        assert rows == [("e001", "acme"), ("e002", "default")]
    finally:
        acme.close()
        other.close()


def test_the_fake_checks_the_keys(fake: FakePostgREST) -> None:
    admin_connection().close()
    url = f"{fake.url}/rest/v1/oracle_schema_migrations"
    assert httpx.get(url).json()["message"] == "No API key found in request"
    assert httpx.get(url, headers={"apikey": "x"}).status_code == 401
    bad_bearer = httpx.get(url, headers={"apikey": SERVICE_KEY, "Authorization": "Bearer x"})
    assert (bad_bearer.status_code, bad_bearer.json()["code"]) == (401, "PGRST301")
    assert SERVER_URL  # the fake runs on this PostgreSQL


def test_migrate_checks_through_the_api_and_says_what_it_cannot_do(
    fake: FakePostgREST, schema: str, tmp_path: Path
) -> None:
    env = {"SUPABASE_URL": fake.url, "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
           "ORACLE_SUPABASE_SCHEMA": schema, "ORACLE_STORE": ""}  # fmt: skip
    args = ["migrate", "--data-dir", str(tmp_path)]
    done = CliRunner().invoke(main, args, env=env)
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "schema already up to date"
    env["ORACLE_SUPABASE_SCHEMA"] = "oracle_test_never_migrated"
    refused = CliRunner().invoke(main, args, env=env)
    assert refused.exit_code == 1
    assert "PostgREST cannot create tables" in refused.output
    assert SERVICE_KEY not in refused.output


def test_thinning_reads_the_times_by_count_and_key(fake: FakePostgREST, store: Store) -> None:
    for n in range(3 * MAX_ROWS - 1):
        store.write_snapshot(T0 + n * 10, {"n": n})
    before = len(fake.requests)
    assert store.thin_snapshots(T0 + 10**9, T0 + 2 * 10**9, 100) == 0  # an empty range
    assert len(fake.requests) - before == 1  # the count says there is nothing more
    before = len(fake.requests)
    assert store.thin_snapshots(T0, T0 + 10**9, 100) == 3 * MAX_ROWS - 1 - 2  # one per 100 ns
    gets = [r for r in fake.requests[before:] if r["method"] == "GET"]
    assert len(gets) == 3  # pages of max-rows, by key, until the count is reached
    assert "count=exact" in (gets[0]["prefer"] or "")
    assert [ts - T0 for ts, _ in store.snapshot_series(T0, T0 + 10**9, 100)] == [90, 190]


def test_the_api_command_reports_a_store_it_cannot_open_in_one_line(tmp_path: Path) -> None:
    url = f"supabase+http://:{SERVICE_KEY}@127.0.0.1:9?spans=sqlite:///{tmp_path}/s.db"
    done = CliRunner().invoke(main, ["api", "--store", url, "--api-port", "0"])
    assert done.exit_code == 1
    assert "cannot open the store supabase+http://:***@127.0.0.1:9" in done.output
    assert "no answer" in done.output and SERVICE_KEY not in done.output
