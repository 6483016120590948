"""A Supabase project's API for tests: the fake PostgREST (`tests.fakes.postgrest`) on the real
PostgreSQL, one per test process, and stores in fresh schemas migrated by our migrations.

Where no PostgreSQL runs, the tests that need it skip with the reason (and fail in CI, see
tests/conftest.py).
"""

from __future__ import annotations

import atexit
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

from oracle_monitor.store.postgres.migrate import migrate
from tests.fakes.postgrest import FakePostgREST
from tests.integration.postgres import SERVER_URL, admin_connection, drop_schema, fresh_schema_name


def _jwt(role: str) -> str:
    """A key shaped like a Supabase legacy API key (a JWT naming its role; unsigned here)."""

    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'role': role, 'iss': 'supabase'})}.c2ln"


SERVICE_KEY = _jwt("service_role")
ANON_KEY = _jwt("anon")
#: db-max-rows of the shared fake: small, so that every list read crosses pages.
MAX_ROWS = 7

_fake: FakePostgREST | None = None
_lock = threading.Lock()


def fake_postgrest() -> FakePostgREST:
    """The process's fake PostgREST (started on first use), exposing the test schemas."""
    global _fake
    with _lock:
        if _fake is None:
            fake = FakePostgREST(
                SERVER_URL,
                {SERVICE_KEY, ANON_KEY},
                schemas=lambda name: name == "public" or name.startswith("oracle_test_"),
                max_rows=MAX_ROWS,
            )
            fake.start()
            atexit.register(fake.stop)
            _fake = fake
        return _fake


def migrated_schema() -> Iterator[str]:
    """Yield a fresh schema with every migration applied, then drop it; skips without
    PostgreSQL."""
    admin_connection().close()  # skip early when there is no server
    name = fresh_schema_name()
    try:
        with admin_connection() as conn:
            migrate(conn, schema=name)
        yield name
    finally:
        drop_schema(name)


def store_url(
    api_url: str, schema: str, spans: Path, key: str = SERVICE_KEY, **options: str
) -> str:
    """The ``supabase+http://`` store URL of ``schema`` behind the fake at ``api_url``."""
    host = api_url.removeprefix("http://")
    query = urlencode({"spans": f"sqlite:///{spans}", "schema": schema, **options})
    return f"supabase+http://:{quote(key, safe='')}@{host}?{query}"


def fresh_supabase_store_url(tmp_path: Path) -> Iterator[str]:
    """Yield the URL of an empty Supabase store (a migrated schema behind the fake)."""
    for schema in migrated_schema():
        yield store_url(fake_postgrest().url, schema, tmp_path / "store" / "spans.db")
