"""`oracle-monitor migrate`: bring a store's schema up to date without serving."""

from __future__ import annotations

from oracle_monitor.store import open_store

__all__ = ["migrate_store"]


def migrate_store(url: str) -> list[str]:
    """Apply the missing migrations of the store at ``url``; returns their names.

    A PostgreSQL store lists the files applied; the embedded SQLite file migrates itself
    when opened, so for it the list is empty.
    """
    if url.partition("://")[0].lower() in ("postgresql", "postgres"):
        import psycopg

        from oracle_monitor.store.postgres import StoreURL
        from oracle_monitor.store.postgres.migrate import migrate

        parsed = StoreURL.parse(url)
        try:
            with parsed.connect() as conn:
                return [m.filename for m in migrate(conn, schema=parsed.schema)]
        except psycopg.Error as error:
            raise RuntimeError(f"migrating the store failed: {error}") from error
    open_store(url).close()
    return []
