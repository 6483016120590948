"""The real PostgreSQL for tests: a fresh schema per store, dropped afterwards.

The server is ``ORACLE_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
Each store gets its own schema, so tests running at the same time (other sessions, xdist)
never see each other's tables. Where no PostgreSQL runs, the tests that need one skip with
the reason (and fail in CI, see tests/conftest.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

SERVER_URL = os.environ.get("ORACLE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the test database; skips when there is no server."""
    try:
        return psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {SERVER_URL}: {error}")


def drop_schema(name: str) -> None:
    """Drop the schema and everything in it."""
    with admin_connection() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def schema_url(name: str, **options: str) -> str:
    """The store URL of schema ``name`` on the test server."""
    extra = "".join(f"&{key}={value}" for key, value in options.items())
    return f"{SERVER_URL}?schema={name}{extra}"


def fresh_schema_name() -> str:
    """A schema name no other test uses."""
    return f"oracle_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"


def fresh_store_url(**options: str) -> Iterator[str]:
    """Yield the URL of a store in a new schema (created by the store), then drop it."""
    admin_connection().close()  # skip early when there is no server
    name = fresh_schema_name()
    try:
        yield schema_url(name, **options)
    finally:
        drop_schema(name)
