"""Span storage: the `Store` contract and `open_store`, which picks a backend by URL scheme.

Supported URLs:

* ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (three slashes, then the
  path; a fourth slash makes it absolute), optionally with ``?synchronous=FULL`` (see
  `oracle_monitor.store.sqlite`).
* ``postgresql://user@host:5432/db?schema=oracle&tenant=acme`` (or ``postgres://``): PostgreSQL
  or Supabase, see `oracle_monitor.store.postgres` for the options.
* ``supabase://:KEY@project.supabase.co?spans=sqlite:///…`` (``supabase+http://`` for plain
  HTTP): a Supabase project through its API (PostgREST) alone, spans in the SQLite file; see
  `oracle_monitor.store.postgrest`. `Settings` builds it from ``SUPABASE_URL`` and a key.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from oracle_monitor.store.base import (
    AgentActivity,
    AgentActivityReader,
    AgentSecond,
    AgentSecondsFeed,
    AgentSecondsRead,
    AgentSpanReader,
    AlertQuery,
    AlertReader,
    AlertWriter,
    CostGroup,
    CostGrouping,
    EventQuery,
    EventReader,
    EventWriter,
    LLMProblem,
    Operation,
    Retention,
    SecondsCursor,
    ServiceDependency,
    SnapshotReader,
    SnapshotWriter,
    SpanReader,
    SpanWriter,
    Store,
    StoreOpenError,
    TraceQuery,
    TraceSummary,
)

__all__ = [
    "AgentActivity",
    "AgentActivityReader",
    "AgentSecond",
    "AgentSecondsFeed",
    "AgentSecondsRead",
    "AgentSpanReader",
    "AlertQuery",
    "AlertReader",
    "AlertWriter",
    "CostGroup",
    "CostGrouping",
    "EventQuery",
    "EventReader",
    "EventWriter",
    "LLMProblem",
    "Operation",
    "Retention",
    "SecondsCursor",
    "ServiceDependency",
    "SnapshotReader",
    "SnapshotWriter",
    "SpanReader",
    "SpanWriter",
    "Store",
    "StoreOpenError",
    "TraceQuery",
    "TraceSummary",
    "open_store",
]


def _open_sqlite(location: str, options: dict[str, str]) -> Store:
    from oracle_monitor.store.sqlite import SQLiteStore

    if not location.startswith("/") or location in ("/", "/:memory:"):
        raise ValueError("a sqlite URL needs a file path: sqlite:///relative.db, sqlite:////abs.db")
    unknown = set(options) - {"synchronous"}
    if unknown:
        raise ValueError(f"unknown sqlite URL options: {', '.join(sorted(unknown))}")
    return SQLiteStore(location[1:], synchronous=options.get("synchronous", "NORMAL"))


def _open_postgresql(url: str, migrate: bool) -> Store:
    from oracle_monitor.store.postgres import PostgresStore

    return PostgresStore(url, migrate=migrate)


def _open_supabase(url: str, migrate: bool) -> Store:
    from oracle_monitor.store.postgrest import SupabaseStore

    return SupabaseStore(url, open_spans=open_store, migrate=migrate)


#: URL scheme -> function(everything after "scheme://" up to "?", query options) -> Store.
_BACKENDS: dict[str, Callable[[str, dict[str, str]], Store]] = {"sqlite": _open_sqlite}
#: URL schemes of servers -> function(whole URL, migrate) -> Store.
_SERVERS: dict[str, Callable[[str, bool], Store]] = {
    "postgresql": _open_postgresql,
    "postgres": _open_postgresql,
    "supabase": _open_supabase,
    "supabase+http": _open_supabase,
    "supabase+https": _open_supabase,
}


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the store at ``url``; the scheme chooses the backend.

    ``migrate``: bring a server's schema up to date first (the embedded SQLite file always
    is); when false, a PostgreSQL schema that is behind is an error.
    Raises ValueError for a malformed URL or an unknown scheme (naming the supported ones).
    """
    server = _SERVERS.get(url.partition("://")[0].lower()) if "://" in url else None
    if server is not None:
        return server(url, migrate)
    scheme, separator, rest = url.partition("://")
    opener = _BACKENDS.get(scheme.lower()) if separator else None
    if opener is None:
        supported = ", ".join(f"{name}://" for name in sorted({*_BACKENDS, *_SERVERS}))
        raise ValueError(f"unsupported store URL {url!r}; supported schemes: {supported}")
    location, _, query = rest.partition("?")
    return opener(location, dict(parse_qsl(query, strict_parsing=bool(query))))
