"""Versioned schema migrations of the PostgreSQL store, shipped as SQL files in the package.

Each file of ``migrations/`` is named ``<version>_<name>.sql`` (the version a UTC timestamp,
as the Supabase CLI expects, so the same files are exported to ``deploy/supabase/migrations``
for ``supabase db push``) and ends by recording its version in ``oracle_schema_migrations``,
so a database migrated either way is known to both. Add a version by adding a file; never
edit one that has shipped.

`migrate` applies the missing versions in order, all in one transaction, under an advisory
lock so that several processes starting at once apply each version once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "migrate", "pending"]

#: pg_advisory_xact_lock key of migrations ("oracle-m" as a big-endian int64).
_LOCK_KEY = 0x6F7261636C652D6D


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: its number, name and SQL text."""

    version: int
    name: str
    sql: str

    @property
    def filename(self) -> str:
        """``<version>_<name>.sql``."""
        return f"{self.version}_{self.name}.sql"


def _load() -> tuple[Migration, ...]:
    folder = resources.files("oracle_monitor.store.postgres") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(version), name, entry.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda migration: migration.version))


#: Every shipped migration, oldest first.
MIGRATIONS: tuple[Migration, ...] = _load()


def applied_versions(conn: psycopg.Connection[Any]) -> set[int]:
    """Versions recorded in the current schema; empty when it has never been migrated."""
    table = conn.execute("SELECT to_regclass('oracle_schema_migrations')").fetchone()
    if table is None or table[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM oracle_schema_migrations")}


def pending(conn: psycopg.Connection[Any]) -> list[Migration]:
    """The shipped migrations not yet applied, oldest first."""
    done = applied_versions(conn)
    return [m for m in MIGRATIONS if m.version not in done]


def migrate(
    conn: psycopg.Connection[Any], *, schema: str | None = None, target: int | None = None
) -> list[Migration]:
    """Apply the missing migrations up to ``target`` (all by default); returns those applied.

    ``schema``: created when missing and put first on the search path for the transaction.
    Raises RuntimeError when the database holds a version this package does not know
    (a newer Oracle Monitor migrated it).
    """
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if schema is not None:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute("SELECT set_config('search_path', %s, true)", (f'"{schema}", public',))
        done = applied_versions(conn)
        unknown = done - {m.version for m in MIGRATIONS}
        if unknown:
            raise RuntimeError(
                f"the database has schema version {max(unknown)}, newer than this Oracle Monitor"
            )
        for migration in MIGRATIONS:
            if migration.version in done or (target is not None and migration.version > target):
                continue
            conn.execute(migration.sql.encode())
            applied.append(migration)
    return applied
